"""Network isolation of jobs (not yet implemented: `available()` is False)."""

from __future__ import annotations

from pathlib import Path


def available() -> bool:
    """True when jobs can get their own network namespace."""
    return False


def create(scratch: Path, outbound_ports: list[int]) -> int:
    raise OSError("network namespaces are not supported by this pool yet")


def enter_argv(holder_pid: int, argv: list[str]) -> list[str]:
    return argv


def connect_inside(holder_pid: int, forward: object, cwd: str) -> object:
    raise OSError("network namespaces are not supported by this pool yet")
