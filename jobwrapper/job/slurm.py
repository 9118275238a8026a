"""The read stage's second source: a Slurm job, from Slurm's own variables.

A job is a Slurm job when ``SLURM_JOB_ID`` is set and no HTCondor job ad was found
(an HTCondor glidein inside a Slurm allocation is an HTCondor job). Everything after
this module (plan, apply, exec) is the same for both: it only sees a JobContext.

- cores:   ``SLURM_CPUS_ON_NODE`` (what this node gave the job); requested:
           ``SLURM_CPUS_PER_TASK`` x ``SLURM_NTASKS`` (1 if unset), else the same;
- memory:  ``SLURM_MEM_PER_NODE``, else ``SLURM_MEM_PER_CPU`` x cores (MB), else the
           cgroup limit;
- disk:    not part of a Slurm request: unknown (the message leaves it out);
- GPUs:    ``SLURM_GPUS_ON_NODE``, else the number of ids; ids from ``SLURM_JOB_GPUS``
           (the node's indices), else ``CUDA_VISIBLE_DEVICES``;
- runtime: ``SLURM_JOB_END_TIME`` - ``SLURM_JOB_START_TIME`` where Slurm sets them,
           else one ``squeue -h -j ID -o %l|%L`` (time limit and time left);
- the container OS and the environment: the variables named in ``[slurm]``.

Values come from the job's environment, which its own user controls: each is checked
like an ad attribute, and a bad one is one warning naming the variable.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Mapping
from typing import Optional

from jobwrapper.config import SiteConfig
from jobwrapper.job.classad import Ad
from jobwrapper.job.context import (
    HOST_SOURCE,
    LIMITS,
    HostLimits,
    JobContext,
    Resources,
    _number_problem,
    _short,
)
from jobwrapper.protocol import SAFE_NAME

SQUEUE_TIMEOUT = 5.0  # s; a slurmctld that does not answer costs this once
_DURATION = re.compile(r"(?:(\d+)-)?(?:(\d+):)?(?:(\d+):)?(\d+)\Z")
_SAFE_USER = re.compile(r"[a-z_][a-z0-9_.-]{0,31}\Z", re.IGNORECASE)
_JOB_ID = re.compile(r"\d{1,19}(?:_\d{1,10})?\Z")


def parse_duration(text: str) -> Optional[int]:
    """Slurm's time format in seconds: ``M``, ``M:S``, ``H:M:S``, ``D-H``, ``D-H:M``,
    ``D-H:M:S``; None for ``UNLIMITED``, ``NOT_SET``, ``INVALID`` and anything else."""
    match = _DURATION.match(text.strip())
    if not match:
        return None
    days, first, second, last = match.groups()
    if days is not None:  # D-H, D-H:M, D-H:M:S
        parts = [int(part) for part in (first, second, last) if part is not None]
        if len(parts) == 1:  # "1-2" is days-hours: the regex put the hours last
            parts = [parts[0], 0, 0]
        while len(parts) < 3:
            parts.append(0)
        hours, minutes, seconds = parts
        return int(days) * 86400 + hours * 3600 + minutes * 60 + seconds
    if first is None:
        return int(last) * 60  # minutes
    if second is None:
        return int(first) * 60 + int(last)  # M:S
    return int(first) * 3600 + int(second) * 60 + int(last)  # H:M:S


class _Variables:
    """Reads numbers from the environment, collecting one warning per bad value."""

    def __init__(self, environ: Mapping[str, str], source: str) -> None:
        self.environ, self.source = environ, source
        self.warnings: list[str] = []

    def number(self, name: str, limit: int, allow_zero: bool = False) -> Optional[int]:
        text = self.environ.get(name)
        if text is None or text == "":
            return None
        value = text.strip()
        if not value.isdigit() or len(value) > 20:
            self.warnings.append(f"{self.source}: {name} is not a whole number "
                                 f"({_short(text)!r}); it is ignored")
            return None
        problem = _number_problem(int(value), limit, allow_zero)  # as for an ad's number
        if problem:
            self.warnings.append(f"{self.source}: {name} {problem}; it is ignored")
            return None
        return int(value)

    def name(self, variable: str, pattern: re.Pattern[str], what: str) -> Optional[str]:
        text = self.environ.get(variable)
        if text is None or text == "":
            return None
        if not pattern.match(text):
            self.warnings.append(f"{self.source}: {variable} is not {what} "
                                 f"({_short(text)!r}); it is ignored")
            return None
        return text


def job_id(environ: Mapping[str, str]) -> Optional[str]:
    """``SLURM_JOB_ID``, or ``ARRAYJOB_TASK`` for an array task, if it is one."""
    array, task = environ.get("SLURM_ARRAY_JOB_ID"), environ.get("SLURM_ARRAY_TASK_ID")
    if array and task and _JOB_ID.match(f"{array}_{task}"):
        return f"{array}_{task}"
    value = environ.get("SLURM_JOB_ID", "")
    return value if _JOB_ID.match(value) else None


def squeue_times(config: SiteConfig, job: str, environ: Mapping[str, str]
                 ) -> tuple[Optional[int], Optional[int], Optional[str]]:
    """(time limit, time left) in seconds from one squeue call, and a warning if it
    failed. None for an unlimited job."""
    command = [config.slurm.squeue, "-h", "-j", job, "-o", "%l|%L"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=dict(environ),
                              timeout=SQUEUE_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        reason = "timed out" if isinstance(error, subprocess.TimeoutExpired) \
            else error.strerror or str(error)
        return None, None, (f"{config.slurm.squeue}: cannot ask for the time limit "
                            f"({reason}); the runtime limit is unknown")
    line = done.stdout.strip().splitlines()[0] if done.stdout.strip() else ""
    limit_text, separator, left_text = line.partition("|")
    if done.returncode != 0 or not separator:
        detail = _short(done.stderr.strip() or line or f"exit {done.returncode}", 80)
        return None, None, f"squeue -j {job}: {detail}; the runtime limit is unknown"
    return parse_duration(limit_text), parse_duration(left_text), None


def read_times(read: _Variables, config: SiteConfig, job: Optional[str], now: float
               ) -> tuple[Optional[int], Optional[int], str]:
    """(runtime limit s, job start epoch s, where from)."""
    start = read.number("SLURM_JOB_START_TIME", 1 << 40)
    end = read.number("SLURM_JOB_END_TIME", 1 << 40)
    if start and end and end > start:
        return end - start, start, "SLURM_JOB_START_TIME, SLURM_JOB_END_TIME"
    if not config.slurm.time_limit or job is None:
        return None, None, ""
    limit, left, problem = squeue_times(config, job, read.environ)
    if problem:
        read.warnings.append(problem)
        return None, None, ""
    if limit is None:
        return None, None, "squeue (no time limit)"
    elapsed = max(0, limit - left) if left is not None else 0
    return limit, int(now) - elapsed, "squeue %l, %L"


def gpu_ids(environ: Mapping[str, str]) -> tuple[str, ...]:
    """The node's indices of the job's GPUs (``SLURM_JOB_GPUS``), else CUDA's list."""
    text = environ.get("SLURM_JOB_GPUS") or environ.get("SLURM_STEP_GPUS") \
        or environ.get("CUDA_VISIBLE_DEVICES", "")
    ids = [item.strip() for item in text.split(",") if item.strip()]
    return tuple(item for item in ids if re.match(r"[A-Za-z0-9_.:-]{1,64}\Z", item))


def temp_base(environ: Mapping[str, str], config: SiteConfig) -> str:
    """The node-local temp dir the private dir goes into (first variable set, or /tmp)."""
    for name in config.slurm.temp_variables:
        value = environ.get(name, "")
        if value.startswith("/") and "\n" not in value:
            return value
    return "/tmp"  # noqa: S108 - the private dir in it is per user and job, 0700


def source_name(job: Optional[str]) -> str:
    """How warnings and doctor name this source."""
    return f"Slurm job {job}" if job else "Slurm job"


def host_ad(environ: Mapping[str, str], job: Optional[str]) -> Ad:
    """What the rest of the job side reads from a machine ad: the node's name."""
    ad = Ad(source=f"{source_name(job)} (SLURMD_NODENAME)")
    node = environ.get("SLURMD_NODENAME", "")
    if re.match(r"[A-Za-z0-9][A-Za-z0-9.-]{0,252}\Z", node):
        ad.set("Machine", node)
    return ad


def read_resources(read: _Variables, config: SiteConfig, host: HostLimits,
                   job: Optional[str], now: float) -> tuple[Resources, Optional[int]]:
    """Cores, memory, GPUs and the runtime limit of this Slurm job, and its start."""
    cores = read.number("SLURM_CPUS_ON_NODE", LIMITS["cores"])
    cores_src = "SLURM_CPUS_ON_NODE"
    if cores is None:
        cores, cores_src = host.cores, HOST_SOURCE
    per_task = read.number("SLURM_CPUS_PER_TASK", LIMITS["cores"])
    tasks = read.number("SLURM_NTASKS", LIMITS["cores"]) or 1
    requested_cores = per_task * tasks if per_task else cores
    memory = read.number("SLURM_MEM_PER_NODE", LIMITS["memory"])
    memory_src = "SLURM_MEM_PER_NODE"
    if memory is None:
        per_cpu = read.number("SLURM_MEM_PER_CPU", LIMITS["memory"])
        memory, memory_src = (per_cpu * cores, "SLURM_MEM_PER_CPU") if per_cpu else (None, "")
    if memory is None and host.memory_mb:
        memory, memory_src = host.memory_mb, "cgroup memory limit"
    ids = gpu_ids(read.environ)
    gpus = read.number("SLURM_GPUS_ON_NODE", LIMITS["gpus"], allow_zero=True)
    runtime, start, runtime_src = read_times(read, config, job, now)
    return Resources(
        cores=cores, memory_mb=memory, disk_kb=None,
        gpus=gpus if gpus is not None else len(ids), gpu_ids=ids,
        requested_cores=requested_cores, requested_memory_mb=memory,
        requested_gpus=gpus if gpus else None, runtime_limit_s=runtime,
        sources={"cores": cores_src, "memory": memory_src, "disk": "",
                 "gpus": "SLURM_GPUS_ON_NODE" if gpus is not None else "",
                 "runtime": runtime_src},
    ), start


def read_slurm_context(environ: Mapping[str, str], config: SiteConfig, host: HostLimits,
                       now: Optional[float] = None) -> JobContext:
    """The JobContext of a Slurm job, from its environment (and squeue for the time)."""
    job = job_id(environ)
    read = _Variables(environ, source_name(job))
    resources, start = read_resources(read, config, host, job,
                                      time.time() if now is None else now)
    container_os = read.name(config.slurm.container_variable, SAFE_NAME, "a plain name")
    environment = read.name(config.slurm.environment_variable, SAFE_NAME, "a plain name")
    return JobContext(
        in_job=True,
        scheduler="slurm",
        environ=dict(environ),
        config=config,
        resources=resources,
        job_ad=Ad(source=f"{source_name(job)} (SLURM_* variables)"),
        machine_ad=host_ad(environ, job),
        scratch_dir=None,
        temp_base=temp_base(environ, config),
        job_id=job,
        owner=read.name("SLURM_JOB_USER", _SAFE_USER, "a user name"),
        container_os=container_os,
        container_label=container_os,
        environment_name=environment or config.job.default_environment,
        interactive=bool(environ.get("SLURM_PTY_PORT")),
        job_start=start,
        warnings=tuple(dict.fromkeys(read.warnings)),
    )
