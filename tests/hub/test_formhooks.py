"""One switch, JobwrapperSpawner.resource_form, turns the options form on (docs/form.md)."""

from __future__ import annotations

import pytest
from traitlets.config import Config

from jobwrapper.hub import form
from jobwrapper.hub.spawner import JobwrapperSpawner
from jobwrapper.hub.submit import default_submit_lines


def spawner(**settings: object) -> JobwrapperSpawner:
    config = Config()
    for name, value in settings.items():
        section, _, key = name.partition("__")
        config[section][key] = value
    return JobwrapperSpawner(config=config)


def test_without_the_switch_there_is_no_form_and_rest_options_use_the_plain_mapping():
    plain = spawner()
    assert plain.options_form == ""
    assert plain.apply_user_options is None
    assert plain.options_to_submit_lines is default_submit_lines


def test_the_switch_installs_the_forms_hooks():
    with_form = spawner(JobwrapperSpawner__resource_form=True)
    assert with_form.options_form is form.options_form
    assert with_form.options_from_form is form.options_from_form
    assert with_form.apply_user_options is form.apply_user_options


def test_submit_lines_follow_the_spawners_resource_form_config():
    with_form = spawner(JobwrapperSpawner__resource_form=True, ResourceForm__max_cpus=8,
                        ResourceForm__runtime_grace_seconds=60)
    lines = with_form.options_to_submit_lines({"cpus": "8", "runtime_hours": "2"})
    assert "request_cpus = 8" in lines
    assert "+MaxRuntime = 7200" in lines
    assert any(line.endswith("(MaxRuntime + 60))") for line in lines)


def test_submit_lines_refuse_what_the_form_does_not_offer():
    with_form = spawner(JobwrapperSpawner__resource_form=True, ResourceForm__max_cpus=2)
    with pytest.raises(form.FormError):
        with_form.options_to_submit_lines({"cpus": "3"})


def test_a_sites_own_hook_is_kept():
    def site_lines(user_options: dict) -> list[str]:
        return ["request_cpus = 1"]

    custom = spawner(JobwrapperSpawner__resource_form=True,
                     JobwrapperSpawner__options_to_submit_lines=site_lines)
    assert custom.options_to_submit_lines is site_lines


def test_user_options_still_default_to_an_empty_dict():
    # traitlets reads a method named _<trait>_default as that trait's default: the
    # form's hook defaults must not shadow Spawner.user_options.
    assert spawner(JobwrapperSpawner__resource_form=True).user_options == {}
