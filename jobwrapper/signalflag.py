"""A stop flag that a signal handler may set: `threading.Event` without its lock.

`threading.Event.set()` takes the event's lock. A Python signal handler runs in the main
thread between two bytecodes, also while that thread is inside `Event.wait()` or
`clear()` holding the same (non-reentrant) lock: the handler then waits for itself,
forever, and every later signal's handler nests into the same wait. A shadow stuck so
ignores condor_rm and the pool's shutdown (seen once in CI: a job that never left the
queue). This flag is a plain attribute plus a self-pipe: `set()` writes one byte and
takes no lock, `wait()` sleeps in select() on the pipe, so a signal wakes it at once.
"""

from __future__ import annotations

import contextlib
import os
import select


class SignalFlag:
    """`set`, `is_set`, `clear` and `wait(timeout)` as `threading.Event`: one waiter (any
    thread), set by signal handlers or by other threads (the job's watchdog); `wake`
    ends a wait without setting the flag."""

    def __init__(self) -> None:
        self._set = False
        self._read, self._write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def set(self) -> None:
        self._set = True
        self.wake()

    def wake(self) -> None:
        """End the current (or next) `wait` early without setting the flag: a signal
        that means "look again" (SIGCHLD), not "stop"."""
        with contextlib.suppress(BlockingIOError):  # a full pipe wakes the waiter anyway
            os.write(self._write, b".")

    def is_set(self) -> bool:
        return self._set

    def clear(self) -> None:
        self._set = False
        self._drain()

    def wait(self, timeout: float) -> bool:
        """Sleep until set or `timeout` seconds passed; True when set."""
        if not self._set:
            select.select([self._read], [], [], timeout)
            self._drain()
        return self._set

    def _drain(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self._read, 512):
                pass
