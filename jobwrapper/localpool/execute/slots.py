"""The emulated execute node: one partitionable slot of the pool's configured size.

No negotiator and no matchmaking: a job starts when its requests fit into what the
running jobs leave free (CPUs, memory, disk; GPUs never, the node has none).
Dynamic slot numbers count up like a startd's (`slot1_1`, `slot1_2`, ...).

The lock file holds two numbers: the next dynamic slot number, and how many times a
job has left the slot (`released`). An idle job whose claim did not fit claims again
only when that count changed or when the shadow of a job it found running died (which
frees its share without a release). So idle jobs behind a full slot cost almost
nothing: 60 of them claiming ten times a second took a whole CPU, as each claim reads
every queued ad.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import time
from collections.abc import Callable, Sequence
from typing import TextIO

from jobwrapper.localpool.ads.jobad import Slot, provision
from jobwrapper.localpool.ads.jobspec import JobSpec
from jobwrapper.localpool.config import PoolConfig, PoolLayout
from jobwrapper.localpool.execute import claims
from jobwrapper.localpool.records import JobRecord, QueueView, ShadowInfo, shadow_alive

RECHECK_SECONDS = 2.0  # how often a waiting job looks whether a running job's shadow died


def running_jobs(view: QueueView) -> list[JobRecord]:
    """The queued jobs that occupy the slot now."""
    return [job for job in view.jobs() if job.ad.get("CurrentHosts") == 1]


def used_resources(running: Sequence[JobRecord],
                   kept: Sequence[claims.IdleClaim] = ()) -> tuple[int, int, int]:
    """(cpus, memory MB, disk KiB) held by the `running` jobs and the `kept` claims."""
    held = [(int(job.ad.get("CpusProvisioned", job.ad.get("RequestCpus", 1))),
             int(job.ad.get("MemoryProvisioned", job.ad.get("RequestMemory", 1))),
             int(job.ad.get("DiskProvisioned", job.ad.get("RequestDisk", 1))))
            for job in running]
    held += [claim.held for claim in kept]
    return (sum(cpus for cpus, _, _ in held), sum(memory for _, memory, _ in held),
            sum(disk for _, _, disk in held))


def fits(config: PoolConfig, used: tuple[int, int, int], slot: Slot) -> bool:
    """True when `slot` fits next to what is used."""
    if slot.gpus:
        return False
    return (
        used[0] + slot.cpus <= config.slot_cpus
        and used[1] + slot.memory <= config.slot_memory
        and used[2] + slot.disk <= config.slot_disk
    )


def _parse(text: str) -> tuple[int, int]:
    """(next slot id, released count) from the lock file's text; (1, 0) when empty."""
    numbers = [int(word) for word in text.split() if word.isdigit()]
    return (numbers[0] if numbers else 1), (numbers[1] if len(numbers) > 1 else 0)


def _write(handle: TextIO, slot_id: int, released: int) -> None:
    handle.seek(0)
    handle.truncate()
    handle.write(f"{slot_id} {released}\n")
    handle.flush()


def released_count(layout: PoolLayout) -> int | None:
    """How many times a job left the slot, read without the lock (None: unreadable)."""
    try:
        return _parse(layout.slot_lock.read_text())[1]
    except (OSError, ValueError):
        return None


def released(layout: PoolLayout) -> None:
    """A job left the slot (exit, hold, eviction): waiting jobs claim again."""
    with contextlib.suppress(OSError), open(layout.slot_lock, "r+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        slot_id, count = _parse(handle.read())
        _write(handle, slot_id, count + 1)


class Claimer:
    """One idle job's claims: a dynamic slot as soon as its requests fit, or the slot
    of an earlier job of its owner that kept its claim (claims.py)."""

    def __init__(self, layout: PoolLayout, config: PoolConfig, spec: JobSpec) -> None:
        self.layout, self.config, self.spec = layout, config, spec
        self.view = QueueView(layout)
        self.failed = False
        self._count = 0  # the released count at the last claim that did not fit ...
        self._holders: list[ShadowInfo] = []  # ... the shadows of the jobs it counted ...
        self._expiry = math.inf  # ... and when the first kept claim it counted expires
        self._checked = 0.0

    def wanted(self, slot_id: int = 0) -> Slot:
        return provision(self.spec, slot_id, self.config.host(), self.config.slot_disk)

    def kept_claim(self) -> bool:
        """True when a claim its owner kept fits the job: it needs no negotiation."""
        return claims.own(claims.live(self.layout), self.wanted()) is not None

    def worth_trying(self) -> bool:
        """False while nothing left the slot since the last claim that did not fit."""
        if not self.failed or released_count(self.layout) != self._count:
            return True
        if time.time() >= self._expiry:
            return True
        if time.monotonic() - self._checked < RECHECK_SECONDS:
            return False
        self._checked = time.monotonic()
        return not all(shadow_alive(holder) for holder in self._holders)

    def claim(self, mark_running: Callable[[Slot], None]) -> Slot | None:
        """A dynamic slot for the job if it fits now; `mark_running` runs under the lock."""
        with open(self.layout.slot_lock, "r+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            slot_id, count = _parse(handle.read())
            slot = self.wanted(slot_id)
            kept = claims.live(self.layout)
            mine = claims.own(kept, slot)
            if mine is not None:
                claims.take(self.layout, mine)
                mark_running(mine.slot)
                return mine.slot
            running = running_jobs(self.view)
            if not fits(self.config, used_resources(running, kept), slot):
                self.failed, self._count = True, count
                self._holders = [job.shadow for job in running]
                self._expiry = min((claim.expires for claim in kept), default=math.inf)
                self._checked = time.monotonic()
                return None
            mark_running(slot)
            _write(handle, slot_id + 1, count)
        return slot
