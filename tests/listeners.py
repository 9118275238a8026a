"""Which processes listen on TCP: /proc/PID/net/tcp{,6} (the process's own network
namespace) matched with the socket inodes among /proc/PID/fd. For the socket-mode tests."""

from __future__ import annotations

import os
import socket
from pathlib import Path

LISTEN = "0A"


def decode_address(text: str) -> tuple[str, int]:
    """/proc/net/tcp{,6}'s `HEXADDR:HEXPORT` (the address in 32-bit host-order words)."""
    address, port = text.split(":")
    raw = bytes.fromhex(address)
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    family = socket.AF_INET if len(raw) == 4 else socket.AF_INET6
    return socket.inet_ntop(family, words), int(port, 16)


def _listening_rows(pid: int | str) -> list[list[str]]:
    """The fields of every TCP socket in LISTEN state in `pid`'s network namespace."""
    rows = []
    for name in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{name}").read_text().splitlines()[1:]
        except OSError:
            continue
        rows += [fields for fields in map(str.split, lines) if fields[3] == LISTEN]
    return rows


def _listening_inodes(pid: int) -> dict[str, tuple[str, int]]:
    """inode -> (address, port) of every TCP socket in LISTEN state in `pid`'s network
    namespace."""
    return {fields[9]: decode_address(fields[1]) for fields in _listening_rows(pid)}


def listening_uids(port: int) -> set[int]:
    """The owners of the sockets that listen on `port` in this process's network
    namespace."""
    return {int(fields[7]) for fields in _listening_rows("self")
            if decode_address(fields[1])[1] == port}


def tcp_listen_addresses(pid: int) -> list[tuple[str, int]]:
    """(address, port) of every listening TCP socket `pid` holds open."""
    listening = _listening_inodes(pid)
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return []
    found = []
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in listening:
            found.append(listening[target[8:-1]])
    return found


def tcp_listeners(pids: list[int]) -> list[tuple[int, int]]:
    """(pid, port) for every TCP listening socket held open by one of `pids`."""
    return sorted({(pid, port) for pid in pids for _, port in tcp_listen_addresses(pid)})


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
