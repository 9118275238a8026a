"""The ``[health]`` table of the site config: thresholds and the files the checks read.

Every key is a field of :class:`HealthThresholds` with its default and a help text
(docs/health.md lists them). :func:`thresholds_from_table` validates the table on its
own, so a typo in ``[health]`` is an error naming the file and the key, never a
silent default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

from jobwrapper.errors import ConfigError

REBOOT_SOURCES = ("file", "needs-restarting")


def _key(default: Any, help_text: str) -> Any:
    """A dataclass field carrying its help text (shown in docs and error messages)."""
    return field(default=default, metadata={"help": help_text})


@dataclass(frozen=True)
class HealthThresholds:
    """The validated ``[health]`` table; each field is one key, with its default."""

    iowait_max_percent: float = _key(
        30.0, "Unhealthy when the CPU time spent in I/O wait over the window is above this."
    )
    swap_max_pages_per_second: float = _key(
        1000.0, "Unhealthy when pages swapped in plus out per second over the window are above."
    )
    load_per_core_max: float = _key(
        1.5, "Unhealthy when the 5-minute load average divided by the online cores is above."
    )
    mem_available_min_mb: float = _key(
        1024.0, "Unhealthy when MemAvailable (/proc/meminfo) is below this many MiB."
    )
    window_seconds: float = _key(
        5.0, "Seconds between the two readings of /proc/stat and /proc/vmstat."
    )
    unknown_is_healthy: bool = _key(
        False, "Count a check that cannot be measured as passed (default: as failed)."
    )
    reboot_required_is_unhealthy: bool = _key(
        True, "A node waiting for a reboot is unhealthy for interactive use."
    )
    reboot_sources: tuple[str, ...] = _key(
        REBOOT_SOURCES,
        "How a pending reboot is detected: 'file' (reboot_required_file exists) and/or "
        "'needs-restarting' (`needs-restarting -r` exits 1); [] turns the check off.",
    )
    reboot_required_file: str = _key(
        "/run/reboot-required", "File whose existence means a reboot is required."
    )
    needs_restarting_timeout_seconds: float = _key(
        30.0, "Seconds `needs-restarting -r` may take before the check is unknown."
    )
    state_file: str = _key(
        "/etc/jobwrapper/health-override",
        "Admin state file: 'unhealthy <reason>', 'healthy [<reason>]' or 'auto'.",
    )


def key_help() -> dict[str, str]:
    """Each ``[health]`` key with its help text, in declaration order."""
    return {item.name: item.metadata["help"] for item in fields(HealthThresholds)}


def _is_number(value: Any) -> bool:
    """An int or a finite float; TOML's bool is not a number, nor are inf and nan."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _problem(name: str, value: Any, default: Any) -> str | None:
    """What is wrong with ``value`` for key ``name`` (None when it is fine)."""
    if isinstance(default, bool):
        return None if isinstance(value, bool) else "must be true or false"
    if isinstance(default, float):
        if not _is_number(value):
            return f"must be a number, e.g. {name} = {default}"
        if name.endswith("_seconds"):
            return None if value > 0 else "must be more than 0 seconds"
        if value < 0:
            return "must not be negative"
        if name.endswith("_percent") and value > 100:
            return "is a percentage: use a value from 0 to 100"
        return None
    if isinstance(default, str):
        if isinstance(value, str) and value and "\0" not in value:
            return None
        return "must be a non-empty string (a path)"
    allowed = ", ".join(f'"{source}"' for source in REBOOT_SOURCES)
    if not isinstance(value, list) or any(item not in REBOOT_SOURCES for item in value):
        return f"must be a list of {allowed} (or [] to skip the reboot check)"
    return None


def _shown(value: Any) -> str:
    """A short, one-line rendering of a bad value for an error message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _converted(value: Any, default: Any) -> Any:
    if isinstance(default, float):
        return float(value)
    if isinstance(default, tuple):
        return tuple(dict.fromkeys(value))
    return value


def thresholds_from_table(table: dict[str, Any], source: str) -> HealthThresholds:
    """Validate the ``[health]`` table read from ``source`` (a file name, for messages).

    Raises ConfigError with one line naming the file, ``health.<key>`` and what to do
    when a key is unknown or has the wrong type or range. Keys not set keep their
    defaults.
    """
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: health: must be a table; write a [health] section")
    defaults = {item.name: item.default for item in fields(HealthThresholds)}
    values: dict[str, Any] = {}
    for name, value in table.items():
        if name not in defaults:
            known = ", ".join(defaults)
            raise ConfigError(
                f"{source}: health.{name}: unknown key; remove it or use one of: {known}"
            )
        problem = _problem(name, value, defaults[name])
        if problem:
            raise ConfigError(f"{source}: health.{name}: {problem} (got {_shown(value)})")
        values[name] = _converted(value, defaults[name])
    return HealthThresholds(**values)
