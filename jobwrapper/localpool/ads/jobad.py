"""The job ad (queue copy and starter copy) and the machine ad of a job's slot.

Attribute names, types and spellings follow the ads of a real HTCondor 25.0 pool
(/work/shared/jobads). Values that only make sense for real daemons (addresses,
claim ids) are filled with loopback look-alikes so parsers see what they expect.
"""

from __future__ import annotations

import dataclasses
import math
import platform

from jobwrapper.localpool.ads.classads import Ad, Expr
from jobwrapper.localpool.ads.jobspec import JobSpec, command
from jobwrapper.localpool.ads.quoting import parse_arguments, render_environment
from jobwrapper.localpool.commands.submit_file import SubmitFile

CONDOR_VERSION = "$CondorVersion: 25.0.13 2026-11-22 $"
CONDOR_PLATFORM = "$CondorPlatform: X86_64-Debian_12 $"
MACHINE_MAX_VACATE_TIME = Expr("10 * 60")
_REQUIREMENTS = (
    '(TARGET.Arch == "X86_64") && (TARGET.OpSys == "LINUX") && (TARGET.Disk >= RequestDisk)'
    " && (TARGET.Memory >= RequestMemory) && (TARGET.Cpus >= RequestCpus)"
    " && (TARGET.HasFileTransfer)"
)


@dataclasses.dataclass(frozen=True)
class SubmitContext:
    """Who submitted, from where, when."""

    cluster: int
    owner: str
    home: str
    domain: str
    qdate: int
    submit_file: str


@dataclasses.dataclass(frozen=True)
class Slot:
    """The dynamic slot a job got."""

    slot_id: int
    host: str
    cpus: int
    memory: int
    disk: int
    gpus: int

    @property
    def name(self) -> str:
        """`slot1_N@host`, HTCondor's name for dynamic slot N of partitionable slot 1."""
        return f"slot1_{self.slot_id}@{self.host}"


def provision(spec: JobSpec, slot_id: int, host: str, slot_disk: int = 0) -> Slot:
    """What the slot gives: requests rounded up as HTCondor's default quantize() does,
    and for disk the startd's slop on top: max(1024 KiB, a millionth of the node's
    disk). A real 25.0 pool gave 2048 KiB for 7 KiB, 1049600 for 1048576."""
    slop = max(1024, slot_disk // (1024 * 1024))
    return Slot(
        slot_id=slot_id,
        host=host,
        cpus=spec.request_cpus,
        memory=math.ceil(spec.request_memory / 128) * 128,
        disk=math.ceil(spec.request_disk / 1024) * 1024 + slop,
        gpus=spec.request_gpus,
    )


def queue_ad(submit: SubmitFile, spec: JobSpec, mode: str, context: SubmitContext) -> Ad:
    """The ad the schedd holds from submit on (what `condor_q -l` shows)."""
    _words, args_name, args_value = parse_arguments(command(submit.commands, "arguments"))
    ad: Ad = {
        "MyType": "Job",
        "TargetType": "Machine",
        "ClusterId": context.cluster,
        "ProcId": 0,
        "GlobalJobId": f"{context.domain}#{context.cluster}.0#{context.qdate}",
        "Owner": context.owner,
        "User": f"{context.owner}@{context.domain}",
        "OsUser": context.owner,
        "OSHomeDir": context.home,
        "UidDomain": context.domain,
        "FileSystemDomain": context.domain,
        "Cmd": spec.executable,
        args_name: args_value,
        "Iwd": spec.iwd,
        "In": "/dev/null",
        "Out": spec.output or "/dev/null",
        "Err": spec.error or "/dev/null",
        "Environment": render_environment(spec.environment),
        "JobUniverse": 5,
        "JobStatus": 1,
        "LastJobStatus": 0,
        "QDate": context.qdate,
        "EnteredCurrentStatus": context.qdate,
        "JobPrio": 0,
        "JobNotification": 0,
        "JobRunCount": 0,
        "NumJobStarts": 0,
        "NumShadowStarts": 0,
        "NumRestarts": 0,
        "NumSystemHolds": 0,
        "CurrentHosts": 0,
        "MaxHosts": 1,
        "MinHosts": 1,
        "LeaveJobInQueue": False,
        "RequestCpus": spec.request_cpus,
        "RequestMemory": spec.request_memory,
        "RequestDisk": spec.request_disk,
        "Requirements": Expr(_REQUIREMENTS),
        "ShouldTransferFiles": mode,
        "WhenToTransferOutput": spec.when_to_transfer_output,
        "StreamOut": spec.stream_output,
        "StreamErr": spec.stream_error,
        "PeriodicRemove": Expr(spec.periodic_remove or "false"),
        "CondorVersion": CONDOR_VERSION,
        "CondorPlatform": CONDOR_PLATFORM,
        "Rank": 0.0,
        "ImageSize": 1,
        "DiskUsage": 1,
        "ExitBySignal": False,
        "ExitStatus": 0,
        "JobLeaseDuration": 2400,
        "TotalSubmitProcs": 1,
    }
    if context.submit_file:
        ad["JobSubmitFile"] = context.submit_file
    if spec.request_gpus:
        ad["RequestGPUs"] = spec.request_gpus
    if spec.transfer_input:
        ad["TransferInput"] = ",".join(spec.transfer_input)
    if spec.transfer_output is not None:
        ad["TransferOutput"] = ",".join(spec.transfer_output)
    if spec.user_log:
        ad["UserLog"] = spec.user_log
    if spec.remote_iwd:
        ad["RemoteIwd"] = spec.remote_iwd
    if spec.allowed_execute_duration:
        ad["AllowedExecuteDuration"] = spec.allowed_execute_duration
    ad.update(submit.custom_values())
    return ad


def running_updates(slot: Slot, started: int, schedd: str) -> Ad:
    """What the schedd adds to the ad when the job starts on `slot`."""
    return {
        "JobStatus": 2,
        "LastJobStatus": 1,
        "EnteredCurrentStatus": started,
        "JobCurrentStartDate": started,
        "JobStartDate": started,
        "ShadowBday": started,
        "LastMatchTime": started,
        "FirstJobMatchDate": started,
        "JobRunCount": 1,
        "NumJobMatches": 1,
        "NumShadowStarts": 1,
        "CurrentHosts": 1,
        "RemoteHost": slot.name,
        "RemoteSlotID": 1,
        "CpusProvisioned": slot.cpus,
        "MemoryProvisioned": slot.memory,
        "DiskProvisioned": slot.disk,
        "GpusProvisioned": slot.gpus,
        "ProvisionedResources": "Cpus Memory Disk Swap GPUs",
        "MachineAttrCpus0": slot.cpus,
        "MachineAttrSlotWeight0": slot.cpus,
        "ShadowVersion": CONDOR_VERSION,
        "StartdPrincipal": "execute-side@matchsession/127.0.0.1",
        "MyAddress": schedd,
        "ShadowIpAddr": schedd,
        "TransferSocket": schedd,
        "StartdIpAddr": schedd,
    }


def starter_ad(ad: Ad, spec: JobSpec, scratch_dir: str) -> Ad:
    """The starter's copy in `.job.ad`: with file transfer, paths point into the scratch dir."""
    copy = dict(ad)
    copy["OrigIwd"] = spec.iwd
    copy["OrigCmd"] = spec.executable
    if spec.transfer_files:
        copy["Iwd"] = scratch_dir
        if not spec.stream_output and spec.output:
            copy["OriginalOut"], copy["Out"] = spec.output, "_condor_stdout"
        if not spec.stream_error and spec.error:
            copy["OriginalErr"], copy["Err"] = spec.error, "_condor_stderr"
    return copy


def machine_ad(slot: Slot, job: Ad, started: int, schedd: str) -> Ad:
    """The dynamic slot's ad in `.machine.ad`."""
    owner = f"{job.get('Owner')}@{job.get('UidDomain')}"
    release = platform.release()
    return {
        "MyType": "Machine",
        "TargetType": "Job",
        "Name": slot.name,
        "Machine": slot.host,
        "SlotID": 1,
        "DSlotId": slot.slot_id,
        "ParentSlotId": 1,
        "SlotType": "Dynamic",
        "SlotTypeID": 1,
        "DynamicSlot": True,
        "Cpus": slot.cpus,
        "Memory": slot.memory,
        "Disk": slot.disk,
        "GPUs": slot.gpus,
        "DetectedGPUs": 0,
        "TotalSlotCpus": slot.cpus,
        "TotalSlotMemory": slot.memory,
        "TotalSlotDisk": float(slot.disk),
        "TotalSlotGPUs": slot.gpus,
        "Arch": "X86_64",
        "OpSys": "LINUX",
        "OpSysAndVer": "Debian12",
        "OpSysName": "Debian",
        "OpSysShortName": "Debian",
        "OpSysLongName": "Debian GNU/Linux 12",
        "OpSysMajorVer": 12,
        "OpSysVer": 1200,
        "UtsnameSysname": "Linux",
        "UtsnameNodename": slot.host,
        "UtsnameRelease": release,
        "UtsnameMachine": "x86_64",
        "UidDomain": job.get("UidDomain"),
        "FileSystemDomain": job.get("UidDomain"),
        "MachineMaxVacateTime": MACHINE_MAX_VACATE_TIME,
        "HasFileTransfer": True,
        "HasSshd": True,
        "State": "Claimed",
        "Activity": "Busy",
        "RemoteOwner": owner,
        "RemoteUser": owner,
        "RemoteScheddName": slot.host,
        "JobId": f"{job.get('ClusterId')}.0",
        "GlobalJobId": job.get("GlobalJobId"),
        "JobStart": started,
        "EnteredCurrentState": started,
        "MyCurrentTime": started,
        "MyAddress": schedd,
        "StartdIpAddr": schedd,
        "CondorVersion": CONDOR_VERSION,
        "CondorPlatform": CONDOR_PLATFORM,
        "START": True,
        "Requirements": Expr("START && (WithinResourceLimits)"),
        "SlotWeight": Expr("Cpus"),
        "AddressV1": _address_v1(slot.host),
    }


def schedd_address(host: str, pid: int) -> str:
    """A sinful string like a real daemon's (nothing listens there)."""
    return f"<127.0.0.1:9618?addrs=127.0.0.1-9618&alias={host}&noUDP&sock=shadow_{pid}>"


def _address_v1(host: str) -> str:
    entry = f'p="primary"; a="127.0.0.1"; port=9618; n="Internet"; alias="{host}"; noUDP=true;'
    return "{[ " + entry + " ]}"
