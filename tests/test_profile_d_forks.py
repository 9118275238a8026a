"""Once the cache exists, a login pays no process start: the profile.d scripts
source it and print the message with builtins only.

strace counts every execve/clone/fork of an interactive shell that sources the
script, against the same shell that does not; jobwrapper is not on PATH.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from jobfixtures import emulate_job, install_profile_d, source_line

pytestmark = pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")
_PROCESS_START = re.compile(r"\b(execve|clone3?|v?fork)\(")
_SHELL = {"bash": ["bash", "--norc", "-i"], "dash": ["dash", "-i"], "zsh": ["zsh", "-f", "-i"],
          "tcsh": ["tcsh", "-f", "-i"]}
# Exits 3 unless the environment was set, using builtins only.
_CHECK = {"tcsh": "if (! $?JOBWRAPPER_PRIVATE_DIR) exit 3",
          "sh": '[ -n "${JOBWRAPPER_PRIVATE_DIR-}" ] || exit 3'}


def process_starts(shell: str, commands: str, environ: dict[str, str], workdir: Path) -> int:
    trace = workdir / "trace"
    result = subprocess.run(
        ["strace", "-f", "-qq", "-o", str(trace), "-e", "trace=execve,clone,clone3,fork,vfork",
         *_SHELL[shell]], input=commands + "exit\n", env=environ, cwd=workdir,
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return sum(1 for line in trace.read_text().splitlines() if _PROCESS_START.search(line))


@pytest.mark.parametrize("shell", ["bash", "dash", "zsh", "tcsh"])
def test_cached_login_starts_no_process(shell, tmp_path):
    job = emulate_job(tmp_path, "notebook")
    subprocess.run(["jobwrapper", "env"], env=job.env(), check=True, capture_output=True)
    profile_d = install_profile_d(tmp_path / "etc")
    environ = job.env(with_jobwrapper=False)
    check = _CHECK["tcsh" if shell == "tcsh" else "sh"]
    sourcing = process_starts(shell, f"{source_line(shell, profile_d)}\n{check}\n", environ,
                              tmp_path)
    assert sourcing == process_starts(shell, ":\n", environ, tmp_path)
