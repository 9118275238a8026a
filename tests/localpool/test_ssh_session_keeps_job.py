"""A job whose main process exited stays Running while a condor_ssh_to_job session of
it is open, and leaves the queue with its output once the last session closes
(HTCondor 25.0, cross-checked: docs/localpool.md)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from .helpers import PYTHON, Pool, wait_for
from .test_ssh_to_job import free_port

# Writes jupyter/out.txt, then exits once the file "go" appears in the scratch dir.
EXITS_WHEN_TOLD = """
import os, time
os.makedirs("jupyter", exist_ok=True)
open("jupyter/out.txt", "w").write("from the job")
while not os.path.exists("go"):
    time.sleep(0.05)
"""


def _submit(pool: Pool, submit_dir: Path) -> int:
    (submit_dir / "job.py").write_text(EXITS_WHEN_TOLD)
    description = (
        f"executable = {PYTHON}\narguments = job.py\ntransfer_input_files = job.py\n"
        "should_transfer_files = YES\ntransfer_output_files = jupyter\n"
        "when_to_transfer_output = ON_EXIT_OR_EVICT\nqueue\n"
    )
    cluster = pool.submit(description, submit_dir)
    pool.wait_status(cluster, "2")
    return cluster


def _open_forward(pool: Pool, cluster: int) -> subprocess.Popen:
    argv = pool.argv("condor_ssh_to_job", "-auto-retry", "-ssh",
                     f"ssh -N -L {free_port()}:localhost:1", str(cluster))
    forward = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, start_new_session=True)
    wait_for(lambda: any(name.startswith("ssh-session.")
                         for name in os.listdir(pool.layout.record(cluster))),
             what="the ssh_to_job session")
    return forward


def _let_main_exit(pool: Pool, cluster: int) -> None:
    (pool.scratch_dir(cluster) / "go").write_text("")


def test_job_stays_running_while_a_forward_is_open_after_its_main_process_exited(
    pool: Pool, submit_dir: Path
):
    cluster = _submit(pool, submit_dir)
    forward = _open_forward(pool, cluster)
    try:
        _let_main_exit(pool, cluster)
        time.sleep(3)
        assert pool.status(cluster) == "2"
        assert not (submit_dir / "jupyter").exists()
    finally:
        os.killpg(forward.pid, signal.SIGTERM)
        forward.wait(timeout=10)


def test_job_leaves_the_queue_with_its_output_when_the_forward_closes(
    pool: Pool, submit_dir: Path
):
    cluster = _submit(pool, submit_dir)
    forward = _open_forward(pool, cluster)
    _let_main_exit(pool, cluster)
    os.killpg(forward.pid, signal.SIGTERM)
    forward.wait(timeout=10)
    wait_for(lambda: not pool.in_queue(cluster), what="the job to leave the queue")
    assert (submit_dir / "jupyter" / "out.txt").read_text() == "from the job"


def test_condor_rm_ends_a_job_kept_only_by_a_session_and_the_session_with_it(
    pool: Pool, submit_dir: Path
):
    cluster = _submit(pool, submit_dir)
    forward = _open_forward(pool, cluster)
    _let_main_exit(pool, cluster)
    time.sleep(0.5)
    pool.run("condor_rm", str(cluster))
    assert forward.wait(timeout=15) == 255
    wait_for(lambda: not pool.in_queue(cluster), what="the job to leave the queue")


def test_without_a_session_the_job_leaves_as_soon_as_its_main_process_exits(
    pool: Pool, submit_dir: Path
):
    cluster = _submit(pool, submit_dir)
    _let_main_exit(pool, cluster)
    wait_for(lambda: not pool.in_queue(cluster), timeout=5, what="the job to leave the queue")
