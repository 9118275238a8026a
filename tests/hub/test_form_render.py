"""The options form's HTML: fields, limits from the config, remembered choices."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from traitlets.config import Config, LoggingConfigurable

from jobwrapper.hub.form import ResourceForm, options_form, render_form


def selected(html: str, name: str) -> str:
    """The value of the selected option (or the input's value) of field ``name``."""
    select = re.search(rf'<select[^>]*name="{name}".*?</select>', html, re.S)
    if select:
        found = re.findall(r'<option value="([^"]*)" selected>', select.group())
        assert len(found) == 1, found
        return found[0]
    field = re.search(rf'<input[^>]*name="{name}"[^>]*>', html, re.S)
    assert field, name
    return re.search(r'value="([^"]*)"', field.group()).group(1)


@pytest.fixture
def form() -> ResourceForm:
    return ResourceForm(container_os_choices={"Debian12": "Debian 12", "Rocky9": "Rocky 9"})


def test_form_has_every_field(form):
    html = render_form(form)
    for name in ("cpus", "memory_mb", "runtime_hours", "gpus", "cephfs_io", "container_os",
                 "environment"):
        assert f'name="{name}"' in html


def test_first_spawn_shows_the_defaults(form):
    html = render_form(form)
    assert [selected(html, n) for n in ("cpus", "memory_mb", "runtime_hours", "gpus",
                                        "cephfs_io", "container_os", "environment")] == [
        "1", "4096", "6", "0", "low", "Debian12", "stable"]


def test_last_choices_are_prefilled(form):
    last = {"cpus": 4, "memory_mb": 8192, "runtime_hours": 3, "gpus": 1,
            "cephfs_io": "high", "container_os": "Rocky9", "environment": "testing"}
    html = render_form(form, last)
    assert {n: selected(html, n) for n in last} == {n: str(v) for n, v in last.items()}


def test_last_choice_no_longer_offered_falls_back_to_the_default(form):
    html = render_form(form, {"container_os": "CentOS7", "cpus": 64, "bogus": 1})
    assert selected(html, "container_os") == "Debian12"
    assert selected(html, "cpus") == "1"


def test_maxima_come_from_the_config():
    html = render_form(ResourceForm(max_cpus=2, max_runtime_hours=48, max_gpus=2))
    assert "CPUs (max: 2)" in html
    assert '<option value="3"' not in html
    assert 'max="48"' in html
    assert "GPUs (max: 2)" in html


def test_no_gpu_choice_when_the_site_has_none():
    html = render_form(ResourceForm(max_gpus=0))
    assert "GPUs (max" not in html
    assert '<input type="hidden" name="gpus" value="0">' in html


def test_labels_are_escaped():
    html = render_form(ResourceForm(container_os_choices={"Rocky9": "<b>Rocky</b>"}))
    assert "&lt;b&gt;Rocky&lt;/b&gt;" in html
    assert "<b>" not in html


def test_cephfs_help_link_is_shown_when_configured():
    html = render_form(ResourceForm(cephfs_io_help_url="https://docs.example.org/cephfs"))
    assert 'href="https://docs.example.org/cephfs"' in html


def test_options_form_hook_prefills_from_the_stored_user_options():
    spawner = LoggingConfigurable(config=Config({"ResourceForm": {"max_cpus": 16}}))
    spawner.orm_spawner = SimpleNamespace(user_options={"cpus": 12})
    html = options_form(spawner)
    assert selected(html, "cpus") == "12"
    assert "CPUs (max: 16)" in html
