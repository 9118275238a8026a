"""The private Slurm cluster (tests/slurm/cluster.py) behaves as a real site's does for
what jobwrapper relies on: batch jobs of normal users, a second step in a running job,
scancel's SIGTERM then SIGKILL, and jobs that do not fit."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from polling import wait_for

from .cluster import KILL_WAIT, Cluster, start_cluster
from .conftest import ALICE, BOB

pytestmark = [pytest.mark.processes, pytest.mark.root]

ENDED = ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY")


def test_a_users_batch_job_runs_and_its_output_lands(slurm: Cluster) -> None:
    workdir = slurm.workdir(ALICE)
    job = slurm.sbatch("--cpus-per-task=2", "--mem=1G", user=ALICE, cwd=workdir,
                       script="#!/bin/sh\nid -un\necho job=$SLURM_JOB_ID "
                              "cpus=$SLURM_CPUS_PER_TASK\necho to-stderr >&2\n")
    assert slurm.wait_state(job, *ENDED) == "COMPLETED"
    output = workdir / f"slurm-{job}.out"
    assert output.read_text().splitlines() == [ALICE, f"job={job} cpus=2", "to-stderr"]
    assert output.stat().st_uid == os.stat(workdir).st_uid  # written as alice
    assert slurm.job_field(job, "UserId") == f"{ALICE}({output.stat().st_uid})"


def test_srun_overlap_runs_a_second_step_in_a_running_job(slurm: Cluster) -> None:
    workdir = slurm.workdir(ALICE)
    job = slurm.sbatch("--wrap", "sleep 120", user=ALICE, cwd=workdir)
    slurm.wait_state(job, "RUNNING")
    step = slurm.run("srun", f"--jobid={job}", "--overlap", "sh", "-c",
                     "echo $(id -un) $SLURM_JOB_ID $SLURM_STEP_ID", user=ALICE, cwd=workdir)
    assert step.returncode == 0, step.stderr
    assert step.stdout.split() == [ALICE, str(job), "0"]  # the first step after .batch
    # Another user cannot enter alice's job.
    other = slurm.run("srun", f"--jobid={job}", "--overlap", "true", user=BOB, cwd="/")
    assert other.returncode != 0
    assert "Access/permission denied" in other.stderr
    assert slurm.job_field(job, "JobState") == "RUNNING"


# Notes each signal it can catch with a time stamp, ticks on, and an EXIT trap that
# only a catchable ending runs.
SIGNAL_SCRIPT = r"""#!/bin/bash
log=$SLURM_SUBMIT_DIR/signals.log
for s in HUP INT QUIT USR1 USR2 TERM CONT ALRM; do
  trap "echo $s \$(date +%s.%N) >> $log" $s
done
trap "echo EXIT >> $log" EXIT
echo started >> $log
while true; do sleep 0.2; echo "tick $(date +%s.%N)" >> $log; done
"""


def test_scancel_sends_sigterm_then_sigkill_after_killwait(slurm: Cluster) -> None:
    workdir = slurm.workdir(ALICE)
    log = workdir / "signals.log"
    job = slurm.sbatch(user=ALICE, cwd=workdir, script=SIGNAL_SCRIPT)
    slurm.wait_state(job, "RUNNING")
    wait_for(lambda: "tick" in (log.read_text() if log.exists() else ""), 10, "a tick")
    cancel = slurm.run("scancel", str(job), user=ALICE)
    assert cancel.returncode == 0, cancel.stderr
    # ExitCode 0:9: the batch script ended by signal 9, SIGKILL.
    wait_for(lambda: slurm.job_field(job, "ExitCode") == "0:9", KILL_WAIT + 10,
             "the job killed by SIGKILL")
    lines = log.read_text().splitlines()
    names = [line.split()[0] for line in lines]
    assert "TERM" in names and "EXIT" not in names, lines
    assert {"HUP", "INT", "USR1", "USR2"}.isdisjoint(names)
    # The script went on after SIGTERM (it trapped it) until SIGKILL ended it.
    after_term = names[names.index("TERM") + 1:]
    assert "tick" in after_term, lines
    # COMPLETING until the epilog has run on the node, then CANCELLED
    assert slurm.wait_state(job, "CANCELLED", timeout=15) == "CANCELLED"
    assert "CANCELLED" in (workdir / f"slurm-{job}.out").read_text()


def test_a_job_that_does_not_fit(slurm: Cluster) -> None:
    workdir = slurm.workdir(ALICE)
    # More memory than the node has: refused at submit.
    refused = slurm.run("sbatch", "--mem=8G", "--wrap", "true", user=ALICE, cwd=workdir)
    assert refused.returncode == 1
    assert "Requested node configuration is not available" in refused.stderr
    # More CPUs than the node has: accepted (EnforcePartLimits=NO), pending for ever.
    too_wide = slurm.sbatch("--cpus-per-task=8", "--wrap", "true", user=ALICE, cwd=workdir)
    wait_for(lambda: slurm.job_field(too_wide, "Reason") == "PartitionConfig", 10,
             "reason PartitionConfig")
    assert slurm.job_field(too_wide, "JobState") == "PENDING"
    slurm.run("scancel", str(too_wide), check=True)
    # Fits the node, not now: pending for Resources while the node is full.
    full = slurm.sbatch("--cpus-per-task=4", "--wrap", "sleep 120", user=ALICE, cwd=workdir)
    slurm.wait_state(full, "RUNNING")
    waiting = slurm.sbatch("--cpus-per-task=1", "--wrap", "true", user=BOB,
                           cwd=slurm.workdir(BOB))
    wait_for(lambda: slurm.job_field(waiting, "Reason") == "Resources", 10,
             "reason Resources")
    squeue = slurm.run("squeue", "-h", "-j", str(waiting), "-o", "%T %r", user=BOB)
    assert squeue.stdout.split() == ["PENDING", "Resources"]
    slurm.run("scancel", str(full), check=True)
    assert slurm.wait_state(waiting, *ENDED) == "COMPLETED"


def test_two_clusters_coexist_and_stop_leaves_no_process(slurm: Cluster) -> None:
    directory = Path(tempfile.mkdtemp(prefix="jwslurm-second-", dir="/tmp"))
    try:
        with start_cluster(directory) as second:
            assert {second.ctld_port, second.slurmd_port}.isdisjoint(
                {slurm.ctld_port, slurm.slurmd_port})
            job = second.sbatch("--wrap", "sleep 120", user=ALICE,
                                cwd=second.workdir(ALICE))
            second.wait_state(job, "RUNNING")
            assert slurm.run("squeue", "-h", "-o", "%i").stdout.split() == []
            daemons = [process.pid for process in second.processes.values()]
        for pid in daemons:
            assert not Path(f"/proc/{pid}").exists() or _zombie(pid)
        assert _processes_in(directory) == []
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return True


def _processes_in(directory: Path) -> list[int]:
    """Live processes whose working directory or command line is in `directory`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or _zombie(int(entry.name)):
            continue
        try:
            cwd = os.readlink(entry / "cwd")
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if cwd.startswith(str(directory)) or str(directory) in cmdline:
            found.append(int(entry.name))
    return found
