"""Open condor_ssh_to_job sessions of a job, as the starter counts them.

On HTCondor a job stays Running until every process started for it has ended, and
the sshd of a `condor_ssh_to_job` session is one of them: a job whose main process
has exited keeps its slot while a session (the hub's tunnel) is open, and leaves
the queue once the last one closes (cross-checked on HTCondor 25.0, docs/localpool.md).

Each session process leaves `ssh-session.<pid>` in the job's record, holding its
kernel start time so that a reused pid never counts; the shadow waits for them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from jobwrapper.localpool.records import process_start_time

PREFIX = "ssh-session."


@contextlib.contextmanager
def registered(record: Path) -> Iterator[None]:
    """Count this process as an open session of the job while the block runs."""
    pid = os.getpid()
    path = record / f"{PREFIX}{pid}"
    try:
        path.write_text(process_start_time(pid))
    except OSError:  # the record is gone: the job has left the queue
        yield
        return
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            path.unlink()


def open_sessions(record: Path) -> list[int]:
    """Pids of the job's sessions that are still running (stale files are ignored)."""
    pids = []
    try:
        names = os.listdir(record)
    except OSError:
        return []
    for name in names:
        suffix = name[len(PREFIX):]
        if not name.startswith(PREFIX) or not suffix.isdigit():
            continue
        try:
            started = (record / name).read_text().strip()
        except OSError:
            continue
        if started and process_start_time(int(suffix)) == started:
            pids.append(int(suffix))
    return pids
