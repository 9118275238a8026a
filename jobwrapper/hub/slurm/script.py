"""The notebook job's batch script for sbatch: a pure builder, like submit.py for HTCondor.

Every value is checked or quoted here: `#SBATCH` lines get only validated words and
numbers, the environment is exported with shell quoting (`shlex.quote`), and the
rendered script is checked line by line, so no value can add a directive or a
command. The script runs `jobwrapper singleuser` with `exec`, so that Slurm's signals
(scancel, the time limit: SIGTERM, then SIGKILL after KillWait) reach the server.
"""

from __future__ import annotations

import dataclasses
import math
import re
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from jobwrapper.hub.submit import SubmitValueError, job_request
from jobwrapper.protocol import SAFE_NAME

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_SAFE_PATH = re.compile(r"/[A-Za-z0-9._+/@%=:~-]*\Z")
_DIRECTIVE = re.compile(r"--[a-z][a-z-]*(=[A-Za-z0-9._+/@%:,=-]+)?\Z")

# Options that are no Slurm request: container and environment reach the job as
# variables (job/slurm.py reads them); cephfs_io is an HTCondor site attribute.
CONTAINER_VARIABLE = "JOBWRAPPER_CONTAINER"
ENVIRONMENT_VARIABLE = "JOBWRAPPER_ENVIRONMENT"


def default_sbatch_options(options: Mapping[str, Any]) -> tuple[list[str], dict[str, str]]:
    """The form's options as (sbatch directives, job variables).

    `cpus` -> `--cpus-per-task`, `memory_mb` -> `--mem=NM`, `gpus` -> `--gres=gpu:N`,
    `runtime_limit` (s) -> `--time` in whole minutes (rounded up), `container_os` and
    `environment` -> JOBWRAPPER_CONTAINER, JOBWRAPPER_ENVIRONMENT. `cephfs_io` has no
    Slurm counterpart and is left out. Unknown keys are refused."""
    request = job_request(options)
    lines: list[str] = []
    if request.cpus is not None:
        lines.append(f"--cpus-per-task={request.cpus}")
    if request.memory_mb is not None:
        lines.append(f"--mem={request.memory_mb}M")
    if request.gpus:
        lines.append(f"--gres=gpu:{request.gpus}")
    if request.runtime_limit is not None:
        lines.append(f"--time={math.ceil(request.runtime_limit / 60)}")
    variables = {}
    if request.container_os is not None:
        variables[CONTAINER_VARIABLE] = request.container_os
    if request.environment is not None:
        variables[ENVIRONMENT_VARIABLE] = request.environment
    return lines, variables


def check_directives(directives: Sequence[str]) -> list[str]:
    """Each a single `--name` or `--name=value` of safe characters, and none that the
    hub owns (where the job runs, its files, its environment)."""
    owned = ("--chdir", "--output", "--error", "--input", "--export", "--export-file",
             "--job-name", "--wrap", "--get-user-env", "--uid", "--gid")
    checked = []
    for directive in directives:
        if not isinstance(directive, str) or not _DIRECTIVE.match(directive):
            raise SubmitValueError(f"sbatch option {directive!r} is not one --name=value "
                                   "of letters, digits and ._+/@%:,=-")
        if directive.split("=", 1)[0] in owned:
            raise SubmitValueError(f"sbatch option {directive!r} is set by the hub")
        checked.append(directive)
    return checked


def _path(value: str, what: str) -> str:
    if not _SAFE_PATH.match(value) or "/../" in f"{value}/":
        raise SubmitValueError(f"the {what} {value!r} must be an absolute path of "
                               "letters, digits and ._+/@%=:~-")
    return value


@dataclasses.dataclass(frozen=True)
class SlurmNotebookJob:
    """What the batch script needs; every field is checked when rendered."""

    executable: str
    """Absolute path of `jobwrapper` on the compute nodes."""
    arguments: Sequence[str]
    home: str
    """The user's home (shared with the nodes): the job's working directory."""
    job_dir: str
    """Where job.out and job.err go, relative to `home`."""
    environment: Mapping[str, str]
    """Public variables only: the secrets file's path is one of them, never a secret."""
    job_name: str
    directives: Sequence[str] = ()


def render_script(job: SlurmNotebookJob) -> str:
    """The batch script for `job`."""
    home = _path(job.home, "home directory")
    job_dir = _path(f"{home}/{job.job_dir}", "job directory")
    executable = _path(job.executable, "executable")
    if not SAFE_NAME.match(job.job_name):
        raise SubmitValueError(f"the job name {job.job_name!r} is not a plain name")
    lines = [
        "#!/bin/sh",
        "# A JupyterHub notebook server as a Slurm job (jobwrapper/hub/slurm/script.py).",
        f"#SBATCH --job-name={job.job_name}",
        f"#SBATCH --chdir={home}",
        f"#SBATCH --output={job_dir}/job.out",
        f"#SBATCH --error={job_dir}/job.err",
        *(f"#SBATCH {directive}" for directive in check_directives(job.directives)),
        "",
    ]
    for name, value in sorted(job.environment.items()):
        if not _ENV_NAME.match(name):
            raise SubmitValueError(f"environment variable name {name!r} is not valid")
        if any(char in value for char in "\0\n\r"):
            raise SubmitValueError(f"environment variable {name} holds a line break or NUL")
        lines.append(f"export {name}={shlex.quote(value)}")
    words = " ".join(shlex.quote(word) for word in job.arguments)
    lines += ["", f"exec {shlex.quote(executable)} {words}".rstrip(), ""]
    return "\n".join(lines)
