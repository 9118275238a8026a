"""Dask from a notebook on the local pool: three worker jobs compute, and none is left
in the queue after the cluster closes or the process holding it is killed."""

from __future__ import annotations

import json
import os
import pwd
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from localpool.helpers import ALICE, RUNUSER, Pool, create_pool, destroy_pool
from polling import wait_for
from testusers import ensure_users

from jobwrapper.localpool.records import queued_jobs

HOLDER = Path(__file__).with_name("dask_holder.py")
VENV = Path(sys.executable).parent.parent
pytestmark = [pytest.mark.processes,
              pytest.mark.skipif(os.getuid() != 0, reason="runs jobs as a test user (root)")]


@pytest.fixture
def dask_pool():
    """A pool with room for three 1-core workers, and a submit dir, private dir and site
    config of the test user (the workers' environment is this venv)."""
    ensure_users(ALICE)
    account = pwd.getpwnam(ALICE)
    pool = create_pool(slot_cpus=4, slot_memory=8192)
    user_dir, private = pool.root / "alice", pool.root / "alice" / "private"
    private.mkdir(parents=True)
    for path in (user_dir, private):
        os.chown(path, account.pw_uid, account.pw_gid)
    private.chmod(0o700)
    config = pool.root / "config.toml"
    config.write_text(
        "[dask]\n"
        f'jobwrapper = "{VENV}/bin/jobwrapper"\n'
        f'condor_bin = "{pool.bin}"\n'
        "memory_mb = 1024\n"
        "death_timeout = 5\n"
        "[dask.submit_extra]\n"
        f"environment = '\"JOBWRAPPER_CONFIG={config}\"'\n"
        "[environments.stable.os.default]\n"
        f'venv = "{VENV}"\n'
    )
    config.chmod(0o644)
    env = {"HOME": account.pw_dir, "PATH": "/usr/bin:/bin", "JOBWRAPPER_CONFIG": str(config),
           "JOBWRAPPER_PRIVATE_DIR": str(private), "LANG": "C.UTF-8"}
    yield pool, user_dir, env
    destroy_pool(pool)


def start_holder(user_dir: Path, env: dict[str, str], mode: str) -> subprocess.Popen:
    return subprocess.Popen(
        [RUNUSER, "-u", ALICE, "--", "env", "-i", *(f"{k}={v}" for k, v in env.items()),
         sys.executable, str(HOLDER), mode],
        cwd=user_dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)


def first_report(holder: subprocess.Popen, user_dir: Path) -> dict:
    line = holder.stdout.readline()
    if not line:
        logs = "".join(f"\n--- {path.name}:\n{path.read_text()[-1500:]}"
                       for path in sorted(user_dir.glob("private/dask/*/worker-*.err")))
        pytest.fail(f"the holder ended: {holder.wait()} {holder.stderr.read()[-3000:]}{logs}")
    return json.loads(line)


def worker_jobs(pool: Pool) -> list[int]:
    return [job.cluster for job in queued_jobs(pool.layout)]


def test_three_workers_compute_and_no_job_is_left_after_close(dask_pool):
    pool, user_dir, env = dask_pool
    started = time.monotonic()
    holder = start_holder(user_dir, env, "close")
    report = first_report(holder, user_dir)
    assert report["total"] == sum(x * x for x in range(1000))
    assert len(report["workers"]) == 3 and len(report["jobs"]) == 3
    assert report["scheduler"].startswith("tls://")
    assert report["dashboard"].startswith("/proxy/") and report["dashboard"].endswith("/status")
    assert holder.stdout.readline().strip() == "closed"
    wait_for(lambda: not worker_jobs(pool), 30, "the worker jobs to leave the queue")
    assert holder.wait(timeout=30) == 0
    print(f"3 workers up in {report['up_seconds']} s, computed after {report['seconds']} s, "
          f"all gone after {time.monotonic() - started:.1f} s")


def test_workers_end_by_themselves_when_the_kernel_is_killed(dask_pool):
    pool, user_dir, env = dask_pool
    holder = start_holder(user_dir, env, "hang")
    report = first_report(holder, user_dir)
    assert len(worker_jobs(pool)) == 3
    # The workers' own HTTP servers (health, metrics) listen on loopback only; their log
    # names the port (with the worker's address in front).
    logs = sorted(user_dir.glob("private/dask/*/worker-*.err"))
    assert len(logs) == 3
    for log in logs:
        port = re.search(r"dashboard at: +\S+:(\d+)", log.read_text()).group(1)
        listening = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True,
                                   text=True, check=True).stdout.split()
        assert listening[3] == f"127.0.0.1:{port}", listening
    killed = time.monotonic()
    os.killpg(holder.pid, signal.SIGKILL)  # the kernel dies, and the scheduler with it
    holder.wait()
    # death_timeout = 5: each worker ends its job by itself.
    wait_for(lambda: not worker_jobs(pool), 60, "the workers to end without their scheduler")
    print(f"jobs {report['jobs']} gone {time.monotonic() - killed:.1f} s after the kill")


def test_from_a_notebook_job_workers_inherit_its_container_and_leave_with_it(dask_pool):
    """The kernel inside a job of the pool (its ad, no PATH, the private dir in the
    scratch dir): the workers get its ContainerOS and environment, and when the
    notebook job is removed its workers leave the queue too."""
    pool, user_dir, env = dask_pool
    description = (
        f"executable = {VENV}/bin/jobwrapper\n"
        f"arguments = \"run -- python3 {HOLDER} hang\"\n"
        "transfer_executable = false\n"
        "should_transfer_files = YES\n"
        f"environment = \"JOBWRAPPER_CONFIG={env['JOBWRAPPER_CONFIG']}\"\n"
        '+ContainerOS = "Debian12"\n+JupyterEnvironment = "stable"\n'
        "request_cpus = 1\nrequest_memory = 1024\n"
        "output = notebook.out\nerror = notebook.err\nstream_output = true\n"
        "stream_error = true\nqueue\n")
    notebook = pool.submit(description, user_dir, user=ALICE)
    line = wait_for(lambda: (user_dir / "notebook.out").exists()
                    and (user_dir / "notebook.out").read_text().strip(), 120,
                    "the notebook job's report")
    report = json.loads(line)
    assert report["total"] == sum(x * x for x in range(1000))
    ads = [job.ad for job in queued_jobs(pool.layout) if job.cluster != notebook]
    assert len(ads) == 3
    for ad in ads:
        assert (ad["ContainerOS"], ad["JupyterEnvironment"]) == ("Debian12", "stable")
        assert ad["JobwrapperDaskParent"] == f"{notebook}.0"
        assert ".jobwrapper/dask/dask-" in ad["Iwd"]  # in the notebook's scratch dir
    removed = time.monotonic()
    assert pool.run("condor_rm", str(notebook), user=ALICE).returncode == 0
    wait_for(lambda: not worker_jobs(pool), 60, "the notebook's workers to leave the queue")
    print(f"notebook job removed: its workers gone {time.monotonic() - removed:.1f} s later")
