"""File transfer as HTCondor 25.0 does it (cross-checked, docs/localpool.md): no mtimes
kept, symlinks followed, a symlinked dir refused, output merged over what is there."""

from __future__ import annotations

import os
import time
from pathlib import Path

from .helpers import PYTHON, Pool, sleeper, wait_for

OLD = 1577934245  # 2020-01-02


def _tree(root: Path) -> Path:
    data = root / "data"
    data.mkdir()
    (data / "old.txt").write_text("old")
    os.utime(data / "old.txt", (OLD, OLD))
    (data / "link.txt").symlink_to("old.txt")
    return data


def test_input_gets_the_transfer_time_and_symlinks_arrive_as_files(pool: Pool, submit_dir: Path):
    data = _tree(submit_dir)
    cluster = pool.submit(sleeper(60, f"transfer_input_files = {data}"), submit_dir)
    pool.wait_status(cluster, "2")
    arrived = pool.scratch_dir(cluster) / "data"
    wait_for(lambda: (arrived / "link.txt").exists(), what="the input")
    assert (arrived / "old.txt").stat().st_mtime > time.time() - 600
    assert not (arrived / "link.txt").is_symlink()
    assert (arrived / "link.txt").read_text() == "old"
    pool.run("condor_rm", str(cluster))


def test_a_symlinked_dir_in_the_input_holds_the_job(pool: Pool, submit_dir: Path):
    data = _tree(submit_dir)
    (data / "linked-dir").symlink_to(submit_dir)
    cluster = pool.submit(sleeper(60, f"transfer_input_files = {data}"), submit_dir)
    pool.wait_status(cluster, "5")
    reason = pool.run("condor_q", str(cluster), "-af", "HoldReason").stdout
    assert "Transfer of symlinks to directories is not supported" in reason


def test_output_is_merged_over_an_existing_dir(pool: Pool, submit_dir: Path):
    (submit_dir / "out").mkdir()
    (submit_dir / "out" / "stale.txt").write_text("the job never had this")
    (submit_dir / "job.py").write_text(
        "import os\nos.makedirs('out', exist_ok=True)\n"
        "open('out/new.txt', 'w').write('from the job')\n")
    description = (f"executable = {PYTHON}\narguments = job.py\n"
                   "transfer_input_files = job.py\nshould_transfer_files = YES\n"
                   "transfer_output_files = out\nqueue\n")
    cluster = pool.submit(description, submit_dir)
    wait_for(lambda: not pool.in_queue(cluster), what="the job to end")
    assert (submit_dir / "out" / "new.txt").read_text() == "from the job"
    assert (submit_dir / "out" / "stale.txt").exists()
    assert (submit_dir / "out" / "new.txt").stat().st_mtime > time.time() - 600
