"""Claims kept idle after a job ended (`+KeepClaimIdle = N` in its ad), as a schedd
keeps them: the dynamic slot stays claimed for N seconds, unused by anyone else, and
the owner's next job that fits into it starts there without a negotiation cycle.

HTCondor 25.0 (schedd.cpp): the claim is kept when the job exited, was removed or
killed, not when it was held; `FindRunnableJobForClaim` gives it to the same user's
next runnable job whose requirements the slot meets; at the deadline it is released.
Here each kept claim is a file `<pool>/claims/<slot name>.json` in a sticky dir; its
owner is the file's owner. It is written before the job's ad says the slot is free,
and taken under the slot lock, so the resources are never counted free in between.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import time

from jobwrapper.localpool.ads.jobad import Slot
from jobwrapper.localpool.config import PoolError, PoolLayout, write_json_atomic


@dataclasses.dataclass(frozen=True)
class IdleClaim:
    """A dynamic slot kept for its owner until `expires` (epoch seconds)."""

    slot: Slot
    uid: int
    expires: float

    @property
    def held(self) -> tuple[int, int, int]:
        """(cpus, memory MB, disk KiB) the kept slot holds."""
        return self.slot.cpus, self.slot.memory, self.slot.disk

    def fits(self, wanted: Slot) -> bool:
        """True when a job provisioned as `wanted` fits into the kept slot."""
        return (not wanted.gpus and wanted.cpus <= self.slot.cpus
                and wanted.memory <= self.slot.memory and wanted.disk <= self.slot.disk)


def keep(layout: PoolLayout, slot: Slot, seconds: float) -> bool:
    """Keep `slot` claimed for this user for `seconds`; False when it cannot be written
    (another user's file by that name in the sticky dir): then the slot is freed, as a
    schedd relinquishes a claim it cannot keep, and the job's end goes on."""
    data = {"slot": dataclasses.asdict(slot), "expires": time.time() + seconds}
    try:
        if not layout.claims.is_dir():
            layout.ensure()
        write_json_atomic(layout.claims / f"{slot.name}.json", data, mode=0o644)
    except (OSError, PoolError):
        return False
    return True


def live(layout: PoolLayout) -> list[IdleClaim]:
    """The claims kept now; this user's expired ones are removed."""
    found = []
    now = time.time()
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(layout.claims):
            if not entry.name.endswith(".json"):
                continue
            try:
                with open(entry.path) as handle:  # the owner is the file's, not a field
                    uid = os.fstat(handle.fileno()).st_uid
                    raw = json.load(handle)
                claim = IdleClaim(Slot(**raw["slot"]), uid, float(raw["expires"]))
            except (OSError, ValueError, TypeError, KeyError):
                continue
            if claim.expires > now:
                found.append(claim)
            elif claim.uid == os.geteuid():
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
    return found


def own(claims: list[IdleClaim], wanted: Slot) -> IdleClaim | None:
    """This user's kept claim that `wanted` fits into (the smallest such), or None."""
    mine = [claim for claim in claims if claim.uid == os.geteuid() and claim.fits(wanted)]
    return min(mine, key=lambda claim: (claim.slot.cpus, claim.slot.memory), default=None)


def take(layout: PoolLayout, claim: IdleClaim) -> None:
    """The kept claim is used again (call under the slot lock)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(layout.claims / f"{claim.slot.name}.json")
