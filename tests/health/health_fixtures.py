"""Helpers for the health tests: fixture /proc trees and the real ClassAd parser."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jobwrapper.health import HealthReport, HealthThresholds, check_node

try:  # HTCondor >= 24 ships the bindings as classad2; older ones as classad
    import classad2 as classad
except ImportError:  # pragma: no cover
    import classad  # type: ignore[no-redef]

QUIET_VMSTAT = "nr_free_pages 1000\npswpin 100\npswpout 200\n"


def stat_text(iowait: int, busy: int, cores: int = 4) -> str:
    """A /proc/stat whose cpu line has ``iowait`` ticks and ``busy`` other ticks."""
    cpu = f"cpu  {busy} 0 0 0 {iowait} 0 0 0 0 0"
    per_cpu = "".join(f"cpu{n} 1 0 0 0 0 0 0 0 0 0\n" for n in range(cores))
    return f"{cpu}\n{per_cpu}intr 12345\nctxt 6789\n"


class FakeProc:
    """A /proc-like directory whose stat and vmstat change while the window passes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.now = 1000.0
        # A quiet window unless a test says otherwise: 1000 ticks, no I/O wait.
        self.after: dict[str, str] = {"stat": stat_text(iowait=0, busy=1000)}
        self.write(
            stat=stat_text(iowait=0, busy=0),
            vmstat=QUIET_VMSTAT,
            loadavg="0.50 1.00 1.50 2/300 4242\n",
            meminfo="MemTotal: 16384000 kB\nMemFree: 100 kB\nMemAvailable: 8388608 kB\n",
        )

    def write(self, **files: str) -> None:
        """Write files now (before the window)."""
        for name, text in files.items():
            (self.root / name).write_text(text)

    def then(self, **files: str) -> None:
        """Files as they will be read after the window."""
        self.after.update(files)

    def wait(self, seconds: float) -> None:
        """Stands in for time.sleep: the window passes, the counters move."""
        self.now += seconds
        self.write(**self.after)

    def clock(self) -> float:
        return self.now

    def check(self, limits: HealthThresholds) -> HealthReport:
        """Run every check against this directory, without sleeping."""
        return check_node(limits, self.root, self.wait, self.clock, now=lambda: 1_700_000_000)


def result(report: HealthReport, name: str) -> Any:
    """The CheckResult called ``name`` in ``report``."""
    return next(item for item in report.results if item.name == name)


def parse_classad(text: str) -> Any:
    """Parse STARTD_CRON output the way the startd does: old ClassAd syntax."""
    parser_types = getattr(classad, "ParserType", None) or classad.Parser
    body = "".join(line + "\n" for line in text.splitlines() if not line.startswith("-"))
    return classad.parseOne(body, parser_types.Old)


def is_undefined(value: Any) -> bool:
    return isinstance(value, classad.Value) and value == classad.Value.Undefined
