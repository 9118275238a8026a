"""More time against a real HTCondor (opt-in: JWHUB_REAL_CONDOR=/opt/htcondor, root, a
personal pool running): the hub's own condor_qedit argv, run as the job's owner,
reaches the running job through condor_chirp get_job_attr; a plain edit does not, and
the job's .job.ad never changes (docs/shutdown.md, "What HTCondor 25.0.13 does")."""

from __future__ import annotations

import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from jobwrapper.hub.site.sessiontime import qedit_argv

from .harness import REAL_CONDOR, needs_real_condor, real_condor_env

CONDOR = REAL_CONDOR
pytestmark = [pytest.mark.root, needs_real_condor]
USER = "jwtest-carol"
JOB = """#!/bin/sh
while true; do
  ad=$(grep '^MaxRuntime' "$_CONDOR_JOB_AD" | cut -d' ' -f3)
  echo "ad=$ad chirp=$({chirp} get_job_attr MaxRuntime)"
  sleep 0.5
done
"""
SUBMIT = """executable = job.sh
output = out.txt
error = err.txt
+MaxRuntime = 3600
+WantIOProxy = true
periodic_remove = (JobStatus == 2) && ((time() - EnteredCurrentStatus) > (MaxRuntime + 300))
queue
"""


def as_user(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["runuser", "-u", USER, "--", *argv], cwd=cwd, env=real_condor_env(),
                          capture_output=True, text=True, timeout=60, check=False)


def last_line(out: Path) -> str:
    lines = out.read_text().splitlines() if out.exists() else []
    return lines[-1] if lines else ""


def wait_line(out: Path, wanted: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if last_line(out) == wanted:
            return wanted
        time.sleep(0.25)
    return last_line(out)


def test_qedit_forward_reaches_the_running_job(hub_users):
    try:
        pwd.getpwnam(USER)
    except KeyError:
        pytest.skip(f"no user {USER}")
    # HTCondor gives jobs a private /tmp: the submit dir must be elsewhere.
    work = Path(tempfile.mkdtemp(prefix="jw-qedit-", dir="/srv"))
    shutil.chown(work, USER)
    (work / "job.sh").write_text(JOB.format(chirp=f"{CONDOR}/libexec/condor_chirp"))
    (work / "job.sh").chmod(0o755)
    (work / "job.sub").write_text(SUBMIT)
    job_id = ""
    try:
        submitted = as_user(f"{CONDOR}/bin/condor_submit", "-terse", "job.sub", cwd=work)
        assert submitted.returncode == 0, submitted.stderr
        job_id = submitted.stdout.split(".")[0].strip()
        out = work / "out.txt"
        assert wait_line(out, "ad=3600 chirp=3600", 120) == "ad=3600 chirp=3600"

        plain = as_user(f"{CONDOR}/bin/condor_qedit", job_id, "MaxRuntime", "5400", cwd=work)
        assert (plain.returncode, plain.stdout) == (
            0, 'Set attribute "MaxRuntime" for 1 matching jobs.\n')
        time.sleep(3)
        assert last_line(out) == "ad=3600 chirp=3600", "a plain edit never reaches the job"

        argv = qedit_argv(f"{CONDOR}/bin/condor_qedit", job_id, 7200)
        forward = as_user(*argv, cwd=work)
        assert (forward.returncode, forward.stdout) == (
            0, 'Set attribute "MaxRuntime" for 1 matching jobs.\n')
        assert wait_line(out, "ad=3600 chirp=7200", 10) == "ad=3600 chirp=7200"
    finally:
        if job_id:
            as_user(f"{CONDOR}/bin/condor_rm", job_id, cwd=work)
        shutil.rmtree(work, ignore_errors=True)
