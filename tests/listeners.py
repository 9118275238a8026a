"""Which processes listen on TCP: /proc/PID/net/tcp{,6} (the process's own network
namespace) matched with the socket inodes among /proc/PID/fd. For the socket-mode tests."""

from __future__ import annotations

import os
from pathlib import Path

LISTEN = "0A"


def _listening_inodes(pid: int) -> dict[str, int]:
    """inode -> port of every TCP socket in LISTEN state in `pid`'s network namespace."""
    found = {}
    for name in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{name}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == LISTEN:
                found[fields[9]] = int(fields[1].rsplit(":", 1)[1], 16)
    return found


def tcp_listeners(pids: list[int]) -> list[tuple[int, int]]:
    """(pid, port) for every TCP listening socket held open by one of `pids`."""
    result = []
    for pid in pids:
        listening = _listening_inodes(pid)
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in listening:
                result.append((pid, listening[target[8:-1]]))
    return sorted(set(result))


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it (by /proc/PID/task/*/children)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo += [int(child) for child in (task / "children").read_text().split()]
            except OSError:
                continue
    return found
