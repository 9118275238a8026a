"""condor_qedit and the job's condor_chirp get_job_attr: as HTCondor 25.0.13 (measured).

A plain edit reaches only the schedd's copy; with -forward the shadow (periodic_remove)
and condor_chirp in the job see it, within a second; the job's .job.ad never changes.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from .helpers import PYTHON, Pool, user_dir, wait_for

CHIRP_JOB = """executable = {python}
arguments = "-c 'import time; time.sleep(60)'"
should_transfer_files = YES
+MaxRuntime = 3600
periodic_remove = (JobStatus == 2) && ((time() - EnteredCurrentStatus) > (MaxRuntime + 1))
queue
"""


def chirp(pool: Pool, cluster: int) -> str:
    """condor_chirp get_job_attr MaxRuntime, as the job would run it."""
    scratch = pool.scratch_dir(cluster)
    env = {"_CONDOR_JOB_AD": str(scratch / ".job.ad"), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([str(pool.bin / "condor_chirp"), "get_job_attr", "MaxRuntime"],
                            capture_output=True, text=True, env=env, check=False, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def condor_q(pool: Pool, cluster: int) -> str:
    return pool.run("condor_q", str(cluster), "-af", "MaxRuntime").stdout.strip()


def test_forward_reaches_the_job_and_plain_edits_only_the_schedd(pool: Pool, submit_dir: Path):
    cluster = pool.submit(CHIRP_JOB.format(python=PYTHON), submit_dir)
    pool.wait_status(cluster, "2")
    assert chirp(pool, cluster) == "3600"

    plain = pool.run("condor_qedit", str(cluster), "MaxRuntime", "5400")
    assert (plain.returncode, plain.stdout) == (
        0, 'Set attribute "MaxRuntime" for 1 matching jobs.\n')
    wait_for(lambda: condor_q(pool, cluster) == "5400", 5, "condor_q shows the plain edit")
    time.sleep(1.5)
    assert chirp(pool, cluster) == "3600", "a plain edit never reaches the running job"

    forward = pool.run("condor_qedit", "-forward", f"{cluster}.0", "MaxRuntime", "7200")
    assert (forward.returncode, forward.stdout) == (
        0, 'Set attribute "MaxRuntime" for 1 matching jobs.\n')
    wait_for(lambda: chirp(pool, cluster) == "7200", 3, "chirp sees the forwarded edit")
    assert condor_q(pool, cluster) == "7200"
    ad = (pool.scratch_dir(cluster) / ".job.ad").read_text()
    assert "MaxRuntime = 3600" in ad, "the job's .job.ad is never rewritten"


def test_forward_is_what_periodic_remove_uses(pool: Pool, submit_dir: Path):
    job = CHIRP_JOB.format(python=PYTHON).replace("+MaxRuntime = 3600", "+MaxRuntime = 3")
    cluster = pool.submit(job, submit_dir)
    pool.wait_status(cluster, "2")
    assert pool.run("condor_qedit", "-forward", str(cluster), "MaxRuntime", "3600"
                    ).returncode == 0
    time.sleep(6)
    assert pool.status(cluster) == "2", "the forwarded MaxRuntime keeps the job running"
    pool.run("condor_rm", str(cluster))


def test_a_plain_edit_does_not_save_the_job_from_periodic_remove(pool: Pool, submit_dir: Path):
    job = CHIRP_JOB.format(python=PYTHON).replace("+MaxRuntime = 3600", "+MaxRuntime = 3")
    cluster = pool.submit(job, submit_dir)
    pool.wait_status(cluster, "2")
    assert pool.run("condor_qedit", str(cluster), "MaxRuntime", "3600").returncode == 0
    wait_for(lambda: not pool.in_queue(cluster), 15, "periodic_remove with the shadow's 3 s")


def test_unknown_job_and_another_users_job_fail_as_htcondor(pool: Pool, submit_dir: Path,
                                                            users: tuple[str, str]):
    alice, bob = users
    missing = pool.run("condor_qedit", "-forward", "999999", "MaxRuntime", "3")
    assert (missing.returncode, missing.stdout) == (1, "")
    assert missing.stderr == ('Failed to set attribute "MaxRuntime" by constraint: '
                              "( (ClusterId == 999999 ) )\n"
                              "Queue transaction failed.  No attributes were set.\n")
    cluster = pool.submit(CHIRP_JOB.format(python=PYTHON), user_dir(pool, alice), user=alice)
    pool.wait_status(cluster, "2")
    other = pool.run("condor_qedit", "-forward", str(cluster), "MaxRuntime", "3", user=bob)
    assert other.returncode == 1
    assert other.stderr.startswith('Failed to set attribute "MaxRuntime" by constraint')
    pool.run("condor_rm", str(cluster))


def test_only_literal_values(pool: Pool, submit_dir: Path):
    cluster = pool.submit(CHIRP_JOB.format(python=PYTHON), submit_dir)
    result = pool.run("condor_qedit", str(cluster), "MaxRuntime", "1; rm -rf /")
    assert result.returncode == 1 and "only literal values" in result.stderr
    pool.run("condor_rm", str(cluster))
