"""The measured checks: each compares one value with its threshold.

A check returns a :class:`CheckResult`: the attributes it publishes, and either a
problem (the node fails it), an unknown reason (it could not be measured), or
neither (it passed). Values exactly at a threshold pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

from jobwrapper.health.proc import (
    CpuTimes,
    Reading,
    SwapCounters,
    Unknown,
    count_online_cores,
    measure,
    read_load_average,
    read_mem_available_mb,
)
from jobwrapper.health.thresholds import HealthThresholds

AttributeValue = Union[bool, int, float, str, None]  # None is published as undefined


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check, named as in HEALTH_FAILED and HEALTH_UNKNOWN."""

    name: str
    attributes: dict[str, AttributeValue] = field(default_factory=dict)
    problem: Optional[str] = None  # why the node fails this check
    unknown: Optional[str] = None  # why the check could not be measured
    forced: Optional[bool] = None  # the admin forces the verdict (state file only)


def unknown_result(name: str, attributes: list[str], reason: str) -> CheckResult:
    """A check that could not be measured: its attributes are undefined."""
    return CheckResult(name, dict.fromkeys(attributes), unknown=f"{name}: {reason}")


def _window_seconds(before: Reading, after: Reading) -> Union[float, Unknown]:
    elapsed = after.at - before.at
    return elapsed if elapsed > 0 else Unknown("the window has no length")


def _delta(before: int, after: int) -> int:
    # The kernel's iowait counter can go backwards (NO_HZ accounting); a decrease
    # means no I/O wait in that interval, not a negative share.
    return max(after - before, 0)


def iowait_percent(before: Reading, after: Reading) -> Union[float, Unknown]:
    """Share of CPU time spent waiting for I/O between the two readings."""
    for reading in (before.cpu, after.cpu):
        if isinstance(reading, Unknown):
            return reading
    assert isinstance(before.cpu, CpuTimes) and isinstance(after.cpu, CpuTimes)
    total = _delta(before.cpu.total, after.cpu.total)
    if total == 0:
        return Unknown("no CPU time passed between the two readings of stat")
    return 100.0 * min(_delta(before.cpu.iowait, after.cpu.iowait), total) / total


def swap_pages_per_second(before: Reading, after: Reading) -> Union[float, Unknown]:
    """Pages swapped in plus out per second between the two readings."""
    for value in (before.swap, after.swap, _window_seconds(before, after)):
        if isinstance(value, Unknown):
            return value
    assert isinstance(before.swap, SwapCounters) and isinstance(after.swap, SwapCounters)
    pages = _delta(before.swap.pages_in, after.swap.pages_in) + _delta(
        before.swap.pages_out, after.swap.pages_out
    )
    return pages / (after.at - before.at)


def check_iowait(before: Reading, after: Reading, limits: HealthThresholds) -> CheckResult:
    """Unhealthy when I/O wait over the window is above ``iowait_max_percent``."""
    percent = iowait_percent(before, after)
    if isinstance(percent, Unknown):
        return unknown_result("iowait", ["HEALTH_IOWAIT_PERCENT"], percent.reason)
    attributes: dict[str, AttributeValue] = {"HEALTH_IOWAIT_PERCENT": percent}
    if percent > limits.iowait_max_percent:
        problem = (
            f"iowait {percent:.1f}% over {after.at - before.at:.0f} s"
            f" > {limits.iowait_max_percent:g}%"
        )
        return CheckResult("iowait", attributes, problem=problem)
    return CheckResult("iowait", attributes)


def check_swap(before: Reading, after: Reading, limits: HealthThresholds) -> CheckResult:
    """Unhealthy when swapping is above ``swap_max_pages_per_second``."""
    rate = swap_pages_per_second(before, after)
    if isinstance(rate, Unknown):
        return unknown_result("swap", ["HEALTH_SWAP_PAGES_PER_SECOND"], rate.reason)
    attributes: dict[str, AttributeValue] = {"HEALTH_SWAP_PAGES_PER_SECOND": rate}
    if rate > limits.swap_max_pages_per_second:
        problem = f"swapping {rate:.0f} pages/s > {limits.swap_max_pages_per_second:g}"
        return CheckResult("swap", attributes, problem=problem)
    return CheckResult("swap", attributes)


def check_load(proc: Path, limits: HealthThresholds) -> CheckResult:
    """Unhealthy when the 5-minute load per online core is above ``load_per_core_max``."""
    names = ["HEALTH_LOAD_PER_CORE", "HEALTH_CORES"]
    load = measure(read_load_average, proc)
    cores = measure(count_online_cores, proc)
    for value in (load, cores):
        if isinstance(value, Unknown):
            return unknown_result("load", names, value.reason)
    assert isinstance(load, float) and isinstance(cores, int)
    per_core = load / cores
    attributes: dict[str, AttributeValue] = dict(zip(names, (per_core, cores)))
    if per_core > limits.load_per_core_max:
        problem = f"load {per_core:.2f} per core > {limits.load_per_core_max:g}"
        return CheckResult("load", attributes, problem=problem)
    return CheckResult("load", attributes)


def check_memory(proc: Path, limits: HealthThresholds) -> CheckResult:
    """Unhealthy when MemAvailable is below ``mem_available_min_mb``."""
    available = measure(read_mem_available_mb, proc)
    if isinstance(available, Unknown):
        return unknown_result("memory", ["HEALTH_MEM_AVAILABLE_MB"], available.reason)
    attributes: dict[str, AttributeValue] = {"HEALTH_MEM_AVAILABLE_MB": available}
    if available < limits.mem_available_min_mb:
        problem = f"MemAvailable {available:.0f} MiB < {limits.mem_available_min_mb:g} MiB"
        return CheckResult("memory", attributes, problem=problem)
    return CheckResult("memory", attributes)
