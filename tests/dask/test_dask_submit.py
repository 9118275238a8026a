"""The worker job's submit description, compared whole with tests/dask/expected/."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from jobwrapper.config import parse_config
from jobwrapper.dask.submit import (
    TlsFiles,
    WorkerJob,
    quote_arguments,
    submit_description,
    worker_argv,
)
from jobwrapper.errors import ConfigError

EXPECTED = Path(__file__).with_name("expected")
CLUSTER_DIR = "/scratch/.jobwrapper/dask/dask-0123abcd"
WORKER = WorkerJob(
    scheduler="tls://10.1.2.3:40123", name="dask-0123abcd-2", cluster_name="dask-0123abcd",
    jobwrapper="/usr/bin/jobwrapper", python="python3", cores=2, memory_mb=4096,
    disk_mb=2048, death_timeout=60, log_dir=CLUSTER_DIR, container_os="Rocky9",
    environment="stable", parent_job="12.0", interface="eth0",
    tls=TlsFiles(f"{CLUSTER_DIR}/ca.pem", f"{CLUSTER_DIR}/worker.pem",
                 f"{CLUSTER_DIR}/worker.key"),
    submit_extra={"+AccountingGroup": '"group_physics.alice"'},
)


def test_the_whole_description_of_a_worker_job():
    assert submit_description(WORKER) == (EXPECTED / "worker.sub").read_text()


def test_without_tls_container_or_parent_those_lines_are_left_out():
    plain = dataclasses.replace(WORKER, tls=None, container_os=None, parent_job=None,
                                interface="", submit_extra={})
    text = submit_description(plain)
    for absent in ("transfer_input_files", "--tls", "+ContainerOS", "+JobwrapperDaskParent",
                   "--interface", "AccountingGroup"):
        assert absent not in text
    assert "+JupyterEnvironment = \"stable\"" in text


def test_the_site_attribute_names_are_used():
    renamed = dataclasses.replace(WORKER, container_attribute="SingularityImageOS",
                                  environment_attribute="SoftwareStack")
    text = submit_description(renamed)
    assert '+SingularityImageOS = "Rocky9"' in text and '+SoftwareStack = "stable"' in text


def test_the_worker_runs_under_jobwrapper_run_and_ends_without_its_scheduler():
    argv = worker_argv(WORKER)
    assert argv[:4] == ["python3", "-m", "distributed.cli.dask_worker", WORKER.scheduler]
    assert argv[argv.index("--death-timeout") + 1] == "60"
    assert 'arguments = "run -- python3 ' in submit_description(WORKER)


def test_the_tls_files_are_named_relative_to_the_scratch_dir_never_their_contents():
    argv = worker_argv(WORKER)
    assert argv[argv.index("--tls-key") + 1] == "worker.key"
    assert "BEGIN" not in submit_description(WORKER)


@pytest.mark.parametrize(("words", "quoted"), [
    (["a", "b c"], "\"a 'b c'\""),
    (["it's"], "\"'it''s'\""),
    (['say "hi"'], "\"'say \"\"hi\"\"'\""),
    ([""], "\"''\""),
])
def test_arguments_use_htcondors_new_syntax(words, quoted):
    assert quote_arguments(words) == quoted


def test_a_newline_cannot_reach_the_description():
    with pytest.raises(ValueError, match="cannot go into a submit description"):
        submit_description(dataclasses.replace(WORKER, log_dir="/x\nqueue 100"))


@pytest.mark.parametrize(("text", "message"), [
    ("[dask]\ncores = 0\n", "site.toml:2: dask.cores: must be at least 1"),
    ("[dask]\nmemory_mb = \"2G\"\n", "site.toml:2: dask.memory_mb: must be an integer"),
    ("[dask]\ncondor_bin = \"bin\"\n",
     "site.toml:2: dask.condor_bin: must be an absolute path (or empty)"),
    ("[dask]\ncontainer_os = \"EL 9\"\n",
     "site.toml:2: dask.container_os: names may use letters, digits and . _ + - only"),
    ("[dask.submit_extra]\n\"queue 5\" = \"\"\n",
     "site.toml:1: dask.submit_extra: 'queue 5': a submit command name and a one-line value"),
    ("[dask.submit_extra]\nrequest_gpus = \"1\\nqueue 9\"\n",
     "site.toml:1: dask.submit_extra: 'request_gpus': a submit command name and a one-line "
     "value"),
])
def test_a_bad_dask_setting_is_one_line_naming_the_key(text, message):
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "site.toml")
    assert str(caught.value) == message


def test_the_defaults():
    dask = parse_config("", "site.toml").dask
    assert (dask.cores, dask.memory_mb, dask.death_timeout, dask.tls) == (1, 2048, 60, True)
    assert (dask.container_os, dask.environment) == ("", "")  # the notebook job's own
