"""Negotiation cycles, as far as a job can tell: when an idle job is matched.

HTCondor matches idle jobs to slots in negotiation cycles: one every
NEGOTIATOR_INTERVAL (default 60 s), and one sooner when the schedd asks for it
(condor_submit does, SUBMIT_SEND_RESCHEDULE = True by default; so does
condor_reschedule), but never within NEGOTIATOR_MIN_INTERVAL (default 5 s) of the
previous one. So a job submitted right after a cycle waits up to 5 s, and one whose
submit sent no reschedule waits up to a whole interval.

`negotiator_interval = 0` (the default of the local pool) turns this off: a job is
matched when it is submitted. Otherwise cycles and requests are files in
`<pool>/negotiator/` (shared, sticky): `cycle-<time>`, made under the slot lock by the
first shadow that finds a cycle due, and `request-<time>-<pid>`, made by
condor_submit (if `submit_send_reschedule`) and condor_reschedule. No matchmaking
beyond that: a matched job still waits until its resources fit (slots.py).
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import time
from pathlib import Path

from jobwrapper.localpool.config import PoolConfig, PoolLayout

KEEP_SECONDS = 3600.0  # older cycle and request files are removed by their owner


def _ensure_dir(layout: PoolLayout) -> Path:
    """The shared dir, made by `init` (older pools: made here if the caller may)."""
    if not layout.negotiator.is_dir():
        layout.ensure()
    return layout.negotiator


def _times(path: Path, prefix: str) -> list[float]:
    times = []
    with contextlib.suppress(FileNotFoundError):
        for name in os.listdir(path):
            if name.startswith(prefix):
                with contextlib.suppress(ValueError):
                    times.append(float(name[len(prefix):].split("-")[0]))
    return sorted(times)


def _stamp(moment: float) -> str:
    """A time as the file names hold it (microseconds)."""
    return f"{moment:.6f}"


def request_cycle(layout: PoolLayout, now: float | None = None) -> None:
    """Ask for a negotiation cycle (condor_reschedule; condor_submit by default)."""
    path = _ensure_dir(layout)
    stamp = time.time() if now is None else now
    fd = os.open(path / f"request-{_stamp(stamp)}-{os.getpid()}", os.O_WRONLY | os.O_CREAT, 0o644)
    os.close(fd)


def next_cycle(cycles: list[float], requests: list[float], config: PoolConfig,
               after: float) -> float:
    """When the next cycle after the last of `cycles` runs: at the first tick of the
    interval at or after `after`, or sooner for a request made since the last cycle,
    but not within the minimum interval of it. The first cycle of a pool: `after`."""
    if not cycles:
        return after
    last = cycles[-1]
    ticks = max(1, math.ceil((after - last) / config.negotiator_interval))
    periodic = last + ticks * config.negotiator_interval
    asked = [request for request in requests if request > last]
    if asked:
        return min(periodic, max(asked[0], last + config.negotiator_min_interval))
    return periodic


def matched_at(layout: PoolLayout, config: PoolConfig, submitted: float) -> float | None:
    """The time of the first cycle at or after `submitted`, recording the cycles that
    are due by now; None while it is still to come. With negotiation off: `submitted`."""
    if config.negotiator_interval <= 0:
        return submitted
    submitted = float(_stamp(submitted))  # as a cycle file names it, so it is found again
    path = _ensure_dir(layout)
    later = [cycle for cycle in _times(path, "cycle-") if cycle >= submitted]
    if later:
        return later[0]
    with open(layout.slot_lock, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one shadow records a cycle, the others see it
        now = time.time()
        while True:
            cycles = _times(path, "cycle-")
            later = [cycle for cycle in cycles if cycle >= submitted]
            if later:
                break
            cycle = next_cycle(cycles, _times(path, "request-"), config, submitted)
            if cycle > now:
                return None
            fd = os.open(path / f"cycle-{_stamp(cycle)}", os.O_WRONLY | os.O_CREAT, 0o644)
            os.close(fd)
    _prune(path, now)
    return later[0]


def _prune(path: Path, now: float) -> None:
    """Remove this user's cycle and request files older than KEEP_SECONDS."""
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(path):
            with contextlib.suppress(OSError, ValueError):
                stamp = float(entry.name.split("-")[1])
                if now - stamp > KEEP_SECONDS and entry.stat().st_uid == os.geteuid():
                    os.unlink(entry.path)
