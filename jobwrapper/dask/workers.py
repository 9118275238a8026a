"""Which worker jobs this notebook job submitted, and removing the ones left.

Standard library only: the server's shutdown (inserver/lifecycle.py) imports it, and
dask need not be installed there. Each submit and each removal appends one line to
``$JOBWRAPPER_PRIVATE_DIR/dask/workers`` (``+ 12.0 NAME`` / ``- 12.0``), so several
kernels of one server can write it at the same time without a lock.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Optional

REGISTRY_NAME = "workers"
REMOVE_TIMEOUT = 10.0  # seconds for one condor_rm of every worker left
# condor_rm's answers for jobs that need no removal (HTCondor 25.0.13)
_GONE = re.compile(r"Job \d+\.\d+ (not found|already marked for removal)\Z")


def state_dir(environ: Optional[Mapping[str, str]] = None) -> Path:
    """The 0700 directory of this job's Dask state: in the job's private dir (outside
    ~/jupyter, so nothing here travels home); outside a jobwrapper job, a new temp dir
    (no server's end looks there)."""
    env = os.environ if environ is None else environ
    private = env.get("JOBWRAPPER_PRIVATE_DIR")
    if not private:
        return Path(tempfile.mkdtemp(prefix="jobwrapper-dask-"))
    path = Path(private) / "dask"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def record_submitted(directory: Path, job_id: str, cluster_name: str) -> None:
    """Note a worker job as this notebook's."""
    _append(directory, f"+ {job_id} {cluster_name}\n")


def record_removed(directory: Path, job_id: str) -> None:
    """Note that a worker job was removed by its cluster."""
    _append(directory, f"- {job_id}\n")


def _append(directory: Path, line: str) -> None:
    fd = os.open(directory / REGISTRY_NAME, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def open_jobs(directory: Path) -> list[str]:
    """Worker jobs submitted and not yet removed by their cluster, oldest first."""
    try:
        text = (directory / REGISTRY_NAME).read_text()
    except FileNotFoundError:
        return []
    jobs: dict[str, None] = {}
    for line in text.splitlines():
        sign, _, rest = line.partition(" ")
        job_id = rest.split(" ", 1)[0]
        if sign == "+" and job_id:
            jobs[job_id] = None
        elif sign == "-":
            jobs.pop(job_id, None)
    return list(jobs)


def condor_tool(condor_bin: str, name: str) -> str:
    """``condor_rm`` on PATH, or in the site's ``dask.condor_bin``."""
    return os.path.join(condor_bin, name) if condor_bin else name


def remove_left_workers(condor_bin: str = "",
                        environ: Optional[Mapping[str, str]] = None) -> str:
    """condor_rm every worker job this notebook job submitted and no cluster removed
    (the kernel was killed, or never closed its cluster); one line for the log."""
    env = os.environ if environ is None else environ
    if not env.get("JOBWRAPPER_PRIVATE_DIR"):
        return "no Dask workers: not in a jobwrapper job"
    directory = state_dir(env)
    jobs = open_jobs(directory)
    if not jobs:
        return "no Dask worker jobs left"
    try:
        # Exit 1 when some are gone already (workers end by themselves too): expected.
        result = subprocess.run([condor_tool(condor_bin, "condor_rm"), *jobs], text=True,
                                capture_output=True, timeout=REMOVE_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"could not remove the Dask worker jobs {' '.join(jobs)}: {error}"
    if result.returncode not in (0, 1):
        return (f"could not remove the Dask worker jobs {' '.join(jobs)}: condor_rm ended "
                f"with {result.returncode}")
    problems = [line.strip() for line in result.stderr.splitlines()
                if line.strip() and not _GONE.match(line.strip())]
    if result.returncode == 1 and problems:  # not only jobs that are gone: say why
        return f"could not remove the Dask worker jobs {' '.join(jobs)}: {problems[0]}"
    for job_id in jobs:
        record_removed(directory, job_id)
    return f"removed the Dask worker jobs left: {' '.join(jobs)}"
