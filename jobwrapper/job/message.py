"""The login message, in the form users know from the Bonn cluster.

    You requested 4 core(s), 4096 MB RAM, 1048576 kB disk space.

followed, when they apply, by what the slot provides (if it differs), the GPUs,
the runtime limit and the container.
"""

from __future__ import annotations

import time
from typing import Optional

from jobwrapper.job.context import HOST_SOURCE, JobContext, Resources


def _amounts(cores: Optional[int], memory_mb: Optional[int], disk_kb: Optional[int],
             with_disk: bool = True) -> str:
    def show(value: Optional[int]) -> str:
        return "?" if value is None else str(value)

    disk = f", {show(disk_kb)} kB disk space" if with_disk else ""
    return f"{show(cores)} core(s), {show(memory_mb)} MB RAM{disk}"


def format_duration(seconds: int) -> str:
    """``21600`` -> ``6 h``, ``5400`` -> ``1 h 30 min``, ``90`` -> ``1 min 30 s``."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} h" if hours else "", f"{minutes} min" if minutes else "",
             f"{secs} s" if secs and not hours else ""]
    return " ".join(part for part in parts if part) or "0 s"


def _host_amounts(res: Resources) -> str:
    memory = f", {res.memory_mb} MB RAM" if res.memory_mb else ""
    return f"{res.cores} core(s){memory}"


def resource_lines(res: Resources, with_disk: bool = True) -> list[str]:
    """The request, and the slot's provision when it differs. ``with_disk``: False where
    disk is no part of a request (Slurm)."""
    requested = (res.requested_cores, res.requested_memory_mb, res.requested_disk_kb)
    provided = (res.cores, res.memory_mb, res.disk_kb)
    if requested == (None, None, None):
        if res.sources.get("cores") == HOST_SOURCE:
            return ["No resources could be read from the job's ads (see the warnings); "
                    f"using this machine's limits: {_host_amounts(res)}."]
        return [f"Your job has {_amounts(*provided, with_disk)}."]
    lines = [f"You requested {_amounts(*requested, with_disk)}."]
    if provided != requested:
        where = "node" if not with_disk else "slot"
        lines.append(f"The {where} provides {_amounts(*provided, with_disk)}.")
    return lines


def login_message(context: JobContext, now: Optional[float] = None,
                  show_time_left: bool = True) -> str:
    """The message printed at login and by ``jobwrapper info``.

    The login shells print a cached copy, so the plan asks for it without the
    time left (which would be stale); ``jobwrapper info`` computes it live.
    """
    res = context.resources
    if not context.in_job:
        return (f"No HTCondor or Slurm job found (neither _CONDOR_JOB_AD nor SLURM_JOB_ID "
                f"is set); using this machine's limits: {_host_amounts(res)}.")
    lines = resource_lines(res, with_disk=context.scheduler != "slurm")
    if res.gpus or res.requested_gpus:
        ids = f" ({', '.join(res.gpu_ids)})" if res.gpu_ids else ""
        requested = f"You requested {res.requested_gpus} GPU(s); " if res.requested_gpus else ""
        lines.append(f"{requested}the slot provides {res.gpus} GPU(s){ids}.")
    if res.runtime_limit_s:
        line = f"Runtime limit: {format_duration(res.runtime_limit_s)}"
        if context.job_start:
            end = context.job_start + res.runtime_limit_s
            left = int(end - (time.time() if now is None else now))
            when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(end))
            line += f", until {when}"
            if show_time_left:
                line += f" ({format_duration(max(left, 0))} left)"
        lines.append(line + ".")
    if context.container_label:
        lines.append(f"Container: {context.container_label}, "
                     f"environment: {context.environment_name}.")
    return "\n".join(lines)
