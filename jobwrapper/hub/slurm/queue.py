"""One `squeue` for all the hub's Slurm jobs, and what its answers mean for the user.

The queue watcher (hub/queuewatch.py) batches the status requests of every spawner;
for Slurm its query is

    squeue -h --states=all -o %i|%T|%N|%r -j 101,102,103

run as the hub's own user (jobcontrol.query_runner, with the spawner's
queue_ids_joiner and queue_none_left). A job that has left the queue (and was purged
after MinJobAge) makes squeue fail with "Invalid job id specified" when it is the
only one asked for: that answer means "not in the queue". Each line becomes the
spawner's status text: `RUNNING node1`, or `PENDING (Resources)` while it waits.
"""

from __future__ import annotations

import re

from jobwrapper.hub.site.poolstatus import Slot

QUERY = "squeue -h --states=all -o %i|%T|%N|%r -j {job_ids}"
# States of a job that has ended: squeue --states=all shows them until slurmctld forgets
# the job (MinJobAge, 300 s by default); for the hub the job is no longer in the queue.
FINAL_STATES = frozenset({"BOOT_FAIL", "CANCELLED", "COMPLETED", "DEADLINE", "FAILED",
                          "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "REVOKED", "TIMEOUT"})
INVALID_ID = "Invalid job id specified"
_LINE = re.compile(r"^(\d+(?:_\d+)?)\|([A-Z_]+)\|([^|]*)\|(.*)$")

# Slurm's pending reasons (squeue %r) in words; others are shown as Slurm names them.
REASONS = {
    "Resources": "no node has the resources free now",
    "Priority": "jobs with a higher priority come first",
    "None": "the scheduler has not looked at it yet",
    "BeginTime": "its start time has not come",
    "Dependency": "it waits for another job",
    "PartitionTimeLimit": "its runtime is longer than the partition allows: choose less "
                          "time",
    "PartitionNodeLimit": "it asks for more than the partition allows",
    "ReqNodeNotAvail": "the nodes it needs are not available (down, drained or reserved)",
    "QOSMaxCpuPerUserLimit": "you already use as many CPUs as your QOS allows",
    "AssocGrpCpuLimit": "your group already uses as many CPUs as it may",
    "JobHeldUser": "it is held (scontrol release releases it)",
    "JobHeldAdmin": "an admin holds it",
}


def parse_squeue_lines(output: str) -> dict[str, str]:
    """`squeue -h -o %i|%T|%N|%r` output -> {job id: status text}."""
    statuses: dict[str, str] = {}
    for line in output.splitlines():
        match = _LINE.match(line.strip())
        if not match:
            continue
        job_id, state, node, reason = match.groups()
        text = f"{state} {node}" if node else f"{state} ({reason or 'None'})"
        statuses.setdefault(job_id, text)
    return statuses


# The nodes' free resources for the form (one cached sinfo for the hub, as condor_status
# on HTCondor): each node is like a partitionable slot.
SINFO = ("sinfo -h -N -O NodeHost:80,StateCompact:20,CPUsState:40,Memory:20,AllocMem:20,"
         "Gres:80,GresUsed:80")
_UNUSABLE = ("down", "drain", "drng", "fail", "maint", "boot", "futr", "inval", "npc",
             "powered", "pow_dn", "unk")


def _gpus(gres: str) -> int:
    """The GPUs in a Gres field: "gpu:2", "gpu:a100:4(S:0-1)", "gpu:0(IDX:N/A)", "(null)"."""
    total = 0
    for item in gres.split(","):
        parts = item.split("(")[0].split(":")
        if parts[0] == "gpu" and parts[-1].isdigit():
            total += int(parts[-1])
    return total


def parse_sinfo(output: str) -> tuple[Slot, ...]:
    """SINFO's lines -> one Slot per node: what is free now, and its totals."""
    nodes: dict[str, Slot] = {}
    for line in output.splitlines():
        words = line.split()
        if len(words) < 5:
            continue
        name, state, cpus_state, memory, allocated = words[:5]
        gres, gres_used = [*words[5:7], "", ""][:2]
        counts = cpus_state.split("/")  # allocated/idle/other/total
        if len(counts) != 4 or not all(c.isdigit() for c in counts) \
                or not memory.isdigit() or not allocated.isdigit():
            continue
        usable = not state.rstrip("*~#!%$@^-").startswith(_UNUSABLE)
        total_gpus = _gpus(gres)
        nodes.setdefault(name, Slot(
            name, "Partitionable", state,
            cpus=int(counts[1]) if usable else 0,
            memory=max(0, int(memory) - int(allocated)) if usable else 0,
            gpus=max(0, total_gpus - _gpus(gres_used)) if usable else 0,
            total_cpus=int(counts[3]), total_memory=int(memory), total_gpus=total_gpus))
    return tuple(nodes.values())


def pending_reason(status: str) -> str:
    """The Slurm reason in a `PENDING (Reason)` status text, "" if none."""
    match = re.match(r"^[A-Z_]+ \((.*)\)$", status)
    return match.group(1) if match else ""


def wait_sentence(job_id: str, status: str) -> str:
    """Why the job waits, for the spawn page ("" when Slurm gives no reason)."""
    reason = pending_reason(status)
    if not reason or reason == "None":
        return ""
    key = reason.split(",")[0].strip("() ")
    said = REASONS.get(key, f"Slurm says: {reason}")
    return f"Job {job_id} waits: {said}."


def gone_sentence(state: str) -> str:
    """What a final state means, with Slurm's name for it ("" when Slurm had forgotten
    the job already)."""
    said = {
        "COMPLETED": "it ended (the server exited: File > Shut Down in JupyterLab, or an "
                     "error)",
        "CANCELLED": "it was cancelled",
        "TIMEOUT": "it reached its time limit",
        "FAILED": "it failed (the server exited with an error)",
        "OUT_OF_MEMORY": "it used more memory than it asked for",
        "NODE_FAIL": "its node failed",
        "PREEMPTED": "it was preempted by another job",
        "BOOT_FAIL": "its node did not boot",
        "DEADLINE": "it reached its deadline",
    }.get(state)
    if said is None:
        return "it left the queue (it ended, was cancelled, or reached its time limit)"
    return f"{said} ({state})"
