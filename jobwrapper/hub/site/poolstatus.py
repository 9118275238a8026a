"""The pool's free resources: one cached `condor_status` for the whole hub.

The options form shows what is free per choice, and the wait explanation (waiting.py)
what would start sooner. Both read the same answer of

    condor_status -af Name SlotType State Cpus Memory GPUs \
        TotalSlotCpus TotalSlotMemory TotalSlotGPUs

run as the hub's own user (slot ads are readable by every user of a pool), at most
once per `max_age` seconds however many users look: callers that arrive while it
runs share that run. A partitionable slot's Cpus/Memory/GPUs are what it has left
(HTCondor 25: `slot1@vm Partitionable Unclaimed 0 23977 0 2 24105 0` with a dynamic
slot of 2 CPUs carved out); a static slot counts as free only while Unclaimed;
dynamic slots are in use.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Optional

from ..queuewatch import shared_instance

STATUS_ATTRIBUTES = ("Name", "SlotType", "State", "Cpus", "Memory", "GPUs",
                     "TotalSlotCpus", "TotalSlotMemory", "TotalSlotGPUs")
DEFAULT_STATUS_CMD = "condor_status -af " + " ".join(STATUS_ATTRIBUTES)


@dataclasses.dataclass(frozen=True)
class Slot:
    """One slot of `condor_status -af` (STATUS_ATTRIBUTES); memory in MB."""

    name: str
    slot_type: str
    state: str
    cpus: int
    memory: int
    gpus: int
    total_cpus: int
    total_memory: int
    total_gpus: int

    @property
    def free(self) -> bool:
        """Whether a new job can get (part of) it now."""
        if self.slot_type == "Dynamic":
            return False
        if self.slot_type == "Partitionable":
            return self.cpus > 0 and self.memory > 0
        return self.state == "Unclaimed"

    def fits(self, cpus: float, memory: float, gpus: float, now: bool = True) -> bool:
        """Whether a job with these requests fits into what is free (now=True) or into
        the whole slot (now=False: if drained)."""
        if self.slot_type == "Dynamic":
            return False
        if now:
            if not self.free:
                return False
            have = (self.cpus, self.memory, self.gpus)
        else:
            have = (self.total_cpus, self.total_memory, self.total_gpus)
        return have[0] >= cpus and have[1] >= memory and have[2] >= gpus


def _number(word: str) -> int:
    """An -af value as an integer; `undefined` (no GPUs configured) is 0."""
    try:
        return int(float(word))
    except ValueError:
        return 0


def parse_status(output: str) -> tuple[Slot, ...]:
    """`condor_status -af` lines of STATUS_ATTRIBUTES → slots; other lines skipped."""
    slots = []
    for line in output.splitlines():
        words = line.split()
        if len(words) < 6:
            continue
        name, slot_type, state = words[:3]
        numbers = [_number(w) for w in words[3:9]]
        numbers += [0] * (6 - len(numbers))
        cpus, memory, gpus, total_cpus, total_memory, total_gpus = numbers
        slots.append(Slot(name, slot_type, state, cpus, memory, gpus,
                          total_cpus or cpus, total_memory or memory, total_gpus or gpus))
    return tuple(slots)


@dataclasses.dataclass(frozen=True)
class PoolFree:
    """What the pool has free, as of `taken` (time.time())."""

    slots: tuple[Slot, ...]
    taken: float

    @property
    def free_slots(self) -> list[Slot]:
        return [slot for slot in self.slots if slot.free]

    def count(self, cpus: float = 1, memory: float = 0, gpus: float = 0) -> int:
        """Slots that could start a job with these requests now."""
        return sum(1 for slot in self.slots if slot.fits(cpus, memory, gpus))

    def count_ever(self, cpus: float = 1, memory: float = 0, gpus: float = 0) -> int:
        """Slots that could run it at all (once their jobs have ended)."""
        return sum(1 for slot in self.slots if slot.fits(cpus, memory, gpus, now=False))

    def largest(self, resource: str, now: bool = True) -> int:
        """The most of `resource` ("cpus", "memory", "gpus") one slot has (free now)."""
        values = [getattr(slot, resource if now else f"total_{resource}")
                  for slot in self.slots
                  if slot.slot_type != "Dynamic" and (slot.free or not now)]
        return max(values, default=0)

    def as_list(self) -> list[list[int]]:
        """[[cpus, memory MB, gpus], ...] of the free slots, for the form's script."""
        return [[slot.cpus, slot.memory, slot.gpus] for slot in self.free_slots]


StatusRunner = Callable[[], Awaitable[str]]


class PoolStatus:
    """One `condor_status` at a time, answers kept for `max_age` seconds."""

    def __init__(self, run_status: StatusRunner, max_age: float = 30.0,
                 clock: Callable[[], float] = time.time,
                 parse: Callable[[str], tuple[Slot, ...]] = parse_status) -> None:
        self.run_status = run_status
        self.parse = parse  # Slurm's sinfo: hub/slurm/queue.py parse_sinfo
        self.max_age = max_age
        self.clock = clock
        self.last: Optional[PoolFree] = None
        self._task: Optional[asyncio.Task[Optional[PoolFree]]] = None
        self.failure = ""

    def cached(self) -> Optional[PoolFree]:
        """The last answer, however old (None before the first)."""
        return self.last

    async def get(self) -> Optional[PoolFree]:
        """An answer at most `max_age` old, asking condor_status if needed; the last
        one (or None) when the query fails."""
        if self.last is not None and self.clock() - self.last.taken < self.max_age:
            return self.last
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._refresh())
        return await asyncio.shield(self._task)

    async def _refresh(self) -> Optional[PoolFree]:
        try:
            output = await self.run_status()
        except Exception as error:  # a failed query: keep the old answer
            self.failure = str(error)
            return self.last
        self.failure = ""
        self.last = PoolFree(self.parse(output), self.clock())
        return self.last


_SHARED: dict[tuple[object, ...], PoolStatus] = {}


def shared_status(key: tuple[object, ...], make: Callable[[], PoolStatus]) -> PoolStatus:
    """The hub process's PoolStatus for `key` (command, prefix, max age, event loop)."""
    return shared_instance(_SHARED, key, make)


def memory_text(megabytes: float) -> str:
    """`2 GB`, `1.5 GB`, `512 MB`, `10 TB`."""
    if megabytes >= 1024 * 1024:
        return f"{megabytes / (1024 * 1024):.3g} TB"
    if megabytes >= 1024:
        return f"{megabytes / 1024:.3g} GB"
    return f"{int(megabytes)} MB"


def summary(free: PoolFree, choices: Iterable[str] = ("cpus", "memory", "gpus")) -> str:
    """`3 slots free now; at most 8 CPUs, 30 GB memory, 2 GPUs in one`."""
    slots = free.free_slots
    if not slots:
        return "No slot is free now: a new notebook waits until one is."
    parts = []
    for resource in choices:
        most = free.largest(resource)
        if resource == "memory":
            parts.append(f"{memory_text(most)} memory")
        elif resource == "cpus":
            parts.append(f"{most} CPU{'s' if most != 1 else ''}")
        elif resource == "gpus" and most:
            parts.append(f"{most} GPU{'s' if most != 1 else ''}")
    count = len(slots)
    return (f"{count} slot{'s' if count != 1 else ''} free now; at most "
            f"{', '.join(parts)} in one.")
