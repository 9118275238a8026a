"""Finding and killing a job's processes, as a starter does.

A job runs in its own session. Processes that leave the session (setsid, daemons)
are still found: like HTCondor, every job process inherits a unique
`_CONDOR_ANCESTOR_<pid>` environment variable, and the shadow is a child
subreaper, so orphans are re-parented to it instead of to init.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import signal
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TextIO

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


def process_parents() -> dict[int, int]:
    """{pid: parent pid} of every live process (zombies left out), from /proc."""
    parents = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields and fields[0] not in ("Z", "X"):
            parents[int(name)] = int(fields[1])
    return parents


def descendants(parents: Mapping[int, int], root: int) -> list[int]:
    """The processes below `root` (not root itself) in a {pid: parent} table."""
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    found, todo = [], list(children.get(root, ()))
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


class ProcessTable:
    """/proc's {pid: parent} for the whole pool, read at most once per `max_age`
    seconds by one of the pool's shadows and shared through a file (0666, like the
    slot lock) that the others read.

    Each shadow used to read every process's stat and environ for its memory look:
    with N jobs, N looks of ~4N processes per interval, 16 million reads per 5 s at
    1,000 jobs. With the table the pool reads /proc once per interval, and a shadow
    only the smaps of its own job. Without the file (not created, not writable) each
    look reads /proc itself."""

    def __init__(self, path: Path, max_age: float) -> None:
        self.path, self.max_age = path, max_age

    def parents(self) -> dict[int, int]:
        try:
            handle = open(self.path, "r+")  # noqa: SIM115 - closed below
        except OSError:
            return process_parents()
        with handle:
            fcntl.flock(handle, fcntl.LOCK_SH)
            table = self._fresh(handle)
            if table is not None:
                return table
            fcntl.flock(handle, fcntl.LOCK_EX)
            table = self._fresh(handle)  # another shadow may have read /proc meanwhile
            if table is not None:
                return table
            table = process_parents()
            handle.seek(0)
            handle.truncate()
            handle.write(f"{time.time()}\n")
            handle.writelines(f"{pid} {parent}\n" for pid, parent in table.items())
            return table

    def _fresh(self, handle: TextIO) -> dict[int, int] | None:
        handle.seek(0)
        lines = handle.read().splitlines()
        try:
            if not lines or time.time() - float(lines[0]) >= self.max_age:
                return None
            return {int(pid): int(parent) for pid, parent in
                    (line.split() for line in lines[1:])}
        except ValueError:
            return None


def tree_memory_mb(root: int, table: ProcessTable) -> int:
    """The job's memory in MB: the sum of its processes' PSS (shared pages split among
    their users), an approximation of what a memory cgroup would charge. Its processes
    are every process below `root`, the job's shadow,
    a child subreaper: the job and whatever it left, wherever it went (setsid,
    daemons). Processes of condor_ssh_to_job sessions are not below it."""
    session_prefix = f"{SSH_SESSION_VARIABLE}=".encode()
    pids = [pid for pid in descendants(table.parents(), root)
            if not any(item.startswith(session_prefix) for item in _environ(pid))]
    return pss_mb(pids)


def pss_mb(pids: Iterable[int]) -> int:
    """The sum of the processes' PSS in MB (gone ones count 0)."""
    total_kb = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as handle:
                for line in handle:
                    if line.startswith("Pss:"):
                        total_kb += int(line.split()[1])
                        break
        except (OSError, ValueError, IndexError):
            continue
    return total_kb // 1024
