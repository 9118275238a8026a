"""Profiles and limits per group and user: resolution, validation, the form, bad config."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import tomllib
from traitlets.config import Config

from jobwrapper.hub.form import (
    FormError,
    ResourceForm,
    apply_user_options,
    options_form,
    options_to_submit_lines,
    render_form,
    resolved_form,
)
from jobwrapper.hub.site import profiles
from jobwrapper.hub.site.tomlfile import TomlError
from jobwrapper.hub.spawner import JobwrapperSpawner

FILE = """\
[[profile]]
name = "small"
label = "Small: 1 core, 2 GB, 4 h"
cpus = 1
memory_mb = 2048
runtime_hours = 4

[[profile]]
name = "gpu"
label = "GPU"
cpus = 4
gpus = 1
groups = ["gpu"]

[group.students]
max_cpus = 2
memory_choices_mb = [1024, 2048]
max_runtime_hours = 4
default_runtime_hours = 2
environments = {stable = "stable"}

[group.gpu]
max_cpus = 8
max_gpus = 1
memory_choices_mb = [2048, 16384]

[user.ann]
max_runtime_hours = 24
"""


def policy(text: str = FILE, path: str = "/etc/jupyterhub/profiles.toml") -> profiles.Policy:
    return profiles.parse_file(path, tomllib.loads(text), text)


def base() -> ResourceForm:
    return ResourceForm(max_cpus=4, max_gpus=0, memory_choices_mb=[2048, 4096, 8192])


def test_no_groups_keeps_the_site_wide_form():
    form, presets = resolved_form(base(), profiles.Policy(), [], "bob")
    assert form.max_cpus == 4 and form.cpu_options() == [1, 2, 3, 4]
    assert presets == ()
    assert profiles.combined_limits(policy(), ["other"], "bob") == {}


def test_a_groups_limits_replace_the_site_wide_ones():
    form, presets = resolved_form(base(), policy(), ["students"], "bob")
    assert form.cpu_options() == [1, 2]
    assert form.memory_choices_mb == [1024, 2048]
    assert form.max_runtime_hours == 4 and form.defaults()["runtime_hours"] == 2
    assert list(form.environments) == ["stable"]
    assert [p.name for p in presets] == ["small"]  # gpu: not a member


def test_several_groups_give_the_largest_maxima_and_every_choice():
    limits = profiles.combined_limits(policy(), ["gpu", "students"], "bob")
    assert limits["max_cpus"] == 8
    assert limits["memory_choices_mb"] == [1024, 2048, 16384]  # config order: students first
    assert limits["max_gpus"] == 1
    _, presets = resolved_form(base(), policy(), ["gpu", "students"], "bob")
    assert [p.name for p in presets] == ["small", "gpu"]


def test_the_users_own_entry_wins():
    form, _ = resolved_form(base(), policy(), ["students"], "ann")
    assert form.max_runtime_hours == 24 and form.max_cpus == 2


def test_a_preset_outside_the_users_limits_is_not_offered():
    tight = policy(FILE.replace("[user.ann]\nmax_runtime_hours = 24",
                                "[user.ann]\nmax_runtime_hours = 3"))
    _, presets = resolved_form(base(), tight, ["students"], "ann")
    assert presets == ()  # small asks for 4 h


def spawner(groups: list[str], name: str = "bob", **settings: object) -> JobwrapperSpawner:
    config = Config()
    config.JobwrapperSpawner.resource_form = True
    config.ResourceForm.max_cpus = 4
    config.ResourceForm.max_gpus = 0
    for key, value in settings.items():
        config.ResourceForm[key] = value
    user = SimpleNamespace(name=name, groups=[SimpleNamespace(name=g) for g in groups])
    return JobwrapperSpawner(config=config, user=user)


LIMITS = {"students": {"max_cpus": 2, "max_runtime_hours": 4}}


def test_the_server_enforces_the_groups_limits_on_every_path():
    student = spawner(["students"], group_limits=LIMITS)
    with pytest.raises(FormError, match=r"CPUs: '4' is not offered; choose one of 1, 2\."):
        student.options_from_form({"cpus": ["4"]}, student)
    with pytest.raises(FormError, match="outside the allowed range 1-4"):
        apply_user_options(student, {"runtime_hours": 6})
    with pytest.raises(FormError):
        options_to_submit_lines({"cpus": 3}, student)
    other = spawner(["staff"], group_limits=LIMITS)
    assert "request_cpus = 4" in options_to_submit_lines({"cpus": 4}, other)


def test_the_form_offers_presets_that_fill_fields_escaped():
    student = spawner(["students"], group_limits=LIMITS, profiles=[
        {"name": "small", "label": "<b>Small</b>: 1 core", "cpus": 1, "runtime_hours": 2},
        {"name": "big", "label": "Big", "cpus": 4},
    ])
    html = options_form(student)
    assert '<select class="form-select" id="jw-profile">' in html
    assert "&lt;b&gt;Small&lt;/b&gt;: 1 core" in html and "<b>Small" not in html
    assert """data-values='{"cpus": 1, "runtime_hours": 2}'""" in html
    assert 'value="big"' not in html  # 4 cores: not within the students' 2
    assert 'CPUs (max: 2)' in html
    assert '<option value="3"' not in html


def test_the_remembered_choice_preselects_its_preset():
    small = profiles.Profile("small", "Small", {"cpus": 1, "runtime_hours": 2})
    html = render_form(base(), {"cpus": 1, "runtime_hours": 2}, presets=(small,))
    assert '<option value="small" data-values' in html
    assert re.search(r'<option value="small"[^>]*selected>', html)
    other = render_form(base(), {"cpus": 2}, presets=(small,))
    assert '<option value="" selected>Custom</option>' in other


@pytest.mark.parametrize("change, key, line, says", [
    (("max_cpus = 2", 'max_cpus = "two"'), "group.students.max_cpus", 16, "whole number"),
    (('environments = {stable = "stable"}', 'environments = {"st able" = "x"}'),
     "group.students.environments", 20, "safe name"),
    (("gpus = 1", "gpus = -1"), "profile[1].gpus", 12, ">= 0"),
    (('name = "gpu"', 'name = "small"'), "profile[1].name", 9, "used twice"),
    (("max_gpus = 1", "max_gpu = 1"), "group.gpu.max_gpu", 24, "unknown"),
    (("[user.ann]\nmax_runtime_hours = 24", "[user.ann]\nmax_runtime_hours = 0"),
     "user.ann.max_runtime_hours", 28, ">= 1"),
])
def test_a_bad_value_in_the_file_is_one_line_naming_file_key_and_line(change, key, line, says):
    assert change[0] in FILE
    with pytest.raises(TomlError) as caught:
        policy(FILE.replace(*change))
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"/etc/jupyterhub/profiles.toml, line {line}, key {key}: ")
    assert says in message


def test_a_bad_trait_value_names_the_trait_and_key():
    with pytest.raises(ValueError) as caught:
        profiles.policy_for(ResourceForm(group_limits={"students": {"max_cpus": 0}}))
    assert str(caught.value) == ("c.ResourceForm.group_limits['students']['max_cpus']: "
                                 "must be a whole number >= 1, not 0")


def write(path: Path, text: str) -> None:
    path.write_text(text)
    stamp = path.stat().st_mtime_ns + 1_000_000_000
    os.utime(path, ns=(stamp, stamp))


def test_the_file_is_read_again_and_a_bad_one_refuses_spawns(tmp_path, caplog):
    path = tmp_path / "profiles.toml"
    write(path, FILE)
    student = spawner(["students"], profiles_file=str(path))
    assert "CPUs (max: 2)" in options_form(student)
    write(path, FILE.replace("max_cpus = 2", "max_cpus = 3"))
    assert "CPUs (max: 3)" in options_form(student)
    write(path, FILE.replace("max_cpus = 2", "max_cpus = true"))
    with caplog.at_level(logging.ERROR, logger="JupyterHub"), \
            pytest.raises(FormError, match="tell the hub's administrators"):
        apply_user_options(student, {"cpus": 1})
    assert caplog.records[-1].getMessage() == (
        f"Notebook options refused: {path}, line 16, key group.students.max_cpus: "
        "must be a whole number >= 1, not True")
