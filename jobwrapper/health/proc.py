"""Reading the kernel's counters from /proc (or a fixture directory laid out like it).

Each reader raises :class:`SourceError` with a one-line reason when its file is
missing, unreadable or not in the expected format; the checks turn that into an
unknown result. Nothing here decides what is healthy.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TypeVar, Union

_PER_CPU_LINE = re.compile(r"cpu\d+\s")
_COUNTER = re.compile(r"[0-9]+")
T = TypeVar("T")


class SourceError(Exception):
    """A /proc source is missing, unreadable or not what the kernel writes."""


@dataclass(frozen=True)
class Unknown:
    """A value that could not be measured, and why (one line)."""

    reason: str


@dataclass(frozen=True)
class CpuTimes:
    """The aggregate ``cpu`` line of /proc/stat, in clock ticks since boot."""

    iowait: int
    total: int


@dataclass(frozen=True)
class SwapCounters:
    """Pages swapped in and out since boot (pswpin, pswpout in /proc/vmstat)."""

    pages_in: int
    pages_out: int


@dataclass(frozen=True)
class Reading:
    """The counters that are compared over the window, read at one moment."""

    cpu: Union[CpuTimes, Unknown]
    swap: Union[SwapCounters, Unknown]
    at: float  # seconds on a monotonic clock


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        raise SourceError(f"cannot read {path}: {error.strerror or error}") from None


def _integers(words: list[str], path: Path) -> list[int]:
    """Kernel counters: unsigned decimal integers, anything else is garbage."""
    if not all(_COUNTER.fullmatch(word) for word in words):
        raise SourceError(f"{path}: expected counters, found {' '.join(words)[:40]!r}")
    return [int(word) for word in words]


def read_cpu_times(proc: Path) -> CpuTimes:
    """I/O wait and total CPU time from the ``cpu`` line of ``proc/stat``.

    The total is user + nice + system + idle + iowait + irq + softirq + steal; guest
    time is already counted in user and nice, so it is left out.
    """
    path = proc / "stat"
    for line in _read(path).splitlines():
        words = line.split()
        if words and words[0] == "cpu":
            ticks = _integers(words[1:9], path)
            if len(ticks) < 5:
                raise SourceError(f"{path}: the cpu line has no iowait field")
            return CpuTimes(iowait=ticks[4], total=sum(ticks))
    raise SourceError(f"{path}: no 'cpu' line")


def read_swap_counters(proc: Path) -> SwapCounters:
    """Pages swapped in and out since boot, from ``proc/vmstat``."""
    path = proc / "vmstat"
    counters: dict[str, int] = {}
    for line in _read(path).splitlines():
        words = line.split()
        if len(words) == 2 and words[0] in ("pswpin", "pswpout"):
            counters[words[0]] = _integers(words[1:], path)[0]
    if len(counters) != 2:
        raise SourceError(f"{path}: no pswpin/pswpout counters")
    return SwapCounters(pages_in=counters["pswpin"], pages_out=counters["pswpout"])


def read_load_average(proc: Path) -> float:
    """The 5-minute load average, the second field of ``proc/loadavg``."""
    path = proc / "loadavg"
    words = _read(path).split()
    if len(words) < 3:
        raise SourceError(f"{path}: expected three load averages")
    try:
        load = float(words[1])
    except ValueError:
        raise SourceError(f"{path}: {words[1][:20]!r} is not a load average") from None
    if not load >= 0:  # also rejects nan
        raise SourceError(f"{path}: {words[1][:20]!r} is not a load average")
    return load


def count_online_cores(proc: Path) -> int:
    """Online CPUs: ``cpuN`` lines in ``proc/stat``, else ``processor`` lines in cpuinfo.

    The load average counts tasks on the whole machine, so cores are counted for the
    whole machine too, not from this process's CPU affinity (the startd and its cron
    jobs may be pinned to a few cores).
    """
    errors = []
    for name, pattern in (("stat", _PER_CPU_LINE), ("cpuinfo", re.compile(r"processor\s*:"))):
        try:
            text = _read(proc / name)
        except SourceError as error:
            errors.append(str(error))
            continue
        cores = sum(1 for line in text.splitlines() if pattern.match(line))
        if cores:
            return cores
        errors.append(f"{proc / name}: no CPUs listed")
    raise SourceError("; ".join(errors))


def read_mem_available_mb(proc: Path) -> float:
    """MemAvailable from ``proc/meminfo`` in MiB (the kernel writes kB, meaning KiB)."""
    path = proc / "meminfo"
    for line in _read(path).splitlines():
        words = line.split()
        if words and words[0] == "MemAvailable:":
            kib = _integers(words[1:2], path)
            if not kib:
                raise SourceError(f"{path}: MemAvailable has no value")
            return kib[0] / 1024
    raise SourceError(f"{path}: no MemAvailable line (kernel older than 3.14?)")


def measure(reader: Callable[[Path], T], proc: Path) -> Union[T, Unknown]:
    """Run one reader; its SourceError becomes :class:`Unknown` with the reason."""
    try:
        return reader(proc)
    except SourceError as error:
        return Unknown(str(error))


def take_reading(proc: Path, clock: Callable[[], float] = time.monotonic) -> Reading:
    """Read the windowed counters now; a failed read becomes :class:`Unknown`."""
    cpu = measure(read_cpu_times, proc)
    swap = measure(read_swap_counters, proc)
    return Reading(cpu=cpu, swap=swap, at=clock())


def read_window(
    proc: Path,
    window_seconds: float,
    wait: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[Reading, Reading]:
    """Two readings ``window_seconds`` apart; tests pass a ``wait`` that swaps files."""
    before = take_reading(proc, clock)
    wait(window_seconds)
    return before, take_reading(proc, clock)
