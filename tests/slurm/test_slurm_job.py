"""The job side in real Slurm jobs: what jobwrapper reads from a Slurm job's own
variables and squeue, the same message, variables and private dir as in HTCondor."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ALICE

JOBWRAPPER = str(Path(sys.executable).parent / "jobwrapper")


def run_in_job(slurm, *sbatch_args: str, command: str, timeout: float = 60) -> str:
    """sbatch `command` as alice, wait for the end, its output."""
    workdir = slurm.workdir(ALICE, "job")
    job = slurm.sbatch(*sbatch_args, f"--output={workdir}/out.txt",
                       f"--chdir={workdir}", "--wrap", command, user=ALICE, cwd=workdir)
    slurm.wait_state(job, "COMPLETED", "FAILED", timeout=timeout)
    return (workdir / "out.txt").read_text()


@pytest.fixture(scope="module", autouse=True)
def _runnable(slurm_users):
    probe = subprocess.run(["runuser", "-u", ALICE, "--", JOBWRAPPER, "--version"],
                           capture_output=True, timeout=60, check=False)
    if probe.returncode != 0:
        pytest.skip("the test users cannot run this venv's jobwrapper")


def test_info_says_what_the_job_asked_for_and_its_time_limit(slurm):
    output = run_in_job(slurm, "--cpus-per-task=2", "--mem=1G", "--time=10",
                        command=f"{JOBWRAPPER} info")
    lines = output.splitlines()
    assert lines[0] == "You requested 2 core(s), 1024 MB RAM."
    assert lines[1].startswith("Runtime limit: 10 min, until ")


def test_run_gives_the_command_the_thread_variables_and_a_private_tmp(slurm):
    output = run_in_job(slurm, "--cpus-per-task=2", "--mem=1G",
                        command=f"{JOBWRAPPER} run -- sh -c "
                                "'echo $OMP_NUM_THREADS $JOBWRAPPER_SCHEDULER $TMPDIR "
                                "$JOBWRAPPER_JOB_ID $SLURM_JOB_ID'")
    threads, scheduler, tmpdir, job_id, slurm_id = output.split()
    assert (threads, scheduler, job_id) == ("2", "slurm", slurm_id)
    assert tmpdir.endswith(f"-{slurm_id}/tmp") and "/jobwrapper-" in tmpdir


def test_memory_per_cpu_is_read_as_slurm_means_it(slurm):
    output = run_in_job(slurm, "--cpus-per-task=2", "--mem-per-cpu=256",
                        command=f"{JOBWRAPPER} info")
    assert output.splitlines()[0] == "You requested 2 core(s), 512 MB RAM."


def test_doctor_reads_the_slurm_job(slurm):
    output = run_in_job(slurm, "--cpus-per-task=1", "--mem=512",
                        command=f"{JOBWRAPPER} doctor 2>&1; true")
    line = next(line for line in output.splitlines() if "job ads" in line)
    assert "Slurm job" in line and "FAIL" not in line


def test_outside_slurm_nothing_pretends_to_be_a_job():
    environ = {key: value for key, value in os.environ.items()
               if not key.startswith(("SLURM_", "_CONDOR_"))}
    done = subprocess.run([JOBWRAPPER, "info"], capture_output=True, text=True,
                          env=environ, timeout=60, check=False)
    assert done.stdout.startswith("No HTCondor or Slurm job found")


def test_profile_d_sets_the_environment_and_the_next_login_takes_the_cache(slurm):
    script = Path(__file__).resolve().parents[2] / "profile.d" / "jobwrapper.sh"
    bin_dir = str(Path(JOBWRAPPER).parent)
    # First login: jobwrapper on PATH computes and caches. Second login: a clean shell
    # without jobwrapper on PATH still gets the variables, from the cache.
    first = f"env PATH={bin_dir}:/usr/bin:/bin sh -c '. {script}; echo first $OMP_NUM_THREADS'"
    second = (f"env -u JOBWRAPPER_LOGIN_ENV -u OMP_NUM_THREADS PATH=/usr/bin:/bin "
              f"sh -c '. {script}; echo second $OMP_NUM_THREADS $JOBWRAPPER_LOGIN_ENV "
              "$SLURM_JOB_ID'")
    output = run_in_job(slurm, "--cpus-per-task=2", "--mem=512",
                        command=f"{first}; {second}")
    first_line, second_line = output.splitlines()[-2:]
    job_id = second_line.split()[-1]
    assert (first_line, second_line) == ("first 2", f"second 2 slurm-{job_id} {job_id}")


def test_profile_d_for_tcsh_sets_the_environment_in_a_slurm_job(slurm):
    script = Path(__file__).resolve().parents[2] / "profile.d" / "jobwrapper.csh"
    bin_dir = str(Path(JOBWRAPPER).parent)
    command = (f"env PATH={bin_dir}:/usr/bin:/bin tcsh -f -c "
               f"'source {script}; echo tcsh $OMP_NUM_THREADS $JOBWRAPPER_LOGIN_ENV'")
    output = run_in_job(slurm, "--cpus-per-task=2", "--mem=512", command=command)
    assert output.split()[:3][:2] == ["tcsh", "2"]
    assert output.split()[2].startswith("slurm-")


def test_the_recommended_epilog_removes_the_private_dir_of_the_ended_job(slurm):
    import pwd

    from polling import wait_for

    output = run_in_job(slurm, "--mem=512",
                        command=f"{JOBWRAPPER} run -- sh -c 'echo $JOBWRAPPER_PRIVATE_DIR'")
    private = Path(output.split()[-1])
    uid = pwd.getpwnam(ALICE).pw_uid
    assert private.name.startswith(f"jobwrapper-{uid}-")
    wait_for(lambda: not private.exists(), 30, f"the epilog to remove {private}")
