"""The plan stage: a pure function from JobContext to Setup (plain data).

Everything jobwrapper will do is decided here and can be printed with
``jobwrapper plan`` before anything is touched. ``apply`` carries it out.

Temporary and runtime data live in the job's private directory, inside the
scratch dir but outside the transferred ``jupyter/``: HTCondor transfers only the
listed output (``jupyter``), so nothing here travels back to the user's home.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Optional

from jobwrapper.job.context import HIDDEN_GPU, JobContext
from jobwrapper.job.login import read_login
from jobwrapper.job.message import login_message
from jobwrapper.job.threads import thread_variables

PRIVATE_DIR_NAME = ".jobwrapper"


@dataclass(frozen=True)
class Setup:
    """What jobwrapper will do for this job. ``__str__`` is for people."""

    private_dir: str
    directories: tuple[str, ...]  # created with mode 0700, in order
    env: dict[str, str]  # every variable to set, in order (threads and limits first)
    unset: tuple[str, ...] = ()
    # Named parts of `env`, kept so that later stages never look them up by name:
    threads: dict[str, str] = field(default_factory=dict)  # OMP_NUM_THREADS=cores, ...
    limits: dict[str, str] = field(default_factory=dict)  # CPU_LIMIT, MEM_LIMIT (bytes)
    # What every kernel gets frozen into its kernel.json: the threads, the limits, the
    # job's labels (environment, container) and the GPUs the plan made visible.
    kernel_env: dict[str, str] = field(default_factory=dict)
    message: str = ""
    container_label: Optional[str] = None
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())  # later stages add what they will do

    def environment(self, base: dict[str, str]) -> dict[str, str]:
        """``base`` with this plan's variables applied."""
        result = {k: v for k, v in base.items() if k not in self.unset}
        result.update(self.env)
        return result

    def __str__(self) -> str:
        lines = [f"Private directory: {self.private_dir} (mode 0700)", "Directories:"]
        lines += [f"  {path}" for path in self.directories]
        lines.append("Environment:")
        lines += [f"  {name}={value!r}" for name, value in self.env.items()]
        lines += [f"  unset {name}" for name in self.unset]
        lines += [*self.notes]
        lines += ["Login message:", *[f"  {line}" for line in self.message.splitlines()]]
        if self.warnings:
            lines += ["Warnings:", *[f"  {w}" for w in self.warnings]]
        return "\n".join(lines)


def private_root(context: JobContext, uid: int) -> str:
    """Where the private directory goes: the scratch dir, or a per-user temp dir (per
    user and job in a job without a scratch dir: Slurm's /tmp is shared by jobs)."""
    if context.scratch_dir:
        return os.path.join(context.scratch_dir, PRIVATE_DIR_NAME)
    base = context.temp_base or context.environ.get("TMPDIR") or "/tmp"  # noqa: S108 - 0700
    suffix = f"-{context.job_id}" if context.in_job and context.job_id else ""
    return os.path.join(base, f"jobwrapper-{uid}{suffix}")


def fallback_root(uid: int, job_id: Optional[str]) -> str:
    """Used when the scratch dir is not writable."""
    suffix = f"-{job_id}" if job_id else ""
    return os.path.join("/tmp", f"jobwrapper-{uid}{suffix}")  # noqa: S108


def _directories(private: str) -> dict[str, str]:
    return {
        "tmp": os.path.join(private, "tmp"),
        "runtime": os.path.join(private, "runtime"),
        "jupyter_runtime": os.path.join(private, "runtime", "jupyter"),
        "cache": os.path.join(private, "cache"),
        "ipython": os.path.join(private, "ipython"),
        "matplotlib": os.path.join(private, "matplotlib"),
        "share": os.path.join(private, "share"),
        "jupyter_data": os.path.join(private, "share", "jupyter"),
        "etc": os.path.join(private, "etc"),
        "jupyter_config": os.path.join(private, "etc", "jupyter"),
    }


def plan(context: JobContext, uid: int, private_dir: Optional[str] = None) -> Setup:
    """Decide the job's directories, variables and message; touches nothing."""
    private = private_dir or private_root(context, uid)
    dirs = _directories(private)
    res = context.resources
    extra = context.config.job.extra_thread_variables
    threads = thread_variables(res.cores, context.user_environment, extra)
    limits = {"CPU_LIMIT": str(res.cores)}
    if res.memory_mb:
        limits["MEM_LIMIT"] = str(res.memory_mb * 1024 * 1024)
    env: dict[str, str] = {**threads, **limits}
    for name in ("TMPDIR", "TMP", "TEMP"):
        env[name] = dirs["tmp"]
    env.update({
        "XDG_RUNTIME_DIR": dirs["runtime"],
        "XDG_CACHE_HOME": dirs["cache"],
        "JUPYTER_RUNTIME_DIR": dirs["jupyter_runtime"],
        "IPYTHONDIR": dirs["ipython"],
        "MPLCONFIGDIR": dirs["matplotlib"],
        # Keeps __pycache__ out of jupyter/ (it would travel home). Not PYTHONPYCACHEPREFIX:
        # a fresh prefix per job makes every Python program recompile its imports.
        "PYTHONDONTWRITEBYTECODE": "1",
        "JUPYTER_PATH": _prepend(dirs["jupyter_data"], context.environ.get("JUPYTER_PATH")),
        "JUPYTER_CONFIG_PATH": _prepend(dirs["jupyter_config"],
                                        context.environ.get("JUPYTER_CONFIG_PATH")),
        "JOBWRAPPER_PRIVATE_DIR": private,
        "JOBWRAPPER_ENVIRONMENT": context.environment_name,
    })
    identity = _job_identity(context)
    env.update(identity)
    login = read_login(context, uid)  # [login]: data dir, TZ, the user's rc file
    env.update(login.env)
    labels = {name: env[name] for name in ("JOBWRAPPER_ENVIRONMENT", "JOBWRAPPER_CONTAINER")
              if name in env}
    gpus = {name: value for name, value in identity.items() if name == "CUDA_VISIBLE_DEVICES"}
    return Setup(
        private_dir=private,
        directories=(private, *dirs.values()),
        env=env,
        threads=threads,
        limits=limits,
        kernel_env={**threads, **limits, **labels, **gpus},
        message=login_message(context, show_time_left=False),
        container_label=context.container_label,
        warnings=context.warnings,
        notes=login.notes,
    )


def _job_identity(context: JobContext) -> dict[str, str]:
    env: dict[str, str] = {}
    if context.container_label:
        env["JOBWRAPPER_CONTAINER"] = context.container_label
    if context.job_id:
        env["JOBWRAPPER_JOB_ID"] = context.job_id
    if context.scheduler:
        env["JOBWRAPPER_SCHEDULER"] = context.scheduler
    res = context.resources
    if res.runtime_limit_s and context.job_start:
        env["JOBWRAPPER_RUNTIME_END"] = str(context.job_start + res.runtime_limit_s)
    if context.in_job:
        env.update(_gpu_visibility(context))
        # the ids as read (AssignedGPUs, SLURM_JOB_GPUS, ...), for the server's GPU panel
        env["JOBWRAPPER_GPU_IDS"] = ",".join(res.gpu_ids)
    fix_user = context.config.job.fix_user_name
    if context.in_job and fix_user and context.owner:
        env["USER"] = env["LOGNAME"] = context.owner
    return env


def _gpu_visibility(context: JobContext) -> dict[str, str]:
    """HTCondor's GPU variables, where they were lost on the way into a container or shell.

    Without an assigned GPU HTCondor hides every device with these three values; with
    GPUs it puts their ids in CUDA_VISIBLE_DEVICES. A value still present is HTCondor's
    (or the user's) and is left alone.
    """
    ids = context.resources.gpu_ids
    wanted = {"CUDA_VISIBLE_DEVICES": ",".join(ids)} if ids else {
        "CUDA_VISIBLE_DEVICES": HIDDEN_GPU, "GPU_DEVICE_ORDINAL": HIDDEN_GPU,
        "NVIDIA_VISIBLE_DEVICES": "none"}
    return {name: value for name, value in wanted.items() if name not in context.environ}


def _prepend(entry: str, current: Optional[str]) -> str:
    parts = [p for p in (current or "").split(os.pathsep) if p and p != entry]
    return os.pathsep.join([entry, *parts])
