"""`condor_status`: the pool's one execute node, as a partitionable slot and its
dynamic slots (one per running job), with `-af`, `-l` and a plain listing.

Like HTCondor 25's startd: the partitionable slot `slot1@HOST` says what it has left
(Cpus, Memory, Disk; GPUs 0, the node has none) and stays Unclaimed/Idle; each
running job holds a Dynamic, Claimed/Busy slot `slot1_N@HOST` with what it was given;
TotalSlotCpus/Memory/GPUs are the whole slot's. A real 25.0.13 pool with one job of
2 CPUs printed, for `-af Name SlotType State Cpus Memory GPUs TotalSlotCpus
TotalSlotMemory TotalSlotGPUs` (tests/hub/expected/waiting/status_af.txt):

    slot1@vm Partitionable Unclaimed 0 23977 0 2 24105 0
    slot1_1@vm Dynamic Claimed 2 128 0 2 128 0
"""

from __future__ import annotations

import pwd
import sys
from typing import Any

from jobwrapper.localpool.ads.classads import Ad, format_for_print, render_ad
from jobwrapper.localpool.config import PoolConfig, PoolLayout
from jobwrapper.localpool.execute import claims, slots
from jobwrapper.localpool.records import queued_jobs

from .query import QueryUsageError, expression_value, is_autoformat, read_autoformat


def _common(config: PoolConfig) -> Ad:
    return {"MyType": "Machine", "TargetType": "Job", "Machine": config.host(),
            "Arch": "X86_64", "OpSys": "LINUX", "SlotID": 1, "HasFileTransfer": True,
            "FileSystemDomain": config.domain(), "UidDomain": config.domain()}


def _dynamic(config: PoolConfig, name: str, held: tuple[int, int, int], owner: str,
             **state: object) -> Ad:
    cpus, memory, disk = held
    return {**_common(config), "Name": name, "SlotType": "Dynamic", "DynamicSlot": True,
            "State": "Claimed", "Cpus": cpus, "Memory": memory, "Disk": disk, "GPUs": 0,
            "TotalSlotCpus": cpus, "TotalSlotMemory": memory, "TotalSlotDisk": disk,
            "TotalSlotGPUs": 0, "RemoteOwner": f"{owner}@{config.domain()}", **state}


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def slot_ads(layout: PoolLayout, config: PoolConfig) -> list[Ad]:
    """The partitionable slot, then one dynamic slot per job that holds resources and
    per claim kept idle after its job (Claimed/Idle, as a schedd's KeepClaimIdle)."""
    dynamic: list[Ad] = []
    for job in queued_jobs(layout):
        ad = job.ad
        if ad.get("CurrentHosts") != 1:
            continue
        held = slots.used_resources([job])
        name = str(ad.get("RemoteHost") or f"slot1_{job.cluster}@{config.host()}")
        dynamic.append(_dynamic(config, name, held, str(ad.get("Owner")), Activity="Busy",
                                JobId=f"{job.cluster}.0"))
    for claim in claims.live(layout):
        dynamic.append(_dynamic(config, claim.slot.name, claim.held, _user(claim.uid),
                                Activity="Idle"))
    used = [sum(int(ad[key]) for ad in dynamic) for key in ("Cpus", "Memory", "Disk")]
    partitionable: Ad = {
        **_common(config), "Name": f"slot1@{config.host()}", "SlotType": "Partitionable",
        "PartitionableSlot": True, "State": "Unclaimed", "Activity": "Idle",
        "Cpus": max(0, config.slot_cpus - used[0]),
        "Memory": max(0, config.slot_memory - used[1]),
        "Disk": max(0, config.slot_disk - used[2]), "GPUs": 0, "DetectedGPUs": 0,
        "TotalSlotCpus": config.slot_cpus, "TotalSlotMemory": config.slot_memory,
        "TotalSlotDisk": config.slot_disk, "TotalSlotGPUs": 0,
        "TotalCpus": float(config.slot_cpus), "TotalMemory": config.slot_memory,
        "ChildCpus": [int(ad["Cpus"]) for ad in dynamic],
    }
    return [partitionable, *dynamic]


def _parse_argv(argv: list[str]) -> dict[str, Any]:
    options: dict[str, Any] = {"autoformat": None, "long": False}
    index = 0
    while index < len(argv):
        arg = argv[index]
        lowered = arg.lower()
        if is_autoformat(arg):
            index = read_autoformat(argv, index, options)
            continue
        if lowered in ("-l", "-long"):
            options["long"] = True
        elif arg.startswith("-"):
            raise QueryUsageError(f"{arg} is not supported by the local pool's condor_status")
        else:
            raise QueryUsageError(f"the local pool's condor_status takes no names ({arg})")
        index += 1
    return options


def status(argv: list[str], layout: PoolLayout, config: PoolConfig) -> int:
    """The condor_status command; returns its exit code."""
    options = _parse_argv(argv)
    ads = slot_ads(layout, config)
    out = sys.stdout
    if options["long"]:
        for ad in ads:
            out.write(render_ad(ad) + "\n")
    elif options["autoformat"] is not None:
        separator = "\t" if "t" in options.get("af_flags", "") else " "
        for ad in ads:
            words = []
            for name in options["autoformat"]:
                defined, value = expression_value(ad, name)
                words.append(format_for_print(value) if defined else "undefined")
            out.write(separator.join(words) + "\n")
    else:
        out.write("Name                               OpSys      Arch     State     Activity "
                  "LoadAv Mem     ActvtyTime\n\n")
        for ad in ads:
            out.write(f"{ad['Name']:<34} LINUX      X86_64   {ad['State']:<9} "
                      f"{ad['Activity']:<8}  0.000 {ad['Memory']:>6}  0+00:00:00\n")
        claimed = len(ads) - 1
        out.write(f"\n               Total Owner Claimed Unclaimed Matched Preempting  Drain "
                  f"Backfill BkIdle\n\n  X86_64/LINUX {len(ads):>5}     0 {claimed:>7} "
                  f"{1:>9}       0          0      0        0      0\n\n         Total "
                  f"{len(ads):>5}     0 {claimed:>7} {1:>9}       0          0      0        "
                  "0      0\n")
    out.flush()
    return 0
