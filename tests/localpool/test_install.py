"""The shims: installed into a dir, usable by any user with an empty environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from jobwrapper.localpool.install import shim_interpreter

from .helpers import RUNUSER, Pool, batchspawner_query_command, sleeper, user_dir


def test_install_bin_writes_executable_shims_with_the_pool_dir_baked_in(tmp_path: Path):
    pool_dir = tmp_path / "pool"
    result = subprocess.run(
        [sys.executable, "-m", "jobwrapper.localpool", "install-bin", str(tmp_path / "bin"),
         "--pool-dir", str(pool_dir), "--set", "idle_delay=0.5"],
        capture_output=True, text=True, check=True,
    )
    names = sorted(Path(line).name for line in result.stdout.split())
    assert names == ["condor_chirp", "condor_q", "condor_qedit", "condor_reschedule",
                     "condor_rm", "condor_ssh_to_job", "condor_status", "condor_submit"]
    shim = (tmp_path / "bin" / "condor_q").read_text()
    assert shim.startswith(f"#!{shim_interpreter()}\n")
    assert repr(str(pool_dir)) in shim
    assert os.access(tmp_path / "bin" / "condor_q", os.X_OK)
    assert '"idle_delay": 0.5' in (pool_dir / "pool.json").read_text()


def test_shims_work_for_another_user_with_an_empty_environment(pool: Pool, users):
    alice, _ = users
    submit = user_dir(pool, alice)
    command = [RUNUSER, "-u", alice, "--", "/usr/bin/env", "-i", str(pool.bin / "condor_submit")]
    result = subprocess.run(command, input=sleeper(0.1), capture_output=True, text=True,
                            cwd=submit, check=False)
    assert result.returncode == 0, result.stderr
    assert "submitted to cluster" in result.stdout


def test_batchspawners_query_command_line_works_through_a_shell(pool: Pool, submit_dir: Path):
    cluster = pool.submit(sleeper(), submit_dir)
    pool.wait_status(cluster, "2")
    command = batchspawner_query_command(cluster)
    assert "\n" in command  # a literal newline inside double quotes, as batchspawner sends
    env = {"PATH": f"{pool.bin}:/usr/bin:/bin"}
    result = subprocess.run(command, shell=True, capture_output=True, text=True, env=env,
                            check=False)
    assert result.returncode == 0
    assert result.stdout.startswith("2, slot1_")


def test_status_lists_the_jobs_of_the_pool(pool: Pool, submit_dir: Path):
    cluster = pool.submit(sleeper(), submit_dir)
    result = subprocess.run(
        [sys.executable, "-m", "jobwrapper.localpool", "status", "--pool-dir",
         str(pool.layout.root)], capture_output=True, text=True, check=True,
    )
    assert f"\n{cluster}.0 owner=root" in result.stdout


def test_shutdown_command_reports_how_many_jobs_it_removed(pool: Pool, submit_dir: Path):
    cluster = pool.submit(sleeper(), submit_dir)
    result = subprocess.run(
        [sys.executable, "-m", "jobwrapper.localpool", "shutdown", "--pool-dir",
         str(pool.layout.root)], capture_output=True, text=True, check=True,
    )
    assert result.stdout == f"removed 1 job(s) from {pool.layout.root}\n"
    assert not pool.in_queue(cluster)
