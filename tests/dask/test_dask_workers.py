"""The worker jobs a notebook job submitted: its container and environment go to them,
and the server's end removes the ones no cluster removed."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from fake_condor import fake_tool

from jobwrapper.config import parse_config
from jobwrapper.dask import workers
from jobwrapper.dask.jobqueue import dashboard_link, worker_template, write_tls_files

NOTEBOOK_AD = Path(__file__).resolve().parents[1] / "jobads" / "notebook" / "job.ad"


def test_workers_get_the_notebook_jobs_container_and_environment(tmp_path):
    config = parse_config('[dask]\njobwrapper = "/usr/bin/jobwrapper"\n', "site.toml")
    template = worker_template(config, config.dask, "dask-1", tmp_path, None,
                               {"_CONDOR_JOB_AD": str(NOTEBOOK_AD)})
    assert (template.container_os, template.environment) == ("Rocky9", "stable")
    assert template.parent_job == "18.0"
    assert (template.cores, template.memory_mb, template.death_timeout) == (1, 2048, 60)


def test_the_sites_dask_container_and_environment_win(tmp_path):
    config = parse_config('[dask]\njobwrapper = "/j"\ncontainer_os = "Alma10"\n'
                          'environment = "testing"\n', "site.toml")
    template = worker_template(config, config.dask, "dask-1", tmp_path, None,
                               {"_CONDOR_JOB_AD": str(NOTEBOOK_AD)})
    assert (template.container_os, template.environment) == ("Alma10", "testing")


def test_outside_a_job_no_parent_and_the_default_environment(tmp_path):
    config = parse_config('[dask]\njobwrapper = "/j"\n', "site.toml")
    template = worker_template(config, config.dask, "dask-1", tmp_path, None, {})
    assert template.parent_job is None and template.container_os is None
    assert template.environment == "stable"


def test_tls_files_are_private_to_the_user(tmp_path):
    from distributed.security import Security

    files = write_tls_files(Security.temporary(), tmp_path)
    for path in files.paths():
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert "PRIVATE KEY" in Path(files.key).read_text()


def test_the_dashboard_link_goes_through_the_servers_proxy():
    assert dashboard_link({"JUPYTERHUB_SERVICE_PREFIX": "/user/alice/"}) == \
        "/user/alice/proxy/{port}/status"
    assert dashboard_link({}) == "/proxy/{port}/status"


@pytest.mark.processes  # starts a scheduler
def test_more_workers_than_the_site_allows_is_one_line(tmp_path, monkeypatch):
    from jobwrapper.dask import cluster

    monkeypatch.setenv("JOBWRAPPER_PRIVATE_DIR", str(tmp_path))
    fake_tool(tmp_path / "bin", "condor_q")
    config = parse_config(f'[dask]\njobwrapper = "/j"\nmax_workers = 2\n'
                          f'condor_bin = "{tmp_path}/bin"\n', "site.toml")
    with pytest.raises(ValueError, match=r"^3 workers asked for; the site allows 2 \(dask"):
        cluster(3, config=config)
    workers_of_two = cluster(0, config=config)
    try:
        with pytest.raises(ValueError, match=r"^5 workers asked for; the site allows 2 \(dask"):
            workers_of_two.scale(5)
    finally:
        workers_of_two.close()


@pytest.mark.processes  # starts a scheduler
def test_tls_is_the_default_and_can_be_turned_off(tmp_path, monkeypatch):
    from jobwrapper.dask import cluster

    monkeypatch.setenv("JOBWRAPPER_PRIVATE_DIR", str(tmp_path))
    fake_tool(tmp_path / "bin", "condor_q")
    for tls, scheme in ((True, "tls://"), (False, "tcp://")):
        config = parse_config(f'[dask]\njobwrapper = "/j"\ntls = {str(tls).lower()}\n'
                              f'condor_bin = "{tmp_path}/bin"\n', "site.toml")
        workers_ = cluster(0, config=config)
        try:
            assert workers_.scheduler_address.startswith(scheme)
            assert ("--tls-key worker.key" in workers_.job_script()) is tls
            keys = list(tmp_path.glob("dask/dask-*/worker.key"))
            assert len(keys) == int(tls)
        finally:
            workers_.close()
        assert not any(key.exists() for key in keys)  # closed: no worker will need it


def test_a_job_that_cannot_reach_the_schedd_is_one_line_before_any_scheduler(tmp_path):
    from jobwrapper.dask import cluster

    fake_tool(tmp_path, "condor_q", exit_code=1, stderr=(
        "\n-- Failed to fetch ads from: <127.0.0.1:9618?alias=vm> : vm\n"
        "AUTHENTICATE:1003:Failed to authenticate with any method\n"
        "AUTHENTICATE:1004:Failed to authenticate using FS\n"))
    config = parse_config(f'[dask]\njobwrapper = "/j"\ncondor_bin = "{tmp_path}"\n',
                          "site.toml")
    with pytest.raises(RuntimeError) as caught:
        cluster(3, config=config)
    assert str(caught.value) == (
        f"this job cannot use HTCondor's schedd ({tmp_path}/condor_q: AUTHENTICATE:1004:"
        "Failed to authenticate using FS); see docs/dask.md, 'What the site must provide'")


def test_missing_condor_tools_are_one_line(tmp_path):
    from jobwrapper.dask import cluster

    config = parse_config(f'[dask]\njobwrapper = "/j"\ncondor_bin = "{tmp_path}"\n',
                          "site.toml")
    with pytest.raises(RuntimeError, match=r"condor_q: No such file or directory; HTCondor's "
                       r"tools are needed in the notebook job \(dask.condor_bin"):
        cluster(1, config=config)


def test_the_registry_lists_jobs_submitted_and_not_removed(tmp_path):
    workers.record_submitted(tmp_path, "12.0", "dask-a")
    workers.record_submitted(tmp_path, "13.0", "dask-a")
    workers.record_submitted(tmp_path, "14.0", "dask-b")
    workers.record_removed(tmp_path, "13.0")
    assert workers.open_jobs(tmp_path) == ["12.0", "14.0"]
    assert stat.S_IMODE(os.stat(tmp_path / "workers").st_mode) == 0o600


def test_the_state_dir_is_in_the_private_dir_and_0700(tmp_path):
    path = workers.state_dir({"JOBWRAPPER_PRIVATE_DIR": str(tmp_path)})
    assert path == tmp_path / "dask" and stat.S_IMODE(path.stat().st_mode) == 0o700


def test_the_servers_end_removes_every_worker_left_in_one_condor_rm(tmp_path):
    fake_tool(tmp_path, "condor_rm", exit_code=1,  # as HTCondor's when all were gone
              stderr="\nJob 13.0 not found\nJob 14.0 not found\n")
    env = {"JOBWRAPPER_PRIVATE_DIR": str(tmp_path / "private")}
    state = workers.state_dir(env)
    for job_id in ("12.0", "13.0", "14.0"):
        workers.record_submitted(state, job_id, "dask-a")
    workers.record_removed(state, "12.0")
    line = workers.remove_left_workers(str(tmp_path), env)
    assert line == "removed the Dask worker jobs left: 13.0 14.0"
    assert (tmp_path / "condor_rm.calls").read_text() == "13.0 14.0\n"
    assert workers.open_jobs(state) == []
    assert workers.remove_left_workers(str(tmp_path), env) == "no Dask worker jobs left"


def test_outside_a_jobwrapper_job_nothing_is_removed(tmp_path):
    assert workers.remove_left_workers(str(tmp_path), {}) == \
        "no Dask workers: not in a jobwrapper job"


def test_a_condor_rm_that_cannot_authenticate_says_why_and_keeps_the_jobs(tmp_path):
    fake_tool(tmp_path, "condor_rm", exit_code=1, stderr=(
        "AUTHENTICATE:1003:Failed to authenticate with any method\n"
        "AUTHENTICATE:1004:Failed to authenticate using FS\nNo result found for job 12.0\n"))
    env = {"JOBWRAPPER_PRIVATE_DIR": str(tmp_path / "private")}
    workers.record_submitted(workers.state_dir(env), "12.0", "dask-a")
    assert workers.remove_left_workers(str(tmp_path), env) == (
        "could not remove the Dask worker jobs 12.0: "
        "AUTHENTICATE:1003:Failed to authenticate with any method")
    assert workers.open_jobs(workers.state_dir(env)) == ["12.0"]


def test_a_missing_condor_rm_is_one_line(tmp_path):
    env = {"JOBWRAPPER_PRIVATE_DIR": str(tmp_path)}
    workers.record_submitted(workers.state_dir(env), "12.0", "dask-a")
    line = workers.remove_left_workers(str(tmp_path / "nowhere"), env)
    assert line.startswith("could not remove the Dask worker jobs 12.0: ")
    assert "\n" not in line


@pytest.mark.processes
@pytest.mark.skipif(os.getuid() != 0, reason="runs jobs as a test user (root)")
def test_on_the_local_pool_the_left_workers_leave_the_queue(tmp_path):
    from localpool.helpers import ALICE, create_pool, destroy_pool, sleeper, user_dir

    from jobwrapper.localpool.records import queued_jobs

    pool = create_pool()
    try:
        submit_dir = user_dir(pool, ALICE)
        private = submit_dir / "private"
        jobs = [pool.submit(sleeper(600), submit_dir, user=ALICE) for _ in range(2)]
        code = (f"from jobwrapper.dask import workers; s = workers.state_dir()\n"
                f"for j in {[f'{j}.0' for j in jobs]!r}: workers.record_submitted(s, j, 'd')\n"
                f"print(workers.remove_left_workers({str(pool.bin)!r}))\n")
        result = subprocess.run(
            ["runuser", "-u", ALICE, "--", "env", f"JOBWRAPPER_PRIVATE_DIR={private}",
             sys.executable, "-c", code], capture_output=True, text=True, cwd=submit_dir,
            check=False)
        assert result.stdout.strip().startswith("removed the Dask worker jobs left"), result
        from polling import wait_for

        wait_for(lambda: not queued_jobs(pool.layout), 20, "the sleepers to leave the queue")
    finally:
        destroy_pool(pool)
