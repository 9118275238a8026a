"""The read stage's Slurm source (job/slurm.py): a Slurm job's environment becomes the
same JobContext as an HTCondor job's ads, and the plan after it is the same."""

from __future__ import annotations

import stat
import time

import pytest

from jobwrapper.config import SiteConfig, SlurmSettings
from jobwrapper.job.context import HostLimits, read_context
from jobwrapper.job.message import login_message
from jobwrapper.job.plan import plan
from jobwrapper.job.slurm import parse_duration, squeue_times

HOST = HostLimits(cores=8, memory_mb=16000)
NOW = 1_800_000_000.0
BATCH = {  # what a batch job of `sbatch --cpus-per-task=4 --mem=4G --time=2:00:00` sees
    "SLURM_JOB_ID": "42", "SLURM_JOB_USER": "alice", "SLURM_CPUS_ON_NODE": "4",
    "SLURM_CPUS_PER_TASK": "4", "SLURM_MEM_PER_NODE": "4096", "SLURMD_NODENAME": "node7",
    "SLURM_JOB_START_TIME": str(int(NOW) - 600), "SLURM_JOB_END_TIME": str(int(NOW) + 6600),
    "TMPDIR": "/tmp",
}
NO_SQUEUE = SiteConfig(slurm=SlurmSettings(time_limit=False))


def read(environ: dict[str, str], config: SiteConfig = NO_SQUEUE):
    return read_context(environ, config, host=HOST)


def test_a_slurm_job_is_read_from_slurms_variables():
    context = read(BATCH)
    res = context.resources
    assert (context.scheduler, context.in_job, context.job_id, context.owner) == (
        "slurm", True, "42", "alice")
    assert (res.cores, res.requested_cores, res.memory_mb, res.disk_kb) == (4, 4, 4096, None)


def test_the_message_is_the_usual_one_without_disk():
    assert login_message(read(BATCH), now=NOW).splitlines()[0] == (
        "You requested 4 core(s), 4096 MB RAM.")


def test_start_and_end_time_give_the_runtime_limit():
    context = read(BATCH)
    assert (context.resources.runtime_limit_s, context.job_start) == (7200, int(NOW) - 600)


def test_memory_per_cpu_is_multiplied_by_the_nodes_cpus():
    environ = {**BATCH, "SLURM_MEM_PER_CPU": "512"}
    del environ["SLURM_MEM_PER_NODE"]
    assert read(environ).resources.memory_mb == 2048


def test_cpus_per_task_times_tasks_is_the_request_and_the_node_provides_more():
    environ = {**BATCH, "SLURM_CPUS_PER_TASK": "2", "SLURM_NTASKS": "1"}
    assert login_message(read(environ), now=NOW).splitlines()[:2] == [
        "You requested 2 core(s), 4096 MB RAM.",
        "The node provides 4 core(s), 4096 MB RAM."]


def test_a_bad_value_is_one_warning_naming_the_variable_and_the_fallback_is_used():
    context = read({**BATCH, "SLURM_CPUS_ON_NODE": "4; rm -rf ~"})
    assert context.resources.cores == HOST.cores
    assert context.warnings == (
        "Slurm job 42: SLURM_CPUS_ON_NODE is not a whole number ('4; rm -rf ~'); "
        "it is ignored",)


@pytest.mark.parametrize(("value", "problem"), [
    ("0", "must be positive (it is 0)"),
    ("200000", "is implausibly large (200000 > 100000)"),
])
def test_a_number_out_of_bounds_is_one_warning_as_for_an_ad(value, problem):
    context = read({**BATCH, "SLURM_CPUS_ON_NODE": value})
    assert context.resources.cores == HOST.cores
    assert context.warnings == (f"Slurm job 42: SLURM_CPUS_ON_NODE {problem}; it is ignored",)


def test_gpus_are_the_nodes_indices_from_slurm_job_gpus():
    environ = {**BATCH, "SLURM_GPUS_ON_NODE": "2", "SLURM_JOB_GPUS": "1,3",
               "CUDA_VISIBLE_DEVICES": "0,1"}
    context = read(environ)
    assert (context.resources.gpus, context.resources.gpu_ids) == (2, ("1", "3"))
    assert plan(context, 1000).env["JOBWRAPPER_GPU_IDS"] == "1,3"  # for the GPU panel


def test_container_and_environment_come_from_the_configured_variables():
    environ = {**BATCH, "JOBWRAPPER_CONTAINER": "Rocky9", "JOBWRAPPER_ENVIRONMENT": "testing"}
    context = read(environ)
    assert (context.container_os, context.container_label, context.environment_name) == (
        "Rocky9", "Rocky9", "testing")


def test_a_container_name_that_is_not_plain_is_ignored_with_a_warning():
    context = read({**BATCH, "JOBWRAPPER_CONTAINER": "$(id)"})
    assert context.container_os is None
    assert context.warnings == (
        "Slurm job 42: JOBWRAPPER_CONTAINER is not a plain name ('$(id)'); it is ignored",)


def test_an_array_task_is_named_like_slurm_names_it():
    environ = {**BATCH, "SLURM_ARRAY_JOB_ID": "40", "SLURM_ARRAY_TASK_ID": "2"}
    assert read(environ).job_id == "40_2"


def test_an_htcondor_job_ad_wins_over_an_enclosing_slurm_allocation(tmp_path):
    ad = tmp_path / ".job.ad"
    ad.write_text("ClusterId = 7\nProcId = 0\nRequestCpus = 2\n")
    environ = {**BATCH, "_CONDOR_JOB_AD": str(ad), "_CONDOR_SCRATCH_DIR": str(tmp_path)}
    context = read(environ)
    assert (context.scheduler, context.job_id) == ("htcondor", "7.0")


def test_the_private_dir_is_per_user_and_job_in_the_nodes_temp(tmp_path):
    context = read({**BATCH, "SLURM_TMPDIR": str(tmp_path)})
    setup = plan(context, 1000)
    assert setup.private_dir == str(tmp_path / "jobwrapper-1000-42")


def test_the_plan_names_the_scheduler_and_the_job():
    env = plan(read(BATCH), 1000).env
    assert (env["JOBWRAPPER_SCHEDULER"], env["JOBWRAPPER_JOB_ID"], env["USER"],
            env["OMP_NUM_THREADS"], env["JOBWRAPPER_RUNTIME_END"]) == (
        "slurm", "42", "alice", "4", str(int(NOW) + 6600))


@pytest.mark.parametrize(("text", "seconds"), [
    ("10", 600), ("10:30", 630), ("2:00:00", 7200), ("1-0", 86400), ("1-02:30", 95400),
    ("1-02:30:05", 95405), ("UNLIMITED", None), ("NOT_SET", None), ("INVALID", None),
    ("", None),
])
def test_slurms_time_formats(text, seconds):
    assert parse_duration(text) == seconds


def fake_squeue(tmp_path, output: str, status: int = 0) -> str:
    path = tmp_path / "squeue"
    path.write_text(f"#!/bin/sh\nprintf '%s' '{output}'\nexit {status}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_without_times_in_the_environment_squeue_gives_limit_and_time_left(tmp_path):
    config = SiteConfig(slurm=SlurmSettings(squeue=fake_squeue(tmp_path, "2:00:00|1:50:00\n")))
    environ = {key: value for key, value in BATCH.items() if "_TIME" not in key}
    context = read_context(environ, config, host=HOST)
    assert context.resources.runtime_limit_s == 7200
    assert 599 <= time.time() - context.job_start <= 605  # 10 min of 2 h are gone


def test_an_unlimited_job_has_no_runtime_limit(tmp_path):
    config = SiteConfig(slurm=SlurmSettings(squeue=fake_squeue(tmp_path, "UNLIMITED|UNLIMITED")))
    assert squeue_times(config, "42", {}) == (None, None, None)


def test_a_failing_squeue_is_one_warning_and_no_limit(tmp_path):
    config = SiteConfig(slurm=SlurmSettings(squeue=fake_squeue(tmp_path, "", status=1)))
    environ = {key: value for key, value in BATCH.items() if "_TIME" not in key}
    context = read_context(environ, config, host=HOST)
    assert context.resources.runtime_limit_s is None
    assert context.warnings == ("squeue -j 42: exit 1; the runtime limit is unknown",)


def test_a_missing_squeue_is_one_warning(tmp_path):
    config = SiteConfig(slurm=SlurmSettings(squeue=str(tmp_path / "nothing")))
    limit, left, problem = squeue_times(config, "42", {})
    assert (limit, left) == (None, None)
    assert problem == (f"{tmp_path / 'nothing'}: cannot ask for the time limit "
                       "(No such file or directory); the runtime limit is unknown")


def test_the_hub_accepts_the_socket_in_a_slurm_jobs_private_dir(tmp_path):
    from jobwrapper.protocol import job_socket_path, job_socket_problem

    setup = plan(read({**BATCH, "SLURM_TMPDIR": "/tmp"}), 1002)
    assert job_socket_problem(job_socket_path(setup.private_dir)) is None
    assert job_socket_problem("/tmp/jobwrapper-x/sockets/server.sock") is not None


def recorded(name: str) -> dict[str, str]:
    """A real job's SLURM_* variables (tests/slurm/fixtures, from Slurm 22.05)."""
    from pathlib import Path

    path = Path(__file__).parent / "slurm" / "fixtures" / name
    lines = [line for line in path.read_text().splitlines() if line and line[0] != "#"]
    return dict(line.split("=", 1) for line in lines)


@pytest.mark.parametrize(("fixture", "first_line"), [
    ("batch-env.txt", "You requested 2 core(s), 1024 MB RAM."),
    ("batch-env-mem-per-cpu.txt", "You requested 2 core(s), 1024 MB RAM."),
])
def test_a_recorded_batch_job_of_slurm_22_05(fixture, first_line):
    context = read(recorded(fixture))
    assert (context.scheduler, context.warnings) == ("slurm", ())
    assert login_message(context).splitlines()[0] == first_line


def test_a_recorded_srun_step_without_cpus_per_task_takes_the_nodes_cpus():
    context = read(recorded("srun-env.txt"))
    assert context.resources.cores == int(recorded("srun-env.txt")["SLURM_CPUS_ON_NODE"])


def test_without_a_scratch_dir_the_secrets_file_is_the_absolute_path_given():
    from jobwrapper.notebook.secrets import secrets_path

    path = "/home/alice/.jupyterhub-slurm/default/.jobwrapper-hub-secrets.json"
    assert secrets_path(None, {"JOBWRAPPER_HUB_SECRETS": path}) == path
    assert secrets_path(None, {}) is None


@pytest.mark.parametrize("given", ["relative.json", "/home/alice/../bob/s.json"])
def test_without_a_scratch_dir_a_secrets_path_that_is_not_absolute_is_one_line(given):
    from jobwrapper.errors import ServerError
    from jobwrapper.notebook.secrets import secrets_path

    with pytest.raises(ServerError) as caught:
        secrets_path(None, {"JOBWRAPPER_HUB_SECRETS": given})
    assert str(caught.value) == (
        f"JOBWRAPPER_HUB_SECRETS={given!r}: must be an absolute, normalized path in a job "
        "without a scratch dir; fix the hub's submit template")
