"""condor_rm and periodic_remove: SIGTERM, the vacate grace, SIGKILL, and what comes back."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jobwrapper.localpool.config import PoolConfig

from .helpers import PYTHON, Pool, sleeper, wait_for

# The job writes its pid (and its escaped child's) into PIDS_DIR, starts, then behaves
# as told by its first argument.
JOB_SCRIPT = """
import os, signal, subprocess, sys, time
mode, pids_dir = sys.argv[1], sys.argv[2]
os.makedirs("jupyter", exist_ok=True)
stray = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"],
                         start_new_session=True)
with open(os.path.join(pids_dir, "stray"), "w") as handle:
    handle.write(str(stray.pid))
def on_term(signum, frame):
    with open("jupyter/saved.txt", "w") as handle:
        handle.write("saved on SIGTERM")
    sys.exit(0)
if mode == "term-with-child":
    # a child in the job's process group that notes a SIGTERM, if it gets one
    child = subprocess.Popen([sys.executable, "-c", "import signal, time\\n"
                      "def note(*_): open('jupyter/child-got-term.txt', 'w').close()\\n"
                      "def seen(*_): open('jupyter/child-barrier.txt', 'w').close()\\n"
                      "signal.signal(signal.SIGTERM, note)\\n"
                      "signal.signal(signal.SIGRTMIN, seen)\\n"
                      "open('jupyter/child-ready.txt', 'w').close()\\n"
                      "while True: time.sleep(0.05)"])
    while not os.path.exists("jupyter/child-ready.txt"):
        time.sleep(0.05)
    def on_term_later(signum, frame):
        # A barrier, not a sleep: Linux delivers pending standard signals (a SIGTERM sent
        # to the process group with ours) before real-time ones, so once the child has
        # handled SIGRTMIN it has handled any SIGTERM sent together with ours.
        os.kill(child.pid, signal.SIGRTMIN)
        while not os.path.exists("jupyter/child-barrier.txt"):
            time.sleep(0.01)
        on_term(signum, frame)
    signal.signal(signal.SIGTERM, on_term_later)
if mode == "exit-on-term":
    signal.signal(signal.SIGTERM, on_term)
elif mode == "ignore-term":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with open("jupyter/lost.txt", "w") as handle:
        handle.write("written before the kill")
with open(os.path.join(pids_dir, "ready"), "w") as handle:
    handle.write(str(os.getpid()))
if mode == "exit-now":
    sys.exit(3)
while True:
    time.sleep(0.05)
"""


def _submit(pool: Pool, submit_dir: Path, mode: str, extra: str = "") -> tuple[int, Path]:
    pids = pool.root / f"pids-{mode}"
    pids.mkdir()
    (submit_dir / "job.py").write_text(JOB_SCRIPT)
    (submit_dir / "jupyter").mkdir(exist_ok=True)
    description = (
        f"executable = {PYTHON}\narguments = job.py {mode} {pids}\n"
        "transfer_input_files = job.py, jupyter\ntransfer_output_files = jupyter\n"
        "should_transfer_files = YES\nlog = job.log\n"
        f"{extra or 'when_to_transfer_output = ON_EXIT_OR_EVICT'}\nqueue\n"
    )
    cluster = pool.submit(description, submit_dir)
    wait_for(lambda: (pids / "ready").exists(), what="the job to start")
    return cluster, pids


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _gone(pool: Pool, cluster: int) -> None:
    wait_for(lambda: not pool.in_queue(cluster), timeout=20, what="the job to leave the queue")


def test_rm_sends_sigterm_and_a_job_that_exits_gets_its_output_transferred(
    pool: Pool, submit_dir: Path
):
    cluster, _pids = _submit(pool, submit_dir, "exit-on-term")
    assert pool.run("condor_rm", str(cluster)).returncode == 0
    _gone(pool, cluster)
    assert (submit_dir / "jupyter/saved.txt").read_text() == "saved on SIGTERM"


def test_rm_sends_sigterm_to_the_jobs_main_process_only(pool: Pool, submit_dir: Path):
    # HTCondor 25.0's starter signals the job's pid, not its process group: the job's
    # children get nothing until the hard kill, and must be stopped by the job itself.
    cluster, _pids = _submit(pool, submit_dir, "term-with-child")
    assert pool.run("condor_rm", str(cluster)).returncode == 0
    _gone(pool, cluster)
    assert (submit_dir / "jupyter/saved.txt").read_text() == "saved on SIGTERM"
    assert not (submit_dir / "jupyter/child-got-term.txt").exists()


def test_job_ignoring_sigterm_is_killed_after_the_grace_and_nothing_comes_back(
    pool: Pool, submit_dir: Path
):
    cluster, pids = _submit(pool, submit_dir, "ignore-term")
    job_pid = int((pids / "ready").read_text())
    pool.run("condor_rm", str(cluster))
    assert pool.status(cluster) == "3"
    _gone(pool, cluster)
    assert not _alive(job_pid)
    assert not (submit_dir / "jupyter/lost.txt").exists()


def test_processes_that_escaped_the_jobs_session_are_killed_too(pool: Pool, submit_dir: Path):
    cluster, pids = _submit(pool, submit_dir, "exit-on-term")
    stray = int((pids / "stray").read_text())
    assert _alive(stray)
    pool.run("condor_rm", str(cluster))
    _gone(pool, cluster)
    assert not _alive(stray)


def test_processes_left_behind_by_a_finished_job_are_killed(pool: Pool, submit_dir: Path):
    cluster, pids = _submit(pool, submit_dir, "exit-now")
    stray = int((pids / "stray").read_text())
    _gone(pool, cluster)
    assert not _alive(stray)


def test_with_on_exit_a_removed_job_transfers_nothing_back(pool: Pool, submit_dir: Path):
    cluster, _pids = _submit(pool, submit_dir, "exit-on-term", "when_to_transfer_output = ON_EXIT")
    pool.run("condor_rm", str(cluster))
    _gone(pool, cluster)
    assert not (submit_dir / "jupyter/saved.txt").exists()


def test_user_log_records_the_abort(pool: Pool, submit_dir: Path):
    cluster, _pids = _submit(pool, submit_dir, "exit-on-term")
    pool.run("condor_rm", str(cluster))
    _gone(pool, cluster)
    log = (submit_dir / "job.log").read_text()
    assert "Job was aborted.\n\tvia condor_rm (by user root)\n" in log


def test_periodic_remove_removes_a_job_that_ran_too_long(pool: Pool, submit_dir: Path):
    extra = ("when_to_transfer_output = ON_EXIT_OR_EVICT\n+MaxRuntime = 1\n"
             "periodic_remove = (time() - JobCurrentStartDate) > MaxRuntime")
    cluster, _pids = _submit(pool, submit_dir, "exit-on-term", extra)
    _gone(pool, cluster)
    assert "PeriodicRemove expression" in (submit_dir / "job.log").read_text()
    assert (submit_dir / "jupyter/saved.txt").exists()


def test_shutdown_removes_every_job_without_waiting_for_the_grace(make_pool, tmp_path: Path):
    from jobwrapper.localpool.admin import shutdown

    pool = make_pool(vacate_grace=600)
    submit_dir = pool.root / "s"
    submit_dir.mkdir()
    cluster, pids = _submit(pool, submit_dir, "ignore-term")
    job_pid = int((pids / "ready").read_text())
    assert shutdown(pool.layout) == 1
    assert not pool.in_queue(cluster)
    assert not _alive(job_pid)


@pytest.mark.skipif(os.getuid() != 0, reason="kills processes by pid as root")
def test_a_deleted_pool_dir_leaves_no_jobs_running(make_pool):
    import shutil

    pool = make_pool()
    submit_dir = pool.root / "s"
    submit_dir.mkdir()
    _cluster, pids = _submit(pool, submit_dir, "ignore-term")
    job_pid = int((pids / "ready").read_text())
    shutil.rmtree(pool.layout.root)
    wait_for(lambda: not _alive(job_pid), what="the job to be killed")


def test_removing_an_idle_job_takes_it_out_of_the_queue(make_pool):
    pool = make_pool(idle_delay=60)
    cluster = pool.submit(sleeper(), pool.root)
    assert pool.status(cluster) == "1"
    assert pool.run("condor_rm", str(cluster)).returncode == 0
    _gone(pool, cluster)


def test_a_job_over_its_allowed_execute_duration_is_held_until_removed(
    pool: Pool, submit_dir: Path
):
    extra = "when_to_transfer_output = ON_EXIT_OR_EVICT\nallowed_execute_duration = 1"
    cluster, _pids = _submit(pool, submit_dir, "exit-on-term", extra)
    pool.wait_status(cluster, "5")
    hold_reason = pool.run("condor_q", str(cluster), "-af", "HoldReason").stdout
    assert "exceeded allowed execute duration" in hold_reason
    pool.run("condor_rm", str(cluster))
    _gone(pool, cluster)


def test_by_default_ended_jobs_leave_the_queue_at_once():
    # HTCondor 25.0 (cross-checked): a completed or removed job is gone from condor_q as
    # soon as it has left its slot; it never shows JobStatus 4, nor 3 after the vacate.
    assert PoolConfig().leave_queue_delay == 0
