"""The server's process tree: become a subreaper, find descendants, signal, reap.

Read from /proc only (Linux), so it works in any container without psutil.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import time
from typing import Iterable, Optional

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Make orphans of our descendants reparent to this process instead of init.

    Without this, ``nohup sleep 1000 &`` or ``setsid cmd &`` in a terminal escape the
    server's tree once the shell exits, and HTCondor waits for them (or the job is
    hard-killed 600 s later, losing its output). Returns False where prctl is missing.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _stat_fields(pid: int) -> Optional[tuple[str, int]]:
    """(state, ppid) of ``pid``, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat_file:
            text = stat_file.read().decode("ascii", "replace")
    except OSError:
        return None
    # The command name may contain spaces and parentheses: split after the last ')'.
    rest = text[text.rindex(")") + 2 :].split()
    return rest[0], int(rest[1])


def _parents() -> dict[int, tuple[str, int]]:
    """pid -> (state, ppid) for every visible process."""
    table: dict[int, tuple[str, int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None:
                table[int(entry)] = fields
    return table


def descendants(root: Optional[int] = None, include_zombies: bool = False) -> list[int]:
    """Every process below ``root`` (default: this process), parents before children."""
    root = os.getpid() if root is None else root
    table = _parents()
    children: dict[int, list[int]] = {}
    for pid, (_state, ppid) in table.items():
        children.setdefault(ppid, []).append(pid)
    found: list[int] = []
    queue = list(children.get(root, []))
    while queue:
        pid = queue.pop(0)
        if include_zombies or table[pid][0] != "Z":
            found.append(pid)
        queue.extend(children.get(pid, []))
    return found


def signal_all(pids: Iterable[int], signum: int) -> int:
    """Send ``signum`` to each pid that still exists; returns how many were signalled."""
    sent = 0
    for pid in pids:
        try:
            os.kill(pid, signum)
            sent += 1
        except (ProcessLookupError, PermissionError):
            pass
    return sent


def kill_tree(deadline: float, exclude: Iterable[int] = ()) -> list[int]:
    """SIGKILL every descendant (again and again, as new ones may be forked) until none
    is left or ``deadline`` (time.monotonic()) passes; returns the pids still alive."""
    skip = set(exclude)
    while True:
        alive = [pid for pid in descendants() if pid not in skip]
        if not alive or time.monotonic() >= deadline:
            return alive
        signal_all(alive, signal.SIGKILL)
        reap_zombies()
        time.sleep(0.05)


def terminal_devices(pids: Iterable[int]) -> list[str]:
    """The distinct /dev/pts/N terminals that ``pids`` have as standard input or output."""
    devices: list[str] = []
    for pid in pids:
        for fd in (0, 1):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("/dev/pts/") and target not in devices:
                devices.append(target)
    return devices


class ZombieReaper:
    """Reap children that became ours as orphans and that nobody else waits for.

    The server's own children (kernels, terminals, xpra) are waited for by the code
    that started them; reaping those first would steal their exit status. So a child
    is reaped only after it has been a zombie for ``patience`` seconds.
    """

    def __init__(self, patience: float = 30.0) -> None:
        self.patience = patience
        self.first_seen: dict[int, float] = {}

    def sweep(self) -> int:
        """Reap the zombies that waited long enough; returns how many were reaped."""
        now = time.monotonic()
        table = _parents()
        me = os.getpid()
        zombies = {pid for pid, (state, ppid) in table.items() if ppid == me and state == "Z"}
        self.first_seen = {pid: self.first_seen.get(pid, now) for pid in zombies}
        ripe = [pid for pid, seen in self.first_seen.items() if now - seen >= self.patience]
        for pid in ripe:
            _reap(pid)
            self.first_seen.pop(pid, None)
        return len(ripe)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def reap_zombies() -> None:
    """Reap every zombie child now (only at shutdown, when nobody else will)."""
    me = os.getpid()
    for pid, (state, ppid) in _parents().items():
        if ppid == me and state == "Z":
            _reap(pid)
