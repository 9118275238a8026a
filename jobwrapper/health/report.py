"""Running every check and judging the node: the verdict and the reason for it.

Order of precedence: the admin's state file (``unhealthy`` or ``healthy``) wins;
otherwise any failed check makes the node unhealthy; otherwise a check that could
not be measured makes it unhealthy unless ``unknown_is_healthy = true``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from jobwrapper.health.admin import check_reboot, check_state_file
from jobwrapper.health.checks import (
    AttributeValue,
    CheckResult,
    check_iowait,
    check_load,
    check_memory,
    check_swap,
)
from jobwrapper.health.proc import read_window
from jobwrapper.health.thresholds import HealthThresholds

VERDICT_ATTRIBUTE = "HEALTHY_FOR_INTERACTIVE_USE"


@dataclass(frozen=True)
class HealthReport:
    """The verdict, why, and every check's result; ``attributes()`` is what is published."""

    healthy: bool
    reason: str
    results: tuple[CheckResult, ...]
    window_seconds: float
    checked_at: int  # seconds since the epoch

    @property
    def failed(self) -> list[str]:
        """Names of the checks the node fails."""
        return [result.name for result in self.results if result.problem]

    @property
    def unknown(self) -> list[str]:
        """Names of the checks that could not be measured."""
        return [result.name for result in self.results if result.unknown]

    def attributes(self) -> list[tuple[str, AttributeValue]]:
        """The ClassAd attributes, verdict first, in a stable order."""
        published: list[tuple[str, AttributeValue]] = [
            (VERDICT_ATTRIBUTE, self.healthy),
            ("HEALTH_REASON", self.reason),
            ("HEALTH_FAILED", ",".join(self.failed)),
            ("HEALTH_UNKNOWN", ",".join(self.unknown)),
        ]
        for result in self.results:
            published.extend(result.attributes.items())
        published.append(("HEALTH_WINDOW_SECONDS", self.window_seconds))
        published.append(("HEALTH_CHECKED_AT", self.checked_at))
        return published


def judge(results: list[CheckResult], unknown_is_healthy: bool) -> tuple[bool, str]:
    """The verdict and a one-line reason for it."""
    problems = [result.problem for result in results if result.problem]
    unknowns = [result.unknown for result in results if result.unknown]
    forced = next((result for result in results if result.forced is not None), None)
    if forced is not None and forced.forced:
        ignored = problems + unknowns
        note = f" (ignoring: {'; '.join(ignored)})" if ignored else ""
        return True, f"forced healthy by the admin state file{note}"
    if problems:
        return False, "; ".join(problems + [f"unknown {text}" for text in unknowns])
    if unknowns and not unknown_is_healthy:
        return False, "; ".join(f"unknown {text}" for text in unknowns)
    if unknowns:
        return True, "passed, with unknown_is_healthy: unknown " + "; unknown ".join(unknowns)
    return True, "all checks passed"


def check_node(
    limits: HealthThresholds,
    proc: Path = Path("/proc"),
    wait: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    now: Optional[Callable[[], float]] = None,
) -> HealthReport:
    """Run every check with ``limits``; never raises for a missing or broken source."""
    before, after = read_window(proc, limits.window_seconds, wait, clock)
    results = [
        check_state_file(limits.state_file),
        check_iowait(before, after, limits),
        check_swap(before, after, limits),
        check_load(proc, limits),
        check_memory(proc, limits),
    ]
    if limits.reboot_sources:
        results.append(check_reboot(limits))
    healthy, reason = judge(results, limits.unknown_is_healthy)
    checked_at = int((now or time.time)())
    return HealthReport(healthy, reason, tuple(results), limits.window_seconds, checked_at)
