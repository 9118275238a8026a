"""Waiting in tests: poll a condition until it holds or a deadline passes (one helper
for every test directory; never a bare sleep that races)."""

from __future__ import annotations

import subprocess
import time
from typing import Any, Callable, Optional

import pytest


def wait_for(predicate: Callable[[], Any], timeout: float = 15.0, what: str = "",
             process: Optional[subprocess.Popen] = None, interval: float = 0.05) -> Any:
    """Poll `predicate` until it returns something true, and return that; fail the test
    at the deadline (or at once when `process` exits meanwhile)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if process is not None and process.poll() is not None:
            pytest.fail(f"{what or predicate}: the process exited with {process.returncode}")
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:g} s waiting for {what or predicate}")


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> float:
    """wait_for(), returning how many seconds it took."""
    started = time.monotonic()
    wait_for(condition, timeout, what)
    return time.monotonic() - started
