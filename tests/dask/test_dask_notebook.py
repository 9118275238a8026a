"""End to end: a kernel of a real jupyter server computes on 3 worker jobs of the local
pool; when the server ends (SIGTERM, as condor_rm of the notebook job sends), no worker
job is left in the queue."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kernel_ws import execute
from lifecycle.jupyter_harness import jupyter_server
from localpool.helpers import create_pool, destroy_pool
from polling import wait_for

from jobwrapper.localpool.records import queued_jobs

VENV = Path(sys.executable).parent.parent
CODE = """
from distributed import Client
from jobwrapper.dask import cluster
workers = cluster(workers=3)
client = Client(workers)
client.wait_for_workers(3, timeout=120)
print("sum", client.submit(sum, client.map(lambda x: x * x, range(1000))).result())
"""


def site_config(tmp_path: Path, pool_bin: Path) -> str:
    """The workers' launcher, the pool's tools and this venv as the environment."""
    path = tmp_path / "server" / "site.toml"  # where the harness writes it
    return (f'[dask]\njobwrapper = "{VENV}/bin/jobwrapper"\ncondor_bin = "{pool_bin}"\n'
            "memory_mb = 1024\n[dask.submit_extra]\n"
            f"environment = '\"JOBWRAPPER_CONFIG={path}\"'\n"
            f'[environments.stable.os.default]\nvenv = "{VENV}"\n')


def private_dir(tmp_path: Path) -> dict[str, str]:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    return {"JOBWRAPPER_PRIVATE_DIR": str(private)}


def run_in_kernel(server, code: str) -> tuple[str, str]:
    kernel_id, _ = server.start_kernel()
    channels = server.url.replace("http", "ws", 1) + f"api/kernels/{kernel_id}/channels"
    return kernel_id, asyncio.run(execute(channels, server.token, code))


@pytest.mark.processes
def test_a_kernel_computes_on_three_workers_and_the_servers_end_leaves_none(tmp_path):
    pool = create_pool(slot_cpus=4, slot_memory=8192)
    try:
        with jupyter_server(tmp_path, site_config(tmp_path, pool.bin),
                            extra_env=private_dir(tmp_path)) as server:
            started = time.monotonic()
            _, output = run_in_kernel(server, CODE)
            computed = time.monotonic() - started
            assert f"sum {sum(x * x for x in range(1000))}" in output, output
            assert len(queued_jobs(pool.layout)) == 3
            server.process.send_signal(signal.SIGTERM)
            server.process.wait(timeout=30)
            ended = time.monotonic()
            wait_for(lambda: not queued_jobs(pool.layout), 30, "no worker job in the queue")
            print(f"kernel computed on 3 workers in {computed:.1f} s; "
                  f"queue empty {time.monotonic() - ended:.1f} s after the server's end")
    finally:
        destroy_pool(pool)


@pytest.mark.processes
def test_a_worker_still_waiting_when_its_kernel_died_is_removed_at_the_servers_end(tmp_path):
    """A killed kernel closes nothing, and a worker job still idle has no scheduler to
    lose: only the server's end removes it."""
    pool = create_pool(slot_cpus=2, slot_memory=8192)  # the third worker waits
    try:
        with jupyter_server(tmp_path, site_config(tmp_path, pool.bin),
                            extra_env=private_dir(tmp_path)) as server:
            kernel_id, output = run_in_kernel(server, CODE.replace(
                "wait_for_workers(3", "wait_for_workers(2"))
            assert "sum" in output, output
            assert sorted(job.status for job in queued_jobs(pool.layout)) == [1, 2, 2]
            kernel = subprocess.run(["pgrep", "-f", f"kernel-{kernel_id}.json"],
                                    capture_output=True, text=True, check=True).stdout.split()
            os.kill(int(kernel[0]), signal.SIGKILL)
            server.process.send_signal(signal.SIGTERM)
            server.process.wait(timeout=30)
            assert "jobwrapper: removed the Dask worker jobs left: " in server.log()
            wait_for(lambda: not queued_jobs(pool.layout), 30, "no worker job in the queue")
    finally:
        destroy_pool(pool)
