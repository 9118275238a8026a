"""The emulated execute node: one partitionable slot of the pool's configured size.

No negotiator and no matchmaking: a job starts when its requests fit into what the
running jobs leave free (CPUs, memory, disk; GPUs never, the node has none).
Dynamic slot numbers count up like a startd's (`slot1_1`, `slot1_2`, ...).
The lock file also holds the next dynamic slot number.
"""

from __future__ import annotations

import fcntl
from typing import Callable

from jobwrapper.localpool.ads.jobad import Slot, provision
from jobwrapper.localpool.ads.jobspec import JobSpec
from jobwrapper.localpool.config import PoolConfig, PoolLayout
from jobwrapper.localpool.records import queued_jobs


def used_resources(layout: PoolLayout) -> tuple[int, int, int]:
    """(cpus, memory MB, disk KiB) held by jobs that occupy the slot now."""
    cpus = memory = disk = 0
    for job in queued_jobs(layout):
        if job.ad.get("CurrentHosts") == 1:
            cpus += int(job.ad.get("CpusProvisioned", job.ad.get("RequestCpus", 1)))
            memory += int(job.ad.get("MemoryProvisioned", job.ad.get("RequestMemory", 1)))
            disk += int(job.ad.get("DiskProvisioned", job.ad.get("RequestDisk", 1)))
    return cpus, memory, disk


def fits(config: PoolConfig, used: tuple[int, int, int], slot: Slot) -> bool:
    """True when `slot` fits next to what is used."""
    if slot.gpus:
        return False
    return (
        used[0] + slot.cpus <= config.slot_cpus
        and used[1] + slot.memory <= config.slot_memory
        and used[2] + slot.disk <= config.slot_disk
    )


def claim(
    layout: PoolLayout,
    config: PoolConfig,
    spec: JobSpec,
    mark_running: Callable[[Slot], None],
) -> Slot | None:
    """A dynamic slot for the job if it fits now; `mark_running` runs under the lock."""
    with open(layout.slot_lock, "r+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        text = handle.read().strip()
        slot_id = int(text) if text.isdigit() else 1
        slot = provision(spec, slot_id, config.host(), config.slot_disk)
        if not fits(config, used_resources(layout), slot):
            return None
        mark_running(slot)
        handle.seek(0)
        handle.truncate()
        handle.write(f"{slot_id + 1}\n")
        handle.flush()
    return slot
