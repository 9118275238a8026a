"""What a desktop test looks at: xpra's process, argv and sockets."""

from __future__ import annotations

import os
from pathlib import Path

from jupyter_harness import marked_processes


def argv(pid: int) -> list[str]:
    """The process's argv from /proc/PID/cmdline."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]
    except OSError:
        return []


def xpra_processes(mark: str) -> list[int]:
    """The marked processes running xpra itself."""
    return [
        pid
        for pid in marked_processes(mark)
        if any(word.endswith("/xpra") or word == "xpra" for word in argv(pid)[:2])
    ]


def socket_inodes(pid: int) -> set[str]:
    """Inodes of the sockets that ``pid`` has open."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        pass
    return inodes


def tcp_listeners(pids: list[int]) -> list[str]:
    """'local address' of every TCP/UDP socket in LISTEN (or bound UDP) owned by ``pids``."""
    inodes = set().union(*(socket_inodes(pid) for pid in pids)) if pids else set()
    found = []
    for table in ("tcp", "tcp6", "udp", "udp6"):
        lines = Path(f"/proc/net/{table}").read_text().splitlines()[1:]
        for line in lines:
            fields = line.split()
            listening = fields[3] == "0A" or table.startswith("udp")
            if listening and fields[9] in inodes:
                found.append(f"{table} {fields[1]}")
    return found
