"""batchspawner's req_* and template settings: honoured as site defaults or refused in
one line (jobwrapper/hub/inherited.py), and what a spawn without options asks for."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from traitlets.config import Config

from jobwrapper.hub import inherited
from jobwrapper.hub.jobcontrol import SpawnFailed
from jobwrapper.hub.spawner import rest_spawn_without_options

from .test_spawner_unit import make_spawner


def test_a_spawn_without_options_asks_for_memory_and_one_cpu():
    description = make_spawner()._submit_description({})
    assert "request_cpus = 1\nrequest_memory = 2048\n" in description


def test_req_memory_with_a_unit_becomes_request_memory_in_mb():
    spawner = make_spawner(req_memory="4 GB", req_nprocs="2")
    assert "request_cpus = 2\nrequest_memory = 4096\n" in spawner._submit_description({})


def test_req_runtime_becomes_max_runtime_and_its_periodic_remove():
    description = make_spawner(req_runtime="1:30:00")._submit_description({})
    assert "+MaxRuntime = 5400\n" in description
    assert "periodic_remove = " in description


def test_req_ngpus_becomes_request_gpus():
    assert "request_gpus = 2\n" in make_spawner(req_ngpus="2")._submit_description({})


def test_the_users_options_win_over_the_site_defaults():
    spawner = make_spawner(req_memory="8192")
    spawner.user_options = {"memory_mb": 1024}
    assert "request_memory = 1024\n" in spawner._submit_description({})


@pytest.mark.parametrize(("text", "mb"), [("2048", 2048), ("2 GB", 2048), ("2g", 2048),
                                          ("1.5GiB", 1536), ("512MB", 512), ("1t", 1048576)])
def test_memory_sizes(text, mb):
    assert inherited.memory_mb(text) == mb


@pytest.mark.parametrize("text", ["lots", "2 PB", "-1", "0", "1e3"])
def test_a_memory_that_is_not_a_size_is_one_line(text):
    with pytest.raises(inherited.InheritedSettingError, match="req_memory"):
        inherited.memory_mb(text)


@pytest.mark.parametrize(("text", "seconds"), [("6h", 21600), ("90m", 5400), ("01:30", 5400),
                                               ("1:00:30", 3630), ("1-00:00:00", 86400)])
def test_runtime_durations(text, seconds):
    assert inherited.runtime_seconds(text) == seconds


def _config(**traits) -> Config:
    config = Config()
    for name, value in traits.items():
        config.JobwrapperSpawner[name] = value
    return config


@pytest.mark.parametrize("name", sorted(inherited.REFUSED))
def test_each_setting_that_would_be_ignored_is_refused_naming_what_to_use(name):
    message = inherited.problem(_config(**{name: "x"}), False, {})
    assert message.startswith(f"c.JobwrapperSpawner.{name} (batchspawner) is not used")
    assert "use " in message and "\n" not in message


def test_a_setting_in_batchspawners_own_section_is_refused_too():
    config = Config()
    config.BatchSpawnerBase.req_queue = "short"
    assert "req_queue" in inherited.problem(config, False, {})


def test_req_memory_with_the_form_on_points_to_the_forms_default():
    message = inherited.problem(_config(req_memory="4096"), True, {"req_memory": "4096"})
    assert message.endswith("use c.ResourceForm.default_memory_mb")


def test_an_unreadable_req_memory_is_refused_when_the_spawner_is_made():
    with pytest.raises(SpawnFailed, match="req_memory = 'lots' is not a size"):
        make_spawner(config=_config(req_memory="lots"))


def test_the_hub_refuses_to_start_with_an_ignored_setting(tmp_path: Path):
    (tmp_path / "jupyterhub_config.py").write_text(
        'c.JupyterHub.spawner_class = "jobwrapper.hub.spawner.JobwrapperSpawner"\n'
        'c.JupyterHub.ip = "127.0.0.1"\nc.JupyterHub.port = 0\n'
        'c.JobwrapperSpawner.batch_script = "#!/bin/sh\\n{cmd}"\n')
    jupyterhub = str(Path(sys.executable).parent / "jupyterhub")
    result = subprocess.run([jupyterhub, "-f", "jupyterhub_config.py"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1
    critical = [line for line in result.stderr.splitlines() if line.startswith("[C ")]
    assert len(critical) == 1
    assert critical[0].endswith(
        "c.JobwrapperSpawner.batch_script (batchspawner) is not used by jobwrapper's spawner "
        "and would be ignored: use c.JobwrapperSpawner.submit_template (a file; "
        "docs/hub.md) instead")


def test_a_hub_with_stock_batchspawner_keeps_batchspawners_settings():
    from batchspawner import CondorSpawner

    from jobwrapper.hub.spawner import refuse_inherited_settings

    config = Config()
    config.CondorSpawner.req_options = "+KeepClaimIdle = 60"
    app = SimpleNamespace(config=config, spawner_class=CondorSpawner, log=logging.getLogger())
    refuse_inherited_settings(app)  # a JobwrapperSpawner hub stops here: SystemExit


def _handler(path: str, body: bytes) -> SimpleNamespace:
    return SimpleNamespace(request=SimpleNamespace(path=path, body=body))


@pytest.mark.parametrize("body", [b"", b"{}", b'{"user_options": null}',
                                  b'{"display_name": "x"}', b'{"user_options": {}}'])
def test_a_rest_spawn_without_options_gets_the_site_defaults(body):
    assert rest_spawn_without_options(_handler("/hub/api/users/a/server", body))


@pytest.mark.parametrize(("path", "body"), [
    ("/hub/api/users/a/server", b'{"cpus": 2}'),
    ("/hub/api/users/a/server", b'{"user_options": {"cpus": 2}}'),
    ("/hub/spawn/a", b""),
])
def test_a_spawn_with_options_or_from_the_form_keeps_them(path, body):
    assert not rest_spawn_without_options(_handler(path, body))
