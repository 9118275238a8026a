"""The read stage: what HTCondor gave this job, gathered into one JobContext.

(A Slurm job, ``SLURM_JOB_ID`` without an HTCondor job ad, is read by job/slurm.py
into the same JobContext.)

Nothing here writes. Every value a user could have written (the job ad is the
user's submit file) is checked: a bad value is treated as missing, with a one-line
warning naming the file and the attribute, and the documented fallback is used:

- cores:   machine ad ``Cpus`` > job ad ``CpusProvisioned`` > ``RequestCpus`` > this
           process's CPU affinity and cgroup CPU quota;
- memory:  ``Memory`` > ``MemoryProvisioned`` > ``RequestMemory`` > cgroup memory limit (MB);
- disk:    ``Disk`` > ``DiskProvisioned`` > ``RequestDisk`` (KiB), else unknown;
- GPUs:    ``GPUs`` > ``GpusProvisioned`` > ``RequestGPUs``, else the number of ids; ids from
           ``AssignedGPUs``, else ``CUDA_VISIBLE_DEVICES`` (10000 means: none);
- runtime: the site's ``job.runtime_limit_attributes`` in order, else no limit.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Optional

from jobwrapper.config import SiteConfig
from jobwrapper.job.classad import (
    Ad,
    AdFileError,
    Expression,
    Value,
    parse_environment,
    read_ad_file,
)
from jobwrapper.protocol import SAFE_NAME

# Upper bounds that no real slot reaches: larger values are typos or attacks.
LIMITS = {
    "cores": 100_000,
    "memory": 1 << 40,  # MB
    "disk": 1 << 50,  # KiB
    "gpus": 10_000,
    "runtime": 10 * 366 * 24 * 3600,  # s
}
HOST_SOURCE = "CPU affinity and cgroup"  # Resources.sources["cores"] outside the ads
HIDDEN_GPU = "10000"  # what HTCondor puts in CUDA_VISIBLE_DEVICES when no GPU is assigned
_SAFE_LABEL = SAFE_NAME  # protocol.py: the one safe-name rule
_SAFE_USER = re.compile(r"[a-z_][a-z0-9_.-]{0,31}\$?\Z", re.IGNORECASE)


@dataclass(frozen=True)
class Resources:
    """What the job asked for and what its slot provides (None: unknown)."""

    cores: int
    memory_mb: Optional[int]
    disk_kb: Optional[int]
    gpus: int = 0
    gpu_ids: tuple[str, ...] = ()
    requested_cores: Optional[int] = None
    requested_memory_mb: Optional[int] = None
    requested_disk_kb: Optional[int] = None
    requested_gpus: Optional[int] = None
    runtime_limit_s: Optional[int] = None
    sources: dict[str, str] = field(default_factory=dict)  # e.g. cores -> "machine ad Cpus"


@dataclass(frozen=True)
class HostLimits:
    """What the process can see without HTCondor: affinity, cgroup limits."""

    cores: int
    memory_mb: Optional[int]


@dataclass(frozen=True)
class JobContext:
    """Everything the plan needs, read once. ``in_job`` is False outside a batch job;
    ``scheduler`` says which source filled it ("htcondor", "slurm", None)."""

    in_job: bool
    environ: Mapping[str, str]
    config: SiteConfig
    resources: Resources
    job_ad: Ad
    machine_ad: Ad
    scratch_dir: Optional[str]
    job_id: Optional[str] = None
    owner: Optional[str] = None
    container_os: Optional[str] = None  # exactly as the user wrote it
    container_label: Optional[str] = None  # safe for prompts and file names, or None
    environment_name: str = "stable"
    interactive: bool = False
    job_start: Optional[int] = None  # epoch seconds (JobCurrentStartDate)
    user_environment: Mapping[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    scheduler: Optional[str] = None
    temp_base: Optional[str] = None  # where the private dir goes when there is no scratch dir


class _Reader:
    """Collects warnings while values are taken from the ads."""

    def __init__(self, job_ad: Ad, machine_ad: Ad) -> None:
        self.job_ad, self.machine_ad = job_ad, machine_ad
        self.warnings: list[str] = []

    def _where(self, ad: Ad, name: str) -> str:
        return f"{ad.source or 'ad'}: {name}"

    def number(self, ad: Ad, name: str, limit: int, allow_zero: bool = False,
               quiet_expression: bool = False) -> Optional[int]:
        """A whole number from ``ad``, or None (with a warning if it was there but bad).

        ``quiet_expression``: an expression counts as missing without a warning. Used
        for values only shown in the message: HTCondor itself writes some Request*
        attributes as expressions, and the slot's own values are already known.
        """
        if name not in ad:
            return None
        value: Value = ad.get(name)
        if quiet_expression and isinstance(value, Expression):
            return None
        problem = _number_problem(value, limit, allow_zero)
        if problem is None:
            return int(value)  # type: ignore[arg-type]
        self.warnings.append(f"{self._where(ad, name)} {problem}; it is ignored")
        return None

    def string(self, ad: Ad, name: str) -> Optional[str]:
        if name not in ad:
            return None
        value = ad.get(name)
        if isinstance(value, str):
            return value
        if value is None:
            return None
        self.warnings.append(f"{self._where(ad, name)} is not a string ({value}); it is ignored")
        return None

    def first(self, candidates: list[tuple[Ad, str]], limit: int, allow_zero: bool = False
              ) -> tuple[Optional[int], str]:
        for ad, name in candidates:
            value = self.number(ad, name, limit, allow_zero)
            if value is not None:
                return value, f"{'machine' if ad is self.machine_ad else 'job'} ad {name}"
        return None, ""


    def nothing_usable(self, names: tuple[str, ...], fallback: str) -> None:
        """Warn when a chain found nothing although the job ad was read.

        Not when the job ad could not be read, nor when an attribute was there but
        bad: those were reported already, and one problem gets one line.
        """
        present = any(name in ad for name in names for ad in (self.job_ad, self.machine_ad))
        if len(self.job_ad) and not present:
            self.warnings.append(f"{self.job_ad.source}: no usable {'/'.join(names)} "
                                 f"in the job or machine ad; {fallback}")


def _number_problem(value: Value, limit: int, allow_zero: bool) -> Optional[str]:
    if isinstance(value, Expression):
        return f"is an expression ({_short(value.text)}), not a number"
    if value is None:
        return "is undefined"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"is not a number ({_short(repr(value))})"
    if isinstance(value, float) and (not math.isfinite(value) or value != int(value)):
        return f"is not a whole number ({value})"
    if value < 0 or (value == 0 and not allow_zero):
        return f"must be {'0 or more' if allow_zero else 'positive'} (it is {int(value)})"
    if value > limit:
        shown = f"{value:g}" if isinstance(value, float) else _short(str(value))
        return f"is implausibly large ({shown} > {limit})"
    return None


def _short(text: str, width: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def container_label(container_os: Optional[str]) -> Optional[str]:
    """The container OS if it is a plain name (safe in prompts), else None."""
    if container_os and _SAFE_LABEL.match(container_os):
        return container_os
    return None


def read_host_limits(proc_root: str = "/proc", cgroup_root: str = "/sys/fs/cgroup") -> HostLimits:
    """Cores from CPU affinity and the cgroup CPU quota; memory from the cgroup limit.

    cgroup v2 only: the limits of this process's cgroup and of every parent up to
    ``cgroup_root`` count, the smallest wins (a job's cgroup may sit inside a slot's).
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    memory_mb = None
    for group in _cgroup_chain(proc_root, cgroup_root):
        quota = _read_first_line(os.path.join(group, "cpu.max"))
        limit, _, period = (quota or "").partition(" ")
        if limit.isdigit() and period.strip().isdigit() and int(period) > 0:
            cores = max(1, min(cores, math.ceil(int(limit) / int(period))))
        memory_max = _read_first_line(os.path.join(group, "memory.max"))
        if memory_max and memory_max.isdigit():
            group_mb = max(1, int(memory_max) // (1024 * 1024))
            memory_mb = group_mb if memory_mb is None else min(memory_mb, group_mb)
    return HostLimits(cores=cores, memory_mb=memory_mb)


def _cgroup_chain(proc_root: str, cgroup_root: str) -> list[str]:
    """This process's cgroup v2 directory and its parents, innermost first."""
    try:
        with open(os.path.join(proc_root, "self", "cgroup"), encoding="utf-8",
                  errors="replace") as handle:
            lines = handle.read(65536).splitlines()
    except OSError:
        return []
    # cgroup v2 is the "0::" line; on hybrid hosts it comes after the v1 lines.
    paths = [line[3:] for line in lines if line.startswith("0::")]
    if not paths:
        return []
    parts = [part for part in paths[0].split("/") if part and part not in (".", "..")]
    return [os.path.join(cgroup_root, *parts[:depth]) for depth in range(len(parts), -1, -1)]


def _read_first_line(path: str) -> Optional[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.readline().strip()
    except OSError:
        return None


def _load_ad(environ: Mapping[str, str], variable: str, fallback_name: str,
             scratch_dir: Optional[str], warnings: list[str],
             ad_bytes: Mapping[str, bytes]) -> tuple[Ad, bool]:
    path, origin = environ.get(variable), f"from {variable}"
    if not path and scratch_dir:
        # The starter always writes its ads here; the variable alone can get lost.
        candidate = os.path.join(scratch_dir, fallback_name)
        path = candidate if os.path.lexists(candidate) else None
        origin = f"{variable} is not set; found in the scratch dir"
    if not path:
        return Ad(source=variable), False
    try:
        ad, ad_warnings = read_ad_file(path, data=ad_bytes.get(path))
    except AdFileError as error:
        warnings.append(f"{error} ({origin}); using the fallbacks in docs/job.md")
        return Ad(source=path), True
    warnings.extend(ad_warnings)
    return ad, True


def read_resources(job_ad: Ad, machine_ad: Ad, host: HostLimits, config: SiteConfig,
                   environ: Mapping[str, str]) -> tuple[Resources, list[str]]:
    """Resolve what the job asked for and what the slot gives; pure but for warnings."""
    read = _Reader(job_ad, machine_ad)
    m, j = machine_ad, job_ad
    cores, cores_src = read.first([(m, "Cpus"), (j, "CpusProvisioned"), (j, "RequestCpus")],
                                  LIMITS["cores"])
    memory, memory_src = read.first(
        [(m, "Memory"), (j, "MemoryProvisioned"), (j, "RequestMemory")], LIMITS["memory"])
    disk, disk_src = read.first([(m, "Disk"), (j, "DiskProvisioned"), (j, "RequestDisk")],
                                LIMITS["disk"])
    gpus, gpus_src = read.first([(m, "GPUs"), (j, "GpusProvisioned"), (j, "RequestGPUs")],
                                LIMITS["gpus"], allow_zero=True)
    runtime, runtime_src = read.first(
        [(j, name) for name in config.job.runtime_limit_attributes], LIMITS["runtime"])
    if cores is None:
        cores, cores_src = host.cores, HOST_SOURCE
        read.nothing_usable(("Cpus", "CpusProvisioned", "RequestCpus"),
                            f"using CPU affinity and cgroup: {cores} core(s)")
    if memory is None and host.memory_mb:
        memory, memory_src = host.memory_mb, "cgroup memory limit"
        read.nothing_usable(("Memory", "MemoryProvisioned", "RequestMemory"),
                            f"using the cgroup memory limit: {memory} MB")
    elif memory is None:
        read.nothing_usable(("Memory", "MemoryProvisioned", "RequestMemory"),
                            "MEM_LIMIT is not set")
    if disk is None:
        read.nothing_usable(("Disk", "DiskProvisioned", "RequestDisk"), "disk space is unknown")
    gpu_ids = _gpu_ids(read, machine_ad, environ)
    resources = Resources(
        cores=cores,
        memory_mb=memory,
        disk_kb=disk,
        gpus=gpus if gpus is not None else len(gpu_ids),
        gpu_ids=gpu_ids,
        requested_cores=read.number(j, "RequestCpus", LIMITS["cores"], quiet_expression=True),
        requested_memory_mb=read.number(j, "RequestMemory", LIMITS["memory"],
                                        quiet_expression=True),
        requested_disk_kb=read.number(j, "RequestDisk", LIMITS["disk"], quiet_expression=True),
        requested_gpus=read.number(j, "RequestGPUs", LIMITS["gpus"], allow_zero=True,
                                   quiet_expression=True),
        runtime_limit_s=runtime,
        sources={"cores": cores_src, "memory": memory_src, "disk": disk_src, "gpus": gpus_src,
                 "runtime": runtime_src},
    )
    return resources, _dedupe(read.warnings)


def _gpu_ids(read: _Reader, machine_ad: Ad, environ: Mapping[str, str]) -> tuple[str, ...]:
    assigned = read.string(machine_ad, "AssignedGPUs")
    text = assigned if assigned is not None else environ.get("CUDA_VISIBLE_DEVICES", "")
    ids = [item.strip() for item in text.split(",") if item.strip()]
    return tuple(item for item in ids if item != HIDDEN_GPU)


def _dedupe(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def read_context(environ: Mapping[str, str], config: SiteConfig,
                 host: Optional[HostLimits] = None,
                 ad_bytes: Optional[Mapping[str, bytes]] = None) -> JobContext:
    """Read the job: ads named by the environment, the scratch dir, the site config.

    ``ad_bytes``: ad files read already, by path (job/early.py): each file is read once.
    """
    warnings: list[str] = []
    ad_bytes = ad_bytes or {}
    scratch_dir = environ.get("_CONDOR_SCRATCH_DIR") or None
    job_ad, has_job = _load_ad(environ, "_CONDOR_JOB_AD", ".job.ad", scratch_dir, warnings,
                               ad_bytes)
    if not has_job and not scratch_dir and environ.get("SLURM_JOB_ID"):
        from jobwrapper.job.slurm import read_slurm_context  # the second source

        return read_slurm_context(environ, config, host or read_host_limits())
    machine_ad, _ = _load_ad(environ, "_CONDOR_MACHINE_AD", ".machine.ad", scratch_dir,
                             warnings, ad_bytes)
    host = host or read_host_limits()
    resources, resource_warnings = read_resources(job_ad, machine_ad, host, config, environ)
    warnings.extend(resource_warnings)
    read = _Reader(job_ad, machine_ad)
    container_os = read.string(job_ad, config.job.container_attribute)
    label = container_label(container_os)
    if container_os is not None and label is None:
        warnings.append(
            f"{job_ad.source}: {config.get('job', 'container_attribute')} is not a plain name "
            f"({_short(repr(container_os))}); it is not shown in prompts"
        )
    environment_name = _environment_name(read, job_ad, config, warnings)
    cluster = read.number(job_ad, "ClusterId", 1 << 62, allow_zero=True)
    proc = read.number(job_ad, "ProcId", 1 << 62, allow_zero=True)
    owner_attribute = "OsUser" if read.string(job_ad, "OsUser") else "Owner"
    owner = read.string(job_ad, owner_attribute)
    if owner is not None and not _SAFE_USER.match(owner):
        warnings.append(f"{job_ad.source}: {owner_attribute} is not a user name "
                        f"({_short(repr(owner))}); USER and LOGNAME are left as they are")
        owner = None
    user_environment = _user_environment(read, job_ad)
    warnings.extend(read.warnings)
    return JobContext(
        in_job=has_job,
        environ=dict(environ),
        config=config,
        resources=resources,
        job_ad=job_ad,
        machine_ad=machine_ad,
        scratch_dir=scratch_dir,
        job_id=f"{cluster}.{proc}" if cluster is not None and proc is not None else None,
        owner=owner,
        container_os=container_os,
        container_label=label,
        environment_name=environment_name,
        interactive=job_ad.get("InteractiveJob") is True,
        job_start=read.number(job_ad, "JobCurrentStartDate", 1 << 40),
        user_environment=user_environment,
        warnings=tuple(_dedupe(warnings)),
        scheduler="htcondor" if has_job else None,
    )


def _user_environment(read: _Reader, job_ad: Ad) -> dict[str, str]:
    """What the user set with ``environment`` (``Environment``) or the old ``env`` (``Env``)."""
    text = read.string(job_ad, "Environment")
    if text is not None:
        return parse_environment(text)
    old_syntax = read.string(job_ad, "Env") or ""  # NAME=value pairs separated by ';'
    pairs = (item.partition("=") for item in old_syntax.split(";"))
    return {name.strip(): value for name, sep, value in pairs if sep and name.strip()}


def _environment_name(read: _Reader, job_ad: Ad, config: SiteConfig,
                      warnings: list[str]) -> str:
    attribute = config.job.environment_attribute
    default = config.job.default_environment
    name = read.string(job_ad, attribute)
    if name is None:
        return default
    if not _SAFE_LABEL.match(name):
        warnings.append(f"{job_ad.source}: {attribute} is not a plain name "
                        f"({_short(repr(name))}); using {default!r}")
        return default
    return name
