"""Emulated HTCondor jobs for tests: a scratch dir with the ads, and the environment
the starter gives a job (from tests/jobads/*/environ, paths moved into tmp_path).

Import what you need (``from jobfixtures import emulate_job``, as tests/health does
with its helpers) or use the pytest fixtures ``notebook_job``, ``interactive_job``
and ``defaults_job`` (import them into your test module or a conftest.py).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

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


_START_DATES = re.compile(r"^(JobCurrentStartDate|JobStartDate|JobLastStartDate"
                          r"|EnteredCurrentStatus|ShadowBday)(\s*=\s*)\d+\s*$", re.M)


def copy_job_ad(source: Path, target: Path) -> None:
    """Copy a fixture job ad with its start dates set to now: with the dates it was
    recorded with, the job would be past its MaxRuntime a few hours later and every
    server started from it would end itself at once."""
    now = int(time.time())
    text = _START_DATES.sub(lambda m: f"{m.group(1)}{m.group(2)}{now}", source.read_text())
    target.write_text(text)


def emulate_job(base: Path, kind: str = "notebook", scratch_name: str = "scratch") -> EmulatedJob:
    """Create ``base/scratch_name`` with the ads of ``kind`` and return the job."""
    scratch = base / scratch_name
    scratch.mkdir(parents=True)
    copy_job_ad(JOBADS / kind / "job.ad", scratch / ".job.ad")
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


# Login shells with the profile.d scripts "installed". /etc/profile.d of the test
# machine is not ours to change, so each shell's own per-user login file in the
# job's HOME sources a copy of the script, as /etc/profile (bash, dash),
# /etc/zsh/zprofile (zsh, see docs/profile.d.md) or /etc/csh.login (tcsh) would.
LOGIN_SHELLS = ("bash", "dash", "zsh", "tcsh")
_LOGIN_FILE = {"bash": ".bash_profile", "dash": ".profile", "zsh": ".zprofile", "tcsh": ".login"}
_PROMPT_VARIABLE = {"bash": "$PS1", "dash": "$PS1", "zsh": "$PROMPT", "tcsh": "$prompt:q"}


def install_profile_d(etc: Path) -> Path:
    """Copy profile.d/ to ``etc``/profile.d, as an image build would."""
    target = etc / "profile.d"
    target.mkdir(parents=True, exist_ok=True)
    for name in ("jobwrapper.sh", "jobwrapper.csh"):
        shutil.copy(PROFILE_D / name, target / name)
    return target


def source_line(shell: str, profile_d: Path) -> str:
    """How a login of ``shell`` sources the script (zsh: as an admin's zprofile line)."""
    if shell == "tcsh":
        return f"source {profile_d}/jobwrapper.csh"
    if shell == "zsh":
        return f"emulate sh -c '. {profile_d}/jobwrapper.sh'"
    return f". {profile_d}/jobwrapper.sh"


def write_login_file(home: Path, shell: str, text: str) -> None:
    (home / _LOGIN_FILE[shell]).write_text(text + "\n")


@dataclass(frozen=True)
class Login:
    """What a login shell printed, and the environment and prompt it ended with."""

    output: str
    environ: dict[str, str]
    prompt: str
    returncode: int


def run_login(shell: str, environ: dict[str, str], workdir: Path,
              profile_d: Optional[Path] = None, interactive: bool = True,
              prelude: str = "", commands: str = "") -> Login:
    """A real login shell (argv[0] starting with '-') reading commands from stdin.

    With ``profile_d``, the shell's login file in $HOME sources the script there,
    after ``prelude`` (e.g. ``set -eu``); without it, nothing is installed.
    ``-i`` makes it interactive, as a terminal would; without it bash, dash and zsh
    run the login files but are not interactive. tcsh counts every login shell as
    interactive, so a non-interactive tcsh is ``tcsh FILE`` sourcing the script (as
    RHEL's /etc/csh.cshrc does for every tcsh).
    """
    env_file, prompt_file = workdir / "login.env", workdir / "login.prompt"
    for path in (env_file, prompt_file):
        if path.exists():
            path.unlink()
    line = source_line(shell, profile_d) if profile_d else ""
    # /etc/profile resets PATH; an image would have jobwrapper in one of its dirs.
    path = (f"setenv PATH '{environ['PATH']}'" if shell == "tcsh"
            else f"PATH='{environ['PATH']}'; export PATH")
    write_login_file(Path(environ["HOME"]), shell, f"{path}\n{prelude}\n{line}")
    argv = [f"-{shell}", "-i"] if interactive else [f"-{shell}"]
    script = commands
    script += (f"env -0 > {env_file}\n"
               f"printf '%s' \"{_PROMPT_VARIABLE[shell]}\" > {prompt_file}\nexit\n")
    if shell == "tcsh" and not interactive:  # tcsh reading stdin sets $prompt: a file
        (workdir / "login.csh").write_text(f"{line}\n{script}")
        argv, script = [shell, str(workdir / "login.csh")], ""
    result = subprocess.run(argv, executable=shutil.which(shell), input=script, env=environ,
                            cwd=workdir, capture_output=True, text=True, timeout=60)
    entries = env_file.read_bytes().decode().split("\0") if env_file.exists() else []
    seen = dict(entry.split("=", 1) for entry in entries if "=" in entry)
    prompt = prompt_file.read_text() if prompt_file.exists() else ""
    return Login(result.stdout + result.stderr, seen, prompt, result.returncode)
