"""Finding and killing a job's processes, as a starter does.

A job runs in its own session. Processes that leave the session (setsid, daemons)
are still found: like HTCondor, every job process inherits a unique
`_CONDOR_ANCESTOR_<pid>` environment variable, and the shadow is a child
subreaper, so orphans are re-parented to it instead of to init.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import time
from collections.abc import Iterator

_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> None:
    """Orphaned descendants of the job become our children (Linux only; best effort)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _session_of(pid: int) -> int | None:
    """The session id of a live process (None for zombies and vanished pids)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] in ("Z", "X") else int(fields[3])


# Set in the processes of a condor_ssh_to_job session (ssh_to_job.py): a starter keeps
# the sshd's process family apart from the job's own, so the main process's exit does
# not kill a session.
SSH_SESSION_VARIABLE = "_LOCALPOOL_SSH_SESSION"


def _environ(pid: int) -> list[bytes]:
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            return handle.read().split(b"\0")
    except OSError:
        return []


def job_processes(session: int, marker: tuple[str, str], spare_sessions: bool = False
                  ) -> Iterator[int]:
    """Pids in the job's session or carrying its ancestor marker (never our own);
    with `spare_sessions`, not those of condor_ssh_to_job sessions."""
    wanted = f"{marker[0]}={marker[1]}".encode()
    session_prefix = f"{SSH_SESSION_VARIABLE}=".encode()
    me = os.getpid()
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        pid = int(name)
        alive_session = _session_of(pid)
        if alive_session is None:
            continue
        environ = _environ(pid)
        if spare_sessions and any(item.startswith(session_prefix) for item in environ):
            continue
        if alive_session == session or wanted in environ:
            yield pid


def signal_job(session: int, signum: int) -> None:
    """Send a signal to the job's process group (its session leader's group)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(session, signum)


def signal_main(pid: int, signum: int) -> None:
    """Send a signal to the job's main process only, as a starter's soft kill does."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signum)


def kill_all(session: int, marker: tuple[str, str], rounds: int = 20,
             spare_sessions: bool = False) -> None:
    """SIGKILL every process of the job, including escaped ones, and reap our children;
    with `spare_sessions`, not the processes of condor_ssh_to_job sessions."""
    for _ in range(rounds):
        pids = list(job_processes(session, marker, spare_sessions))
        signal_job(session, signal.SIGKILL)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        reap_children()
        if not pids:
            return
        time.sleep(0.05)


def reap_children() -> list[tuple[int, int]]:
    """Collect every exited child: (pid, wait status) pairs."""
    reaped = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return reaped
        if pid == 0:
            return reaped
        reaped.append((pid, status))


def memory_used_mb(session: int, marker: tuple[str, str]) -> int:
    """The job's memory in MB: the sum of its processes' PSS (shared pages split among
    their users), an approximation of what a memory cgroup would charge."""
    total_kb = 0
    for pid in job_processes(session, marker, spare_sessions=True):
        try:
            with open(f"/proc/{pid}/smaps_rollup") as handle:
                for line in handle:
                    if line.startswith("Pss:"):
                        total_kb += int(line.split()[1])
                        break
        except (OSError, ValueError, IndexError):
            continue
    return total_kb // 1024
