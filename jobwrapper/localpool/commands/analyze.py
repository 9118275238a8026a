"""`condor_q -better-analyze ID`: why a job of the local pool runs or waits.

The layout follows HTCondor 25.0.13's (real outputs in tests/hub/expected/waiting/):
the job's Requirements, the request attributes it names, the table "reduces to these
conditions" with the slots matched now (and, while a job holds part of the slot, an
"If Drained" column: matched by the whole, empty slot), the "Run analysis summary"
counts and the last match lines. The pool has one partitionable slot, so every count
is 0 or 1: a job whose requests exceed the slot's size (or asks for GPUs: the node has
none) is rejected by its own requirements and never runs; one that fits the slot but
not what the running jobs leave "would match if drained"; one that fits is willing.
No real matchmaking: the local pool has no record of failed matches, so an idle job
that does not fit now says "no match found" as of the time of the query.
"""

from __future__ import annotations

import time
from typing import Any

from jobwrapper.localpool.ads.classads import Ad, format_for_print
from jobwrapper.localpool.config import PoolConfig, PoolLayout
from jobwrapper.localpool.records import JobRecord

from .status import slot_ads

_STATES = {2: "Job is running.", 3: "Job is removed.", 4: "Job is completed.",
           5: "Job is held."}


def _conditions(ad: Ad) -> list[tuple[str, str, str | None]]:
    """(condition text, slot attribute, job request attribute) in the table's order."""
    rows: list[tuple[str, str, str | None]] = [
        ('TARGET.Arch == "X86_64"', "", None),
        ('TARGET.OpSys == "LINUX"', "", None),
        ("TARGET.Disk >= RequestDisk", "Disk", "RequestDisk"),
        ("TARGET.Memory >= RequestMemory", "Memory", "RequestMemory"),
        ("TARGET.Cpus >= RequestCpus", "Cpus", "RequestCpus"),
    ]
    if int(ad.get("RequestGPUs", 0) or 0) > 0:
        rows.append(("TARGET.GPUs >= RequestGPUs", "GPUs", "RequestGPUs"))
    rows.append(("TARGET.HasFileTransfer", "", None))
    return rows


def _meets(slot: Ad, ad: Ad, slot_attribute: str, request: str | None,
           total: bool) -> bool:
    if request is None:
        return True
    have = slot.get(f"TotalSlot{slot_attribute}" if total else slot_attribute, 0)
    return float(have or 0) >= float(ad.get(request, 0) or 0)


def better_analyze(job: JobRecord, layout: PoolLayout, config: PoolConfig,
                   now: float | None = None) -> str:
    """The text of `condor_q -better-analyze` for one job."""
    ad = job.ad
    now = time.time() if now is None else now
    job_name = f"{job.cluster}.000"
    slots = slot_ads(layout, config)
    pslot = slots[0]
    busy = len(slots) > 1
    lines = ["", "", "-- Schedd: localpool : <127.0.0.1:9618?...",
             f"The Requirements expression for job {job_name} is", "",
             f"    {format_for_print(ad.get('Requirements', 'true'))}", "",
             f"Job {job_name} defines the following attributes:", ""]
    units = {"RequestDisk": " (kb)", "RequestMemory": " (mb)"}
    rows = _conditions(ad)
    for name in sorted({request for _text, _slot, request in rows if request}):
        lines.append(f"    {name} = {format_for_print(ad.get(name, 0))}{units.get(name, '')}")
    lines += ["", f"The Requirements expression for job {job_name} reduces to these "
              "conditions:", ""]
    if busy:
        lines += ["         Slots      If    ", "Step   Matched   Drained  Condition",
                  "----- --------- --------- ---------"]
    else:
        lines += ["        Slots", "Step   Matched  Condition", "----- --------- ---------"]
    fits_now = fits_drained = True
    for step, (text, slot_attribute, request) in enumerate(rows):
        now_ok = _meets(pslot, ad, slot_attribute, request, total=False)
        drained_ok = _meets(pslot, ad, slot_attribute, request, total=True)
        fits_now, fits_drained = fits_now and now_ok, fits_drained and drained_ok
        if busy:
            lines.append(f"[{step}]{int(now_ok):>12}{int(drained_ok):>10}  {text}")
        else:
            lines.append(f"[{step}]{int(now_ok):>12}  {text}")
    lines += ["", ""]
    status = int(ad.get("JobStatus", 1) or 1)
    if status in _STATES:
        lines += [f"{job_name}:  {_STATES[status]}", ""]
        if status == 5 and ad.get("HoldReason"):
            lines += [f"Hold reason: {format_for_print(ad['HoldReason'])}", ""]
        started = ad.get("JobCurrentStartDate") or ad.get("JobStartDate")
        if started:
            lines.append(f"Last successful match: {time.ctime(float(started))}")
        return "\n".join(lines) + "\n"
    rejected = 0 if fits_drained else 1
    willing = 1 if fits_now and fits_drained else 0
    lines += [f"{job_name}:  Run analysis summary ignoring user priority.  Of 1 slots on "
              "1 machines,",
              f"      {rejected} slots are rejected by your job's requirements",
              "      0 slots reject your job because of their own requirements",
              f"      {willing} slots match and are willing to run your job"]
    if busy:
        lines.append(f"      {int(fits_drained and not fits_now)} slots would match if drained")
    if not fits_drained:
        lines += ["", "WARNING:  Be advised:", "   No machines matched the job's constraints"]
    lines += ["", "No successful match recorded."]
    if not willing:
        lines += [f"Last failed match: {time.ctime(now)} from localpool",
                  "Reason for last match failure: no match found"]
    return "\n".join(lines) + "\n"


def analyze_jobs(jobs: list[JobRecord], layout: PoolLayout, config: PoolConfig,
                 out: Any) -> None:
    """Print the analysis of each job."""
    for job in jobs:
        out.write(better_analyze(job, layout, config))
