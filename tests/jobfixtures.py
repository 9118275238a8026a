"""Emulated HTCondor jobs for tests: a scratch dir with the ads, and the environment
the starter gives a job (from tests/jobads/*/environ, paths moved into tmp_path).

Import what you need (``from jobfixtures import emulate_job``, as tests/health does
with its helpers) or use the
pytest fixtures ``notebook_job``, ``interactive_job`` and ``defaults_job``.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

JOBADS = Path(__file__).parent / "jobads"
KINDS = ("notebook", "interactive", "defaults")
PROFILE_D = Path(__file__).parent.parent / "profile.d"
JOBWRAPPER = Path(sys.executable).parent / "jobwrapper"
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
# Leaks from the machine the ads were captured on, or would make shells read files
# outside the test (BASH_ENV runs Lmod's init in every bash).
_DROPPED = {"BASH_ENV", "ENV", "PWD", "OLDPWD", "_", "SHLVL", "HOME", "PATH"}


@dataclass(frozen=True)
class EmulatedJob:
    """One job: its scratch dir, a home, and the environment its processes get."""

    kind: str
    scratch_dir: Path
    home: Path
    environ: dict[str, str]
    bin_dir: Path  # holds only a `jobwrapper` link; put it on PATH to "install" it

    @property
    def private_dir(self) -> Path:
        return self.scratch_dir / ".jobwrapper"

    def env(self, with_jobwrapper: bool = True, **extra: str) -> dict[str, str]:
        """The job's environment; jobwrapper on PATH or not."""
        path = f"{self.bin_dir}:{SYSTEM_PATH}" if with_jobwrapper else SYSTEM_PATH
        return {**self.environ, "PATH": path, **extra}


def read_environ(kind: str) -> dict[str, str]:
    """The captured job environment, one NAME=value a line."""
    environ = {}
    for line in (JOBADS / kind / "environ").read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep:
            environ[name] = value
    return environ


def emulate_job(base: Path, kind: str = "notebook", scratch_name: str = "scratch") -> EmulatedJob:
    """Create ``base/scratch_name`` with the ads of ``kind`` and return the job."""
    scratch = base / scratch_name
    scratch.mkdir(parents=True)
    shutil.copy(JOBADS / kind / "job.ad", scratch / ".job.ad")
    shutil.copy(JOBADS / kind / "machine.ad", scratch / ".machine.ad")
    home = base / "home"
    home.mkdir(exist_ok=True)
    bin_dir = base / "bin"
    bin_dir.mkdir(exist_ok=True)
    if not (bin_dir / "jobwrapper").exists():
        os.symlink(JOBWRAPPER, bin_dir / "jobwrapper")
    captured = read_environ(kind)
    old_scratch = captured["_CONDOR_SCRATCH_DIR"]
    environ = {name: value.replace(old_scratch, str(scratch)) for name, value in captured.items()
               if name not in _DROPPED}
    environ.update(HOME=str(home), LANG="C.UTF-8", TERM="dumb",
                   _CONDOR_SCRATCH_DIR=str(scratch),
                   _CONDOR_JOB_AD=str(scratch / ".job.ad"),
                   _CONDOR_MACHINE_AD=str(scratch / ".machine.ad"))
    return EmulatedJob(kind, scratch, home, environ, bin_dir)


def outside_job_env(base: Path) -> dict[str, str]:
    """A plain login environment with no HTCondor variables."""
    home = base / "home"
    home.mkdir(exist_ok=True)
    return {"HOME": str(home), "PATH": f"{JOBWRAPPER.parent}:{SYSTEM_PATH}",
            "LANG": "C.UTF-8", "TERM": "dumb", "USER": "alice", "LOGNAME": "alice"}


@pytest.fixture
def notebook_job(tmp_path: Path) -> EmulatedJob:
    return emulate_job(tmp_path, "notebook")


@pytest.fixture
def interactive_job(tmp_path: Path) -> EmulatedJob:
    return emulate_job(tmp_path, "interactive")


@pytest.fixture
def defaults_job(tmp_path: Path) -> EmulatedJob:
    return emulate_job(tmp_path, "defaults")
