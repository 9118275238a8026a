"""The server's end (SIGTERM, the runtime limit, idle, File > Shut Down) removes the
Dask worker jobs that its kernels left (inserver/lifecycle.py -> dask/workers.py)."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from fake_condor import fake_tool
from lifecycle.jupyter_harness import jupyter_server
from polling import wait_for

from jobwrapper.dask import workers


@pytest.mark.processes
def test_sigterm_to_the_server_removes_the_worker_jobs_left(tmp_path):
    bin_dir, private = tmp_path / "condor", tmp_path / "private"
    fake_tool(bin_dir, "condor_rm")
    calls = bin_dir / "condor_rm.calls"
    state = workers.state_dir({"JOBWRAPPER_PRIVATE_DIR": str(private)})
    workers.record_submitted(state, "41.0", "dask-a")  # its kernel was killed
    workers.record_submitted(state, "42.0", "dask-a")
    workers.record_removed(state, "42.0")  # its cluster closed it
    site = f'[dask]\ncondor_bin = "{bin_dir}"\n'
    with jupyter_server(tmp_path, site, extra_env={"JOBWRAPPER_PRIVATE_DIR": str(private)}
                        ) as server:
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(timeout=30)
        assert calls.read_text() == "41.0\n"
        wait_for(lambda: "removed the Dask worker jobs left: 41.0" in server.log(), 5,
                 "the log line")
    assert workers.open_jobs(Path(state)) == []
