"""Start-up timestamps for benches: where the time before exec goes.

With ``$JOBWRAPPER_TIMESTAMPS`` (protocol.TIMESTAMPS_ENV) set to a file name, each
``stamp(stage)`` appends ``STAGE MONOTONIC_NS CPU_NS PID`` to that file. CLOCK_MONOTONIC
is one clock for every process of the machine, so a bench compares these with its own
``time.monotonic_ns()`` taken before it started us; CPU_NS is this process's CPU time
(user + system), which a busy machine changes far less than the wall clock. Unset
(always, in jobs): nothing is written, and a file that cannot be written never stops
a start.

Standard library only and imported first: the stage ``main`` is taken before any of
jobwrapper's other modules are loaded.
"""

from __future__ import annotations

import os
import time

_ENV = "JOBWRAPPER_TIMESTAMPS"  # == protocol.TIMESTAMPS_ENV (a test checks they agree)


def stamp(stage: str) -> None:
    """Append ``stage`` with the monotonic clock's now, if timestamps are asked for."""
    now, cpu = time.monotonic_ns(), time.process_time_ns()
    path = os.environ.get(_ENV)
    if not path:
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, f"{stage} {now} {cpu} {os.getpid()}\n".encode())
        finally:
            os.close(fd)
    except OSError:
        pass  # a bench's file must never break a job's start
