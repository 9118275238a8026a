"""What the admin and the package manager say: the state file and a pending reboot.

The state file (default /etc/jobwrapper/health-override) lets configuration
management force a verdict, e.g. for maintenance. Its one meaningful line is::

    unhealthy <reason>     the node is unhealthy, whatever is measured
    healthy [<reason>]     the node is healthy, whatever is measured
    auto [<reason>]        the measurements decide (same as no file)

Blank lines and lines starting with ``#`` are ignored. Anything else makes the
check unknown, so a typo never passes silently.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Optional

from jobwrapper.health.checks import CheckResult, unknown_result
from jobwrapper.health.thresholds import HealthThresholds

STATE_ATTRIBUTE = "HEALTH_ADMIN_STATE"
REBOOT_ATTRIBUTE = "HEALTH_REBOOT_REQUIRED"
MAX_STATE_FILE_BYTES = 4096
MAX_REASON_CHARS = 200
_STATES = ("healthy", "unhealthy", "auto")


def one_line(text: str) -> str:
    """``text`` with control characters turned into spaces, trimmed to a sane length."""
    cleaned = "".join(char if char.isprintable() else " " for char in text).strip()
    return cleaned[:MAX_REASON_CHARS]


def parse_state_file(text: str) -> tuple[str, str]:
    """The state (healthy, unhealthy or auto) and the reason written after it.

    Raises ValueError with a one-line explanation when the text is not one
    meaningful line starting with a known state.
    """
    lines = [line.strip() for line in text.splitlines()]
    meaningful = [line for line in lines if line and not line.startswith("#")]
    if not meaningful:
        return "auto", ""
    if len(meaningful) > 1:
        raise ValueError(f"{len(meaningful)} lines where one is expected")
    state, *rest = meaningful[0].split(None, 1)
    reason = rest[0] if rest else ""
    if state.lower() not in _STATES:
        raise ValueError(
            f"starts with {one_line(state)[:30]!r}; write 'unhealthy <reason>', 'healthy' or 'auto'"
        )
    return state.lower(), one_line(reason)


def _read_state_file(path: str) -> Optional[str]:
    """The file's text, or None when it does not exist (the usual case)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_STATE_FILE_BYTES + 1)
    except (FileNotFoundError, NotADirectoryError):
        return None
    if len(data) > MAX_STATE_FILE_BYTES:
        raise ValueError(f"larger than {MAX_STATE_FILE_BYTES} bytes")
    return data.decode("utf-8", errors="replace")


def check_state_file(path: str) -> CheckResult:
    """The admin's verdict from the state file; unknown if it is unreadable or garbage."""
    try:
        text = _read_state_file(path)
        state, reason = parse_state_file(text) if text is not None else ("auto", "")
    except OSError as error:
        return unknown_result("admin", [STATE_ATTRIBUTE], f"cannot read {path}: {error.strerror}")
    except ValueError as error:
        return unknown_result("admin", [STATE_ATTRIBUTE], f"{path}: {error}")
    attributes = {STATE_ATTRIBUTE: state}
    said = f"{path} says {state}" + (f": {reason}" if reason else "")
    if state == "unhealthy":
        return CheckResult("admin", attributes, problem=said, forced=False)
    if state == "healthy":
        return CheckResult("admin", attributes, problem=None, forced=True)
    return CheckResult("admin", attributes)


def _file_says(path: str) -> tuple[Optional[bool], str]:
    """(reboot required?, how we know); None when the file cannot be checked."""
    try:
        os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False, f"{path} is absent"
    except OSError as error:
        return None, f"cannot check {path}: {error.strerror}"
    return True, f"{path} exists"


def _needs_restarting_says(timeout: float) -> tuple[Optional[bool], str]:
    """(reboot required?, how we know) from ``needs-restarting -r``'s exit status."""
    command = shutil.which("needs-restarting")
    if command is None:
        return None, "needs-restarting is not installed (not on PATH)"
    try:
        finished = subprocess.run(
            [command, "-r"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None, f"needs-restarting -r took longer than {timeout:g} s"
    except OSError as error:
        return None, f"cannot run {command}: {error.strerror}"
    if finished.returncode in (0, 1):
        return finished.returncode == 1, f"needs-restarting -r exited {finished.returncode}"
    return None, f"needs-restarting -r failed with exit status {finished.returncode}"


def check_reboot(limits: HealthThresholds) -> CheckResult:
    """Whether a reboot is pending, from every source in ``reboot_sources``.

    Required if any source says so; not required only when every source answered.
    """
    answers = []
    if "file" in limits.reboot_sources:
        answers.append(_file_says(limits.reboot_required_file))
    if "needs-restarting" in limits.reboot_sources:
        answers.append(_needs_restarting_says(limits.needs_restarting_timeout_seconds))
    required = [how for says, how in answers if says is True]
    if required:
        problem = f"reboot required ({', '.join(required)})"
        attributes = {REBOOT_ATTRIBUTE: True}
        if limits.reboot_required_is_unhealthy:
            return CheckResult("reboot", attributes, problem=problem)
        return CheckResult("reboot", attributes)
    unanswered = [how for says, how in answers if says is None]
    if unanswered:
        return unknown_result("reboot", [REBOOT_ATTRIBUTE], "; ".join(unanswered))
    return CheckResult("reboot", {REBOOT_ATTRIBUTE: False})
