"""jobwrapper.signalflag: a stop flag that signal handlers may set without a deadlock."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from jobwrapper.signalflag import SignalFlag

# The main thread clears and waits in a loop while SIGALRM's handler sets the flag every
# 2 ms: threading.Event deadlocks here within a second (the handler waits for the lock
# its own thread holds inside wait() or clear()).
STORM = """
import signal, sys, time
FLAG
flag = make()
signal.signal(signal.SIGALRM, lambda *_: flag.set())
signal.setitimer(signal.ITIMER_REAL, 0.002, 0.002)
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    flag.clear()
    flag.wait(0)
signal.setitimer(signal.ITIMER_REAL, 0)
print("survived")
"""


def _storm(make: str, seconds: float) -> subprocess.CompletedProcess:
    code = STORM.replace("FLAG", make)
    try:
        return subprocess.run([sys.executable, "-c", code, str(seconds)], capture_output=True,
                              text=True, timeout=seconds + 20, check=False)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess([], -1, "", "hung")


def test_a_signal_storm_while_waiting_never_deadlocks():
    result = _storm("from jobwrapper.signalflag import SignalFlag as make", 2)
    assert result.stdout.strip() == "survived", result.stderr[-500:]


# wake() ends the wait too, but leaves the flag unset: "look again", not "stop"
@pytest.mark.parametrize(("action", "result"), [("set", True), ("wake", False)])
def test_set_or_wake_from_a_signal_handler_ends_the_wait_at_once(action: str, result: bool):
    flag = SignalFlag()
    previous = signal.signal(signal.SIGALRM, lambda *_: getattr(flag, action)())
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        started = time.monotonic()
        assert flag.wait(30) is result
        assert time.monotonic() - started < 15
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_wait_without_set_returns_false_after_the_timeout():
    assert SignalFlag().wait(0.01) is False


def test_clear_unsets_and_a_later_wait_sleeps_again():
    flag = SignalFlag()
    flag.set()
    flag.clear()
    assert (flag.is_set(), flag.wait(0.01)) == (False, False)

