"""The memory limit: a job over its slot's memory is held with HTCondor 25's cgroup
message (HoldReasonCode 34, subcode 102); a job within it runs on; the pool setting
memory_limit = false turns it off, as a pool without cgroups."""

from __future__ import annotations

import time
from pathlib import Path

from .helpers import PYTHON, Pool, wait_for

# Touches MB megabytes, then sleeps.
HOG = "import sys, time\nblock = bytearray(int(sys.argv[1]) * 1024 * 1024)\ntime.sleep(60)\n"


def _submit(pool: Pool, submit_dir: Path, request_mb: int, use_mb: int) -> int:
    (submit_dir / "hog.py").write_text(HOG)
    return pool.submit(
        f"executable = {PYTHON}\narguments = hog.py {use_mb}\ntransfer_input_files = hog.py\n"
        f"should_transfer_files = YES\nrequest_memory = {request_mb}\nqueue\n", submit_dir)


def test_a_job_over_its_memory_is_held_with_htcondors_reason(pool: Pool, submit_dir: Path):
    cluster = _submit(pool, submit_dir, request_mb=128, use_mb=250)
    pool.wait_status(cluster, "5", timeout=20)
    ad = pool.run("condor_q", str(cluster), "-af", "HoldReasonCode", "HoldReasonSubCode",
                  "HoldReason").stdout
    assert ad.startswith("34 102 Error from slot1_")
    assert "Job has gone over cgroup memory limit of 128 megabytes. Last measured usage: " in ad
    assert ad.rstrip().endswith("Consider resubmitting with a higher request_memory.")


def test_a_job_within_its_memory_runs_on(pool: Pool, submit_dir: Path):
    cluster = _submit(pool, submit_dir, request_mb=256, use_mb=50)
    pool.wait_status(cluster, "2")
    wait_for(lambda: (pool.scratch_dir(cluster) / "hog.py").exists(), what="the job")
    time.sleep(2)  # many memory checks (periodic_interval 0.1 s)
    assert pool.status(cluster) == "2"


def test_without_the_limit_a_job_may_use_more(make_pool):
    pool = make_pool(memory_limit="false")
    submit_dir = pool.root / "submit-nolimit"
    submit_dir.mkdir()
    cluster = _submit(pool, submit_dir, request_mb=128, use_mb=250)
    pool.wait_status(cluster, "2")
    time.sleep(2)
    assert pool.status(cluster) == "2"
