"""What a job sees: ads, environment, user, session, scratch dir, transferred files.

One job (a notebook-like submit, as jwtest-alice) reports what it saw into
report.json, which comes back by file transfer; the tests read that report.
"""

from __future__ import annotations

import json
import os
import pwd
from pathlib import Path

import pytest

from .helpers import (
    PYTHON,
    Pool,
    create_pool,
    destroy_pool,
    parse_old_ad,
    user_dir,
    wait_for,
)

REPORT_SCRIPT = """
import json, os, stat
report = {
    "environ": dict(os.environ),
    "cwd": os.getcwd(),
    "uid": os.getuid(),
    "pid": os.getpid(),
    "sid": os.getsid(0),
    "job_ad": open(os.environ["_CONDOR_JOB_AD"]).read(),
    "machine_ad": open(os.environ["_CONDOR_MACHINE_AD"]).read(),
    "tmp_mode": stat.S_IMODE(os.stat(os.environ["TMPDIR"]).st_mode),
    "input": open("jupyter/lab/settings.json").read(),
}
with open("jupyter/lab/settings.json", "w") as handle:
    handle.write("changed in the job")
with open("jupyter/created.txt", "w") as handle:
    handle.write("created in the job")
print("to stdout")
with open("report.json", "w") as handle:
    json.dump(report, handle)
"""

NOTEBOOK_SUBMIT = f"""
executable = {PYTHON}
arguments = report.py
transfer_input_files = report.py, jupyter
transfer_output_files = jupyter, report.json
should_transfer_files = YES
when_to_transfer_output = ON_EXIT_OR_EVICT
request_cpus = 2
request_memory = 2048
request_disk = 1048576
allowed_execute_duration = 21600
+ContainerOS = "Rocky9"
+MaxRuntime = 21600
+SpoolOnEvict = False
environment = "OMP_NUM_THREADS=7 GREETING='hello world'"
output = notebook.out
error = notebook.err
log = notebook.log
queue
"""


@pytest.fixture(scope="module")
def finished_job(users: tuple[str, str]):
    """(pool, cluster, submit dir, report) of one finished notebook-like job of alice."""
    alice, _ = users
    pool = create_pool()
    submit = user_dir(pool, alice)
    (submit / "report.py").write_text(REPORT_SCRIPT)
    (submit / "jupyter" / "lab").mkdir(parents=True)
    (submit / "jupyter" / "lab" / "settings.json").write_text("from the submit side")
    account = pwd.getpwnam(alice)
    for path in [submit / "report.py", *submit.joinpath("jupyter").rglob("*"), submit / "jupyter"]:
        os.chown(path, account.pw_uid, account.pw_gid)
    cluster = pool.submit(NOTEBOOK_SUBMIT, submit, user=alice)
    wait_for(lambda: not pool.in_queue(cluster), what="the job to finish")
    report = json.loads((submit / "report.json").read_text())
    yield pool, cluster, submit, report
    destroy_pool(pool)


def test_job_ad_is_valid_old_classad_syntax(finished_job):
    _pool, cluster, _submit, report = finished_job
    ad = parse_old_ad(report["job_ad"])
    assert ad["ClusterId"] == cluster and ad["ProcId"] == 0


def test_job_ad_holds_requests_custom_attributes_and_provisioned_resources(finished_job):
    ad = parse_old_ad(finished_job[3]["job_ad"])
    assert (ad["RequestCpus"], ad["RequestMemory"], ad["RequestDisk"]) == (2, 2048, 1048576)
    assert (ad["CpusProvisioned"], ad["MemoryProvisioned"]) == (2, 2048)
    assert ad["DiskProvisioned"] >= 1048576 and ad["GpusProvisioned"] == 0
    assert ad["ContainerOS"] == "Rocky9" and ad["MaxRuntime"] == 21600
    assert ad["SpoolOnEvict"] is False
    assert ad["AllowedExecuteDuration"] == 21600
    assert ad["TransferInput"] == "report.py,jupyter"
    assert ad["TransferOutput"] == "jupyter,report.json"
    assert ad["WhenToTransferOutput"] == "ON_EXIT_OR_EVICT"


def test_job_ad_names_owner_user_and_the_running_slot(finished_job):
    ad = parse_old_ad(finished_job[3]["job_ad"])
    assert ad["Owner"] == ad["OsUser"] == "jwtest-alice"
    assert ad["User"].startswith("jwtest-alice@")
    assert ad["JobStatus"] == 2
    assert ad["RemoteHost"].startswith("slot1_")
    assert ad["JobCurrentStartDate"] >= ad["QDate"]


def test_starters_job_ad_points_iwd_at_the_scratch_dir_when_files_are_transferred(finished_job):
    _pool, _cluster, submit, report = finished_job
    ad = parse_old_ad(report["job_ad"])
    assert ad["Iwd"] == report["environ"]["_CONDOR_SCRATCH_DIR"]
    assert ad["OrigIwd"] == str(submit)
    assert (ad["Out"], ad["OriginalOut"]) == ("_condor_stdout", "notebook.out")


def test_job_ad_environment_attribute_holds_the_submitted_environment(finished_job):
    ad = parse_old_ad(finished_job[3]["job_ad"])
    assert ad["Environment"] == "OMP_NUM_THREADS=7 GREETING=hello' 'world"


def test_machine_ad_names_the_dynamic_slot_and_its_resources(finished_job):
    report = finished_job[3]
    machine = parse_old_ad(report["machine_ad"])
    job = parse_old_ad(report["job_ad"])
    assert machine["Name"] == job["RemoteHost"]
    assert (machine["Cpus"], machine["Memory"], machine["GPUs"]) == (2, 2048, 0)
    assert machine["Disk"] == job["DiskProvisioned"]
    assert machine["OpSysAndVer"] == "Debian12"
    assert machine.eval("MachineMaxVacateTime") == 600
    assert "MachineMaxVacateTime = 10 * 60\n" in report["machine_ad"]


def test_environment_has_the_starters_variables_and_no_path(finished_job):
    environ = finished_job[3]["environ"]
    scratch = environ["_CONDOR_SCRATCH_DIR"]
    assert environ["_CONDOR_JOB_AD"] == f"{scratch}/.job.ad"
    assert environ["_CONDOR_MACHINE_AD"] == f"{scratch}/.machine.ad"
    assert environ["_CONDOR_CHIRP_CONFIG"] == f"{scratch}/.chirp.config"
    assert environ["_CONDOR_JOB_IWD"] == scratch
    assert environ["_CONDOR_SLOT"].startswith("slot1_")
    assert environ["_CONDOR_AssignedGPUs"] == "10000"
    assert environ["BATCH_SYSTEM"] == "HTCondor"
    assert "PATH" not in environ


def test_environment_has_the_same_names_as_a_real_starters(finished_job):
    environ = finished_job[3]["environ"]
    sample = Path(__file__).resolve().parents[1] / "jobads" / "notebook" / "environ"
    real = sample.read_text().splitlines()
    real_names = {line.split("=", 1)[0] for line in real}
    # _CONDOR_BIN: the real pool's install dir; there is none here. PWD: the sample's
    # job was a shell script, and its shell set it; a starter does not.
    ignored = {"_CONDOR_BIN", "PWD"}
    expected = {name for name in real_names if not name.startswith("_CONDOR_ANCESTOR_")} - ignored
    assert expected <= set(environ)
    assert any(name.startswith("_CONDOR_ANCESTOR_") for name in environ)


def test_the_starter_sets_no_pwd(finished_job):
    # HTCondor 25.0 (cross-checked): a job that is not a shell script has no PWD.
    assert "PWD" not in finished_job[3]["environ"]


def test_gpus_are_hidden_as_on_a_real_pool(finished_job):
    environ = finished_job[3]["environ"]
    assert environ["CUDA_VISIBLE_DEVICES"] == environ["GPU_DEVICE_ORDINAL"] == "10000"
    assert environ["NVIDIA_VISIBLE_DEVICES"] == "none"


def test_thread_variables_follow_the_slots_cpus_unless_the_job_sets_them(finished_job):
    environ = finished_job[3]["environ"]
    assert environ["OMP_NUM_THREADS"] == "7"
    assert environ["MKL_NUM_THREADS"] == environ["PYTHON_CPU_COUNT"] == "2"
    assert environ["GREETING"] == "hello world"


def test_tmpdir_is_a_private_dir_inside_the_scratch_dir(finished_job):
    report = finished_job[3]
    environ = report["environ"]
    assert environ["TMPDIR"] == environ["TMP"] == environ["TEMP"]
    assert environ["TMPDIR"] == environ["_CONDOR_SCRATCH_DIR"] + "/tmp"
    assert report["tmp_mode"] == 0o700


def test_job_runs_as_the_submitter_with_the_owners_home(finished_job):
    report = finished_job[3]
    account = pwd.getpwnam("jwtest-alice")
    assert report["uid"] == account.pw_uid
    assert report["environ"]["HOME"] == account.pw_dir


def test_job_runs_in_its_own_session_in_the_scratch_dir(finished_job):
    pool, _cluster, _submit, report = finished_job
    assert report["sid"] == report["pid"]
    assert report["cwd"] == report["environ"]["_CONDOR_SCRATCH_DIR"]
    assert report["cwd"].startswith(f"{pool.layout.execute}/dir_")


def test_input_directories_are_transferred_recursively(finished_job):
    assert finished_job[3]["input"] == "from the submit side"


def test_output_directories_come_back_with_changed_and_new_files(finished_job):
    submit = finished_job[2]
    assert (submit / "jupyter/lab/settings.json").read_text() == "changed in the job"
    assert (submit / "jupyter/created.txt").read_text() == "created in the job"


def test_stdout_arrives_in_the_output_file(finished_job):
    assert (finished_job[2] / "notebook.out").read_text() == "to stdout\n"


def test_user_log_has_submit_execute_and_terminate_events(finished_job):
    _pool, cluster, submit, _report = finished_job
    log = (submit / "notebook.log").read_text()
    codes = [line.split()[0] for line in log.splitlines() if line[:3].isdigit()]
    assert codes == ["000", "001", "005"]
    assert f"({cluster:03d}.000.000)" in log
    assert "Normal termination (return value 0)" in log


def test_scratch_dir_is_removed_after_the_job(finished_job):
    pool = finished_job[0]
    assert list(pool.layout.execute.iterdir()) == []


def test_without_file_transfer_the_job_runs_in_remote_initialdir(pool: Pool, submit_dir: Path):
    workdir = pool.root / "remote-iwd"
    workdir.mkdir()
    description = (
        f"executable = /bin/sh\narguments = \"-c 'pwd; echo $_CONDOR_JOB_IWD'\"\n"
        f"remote_initialdir = {workdir}\noutput = {workdir}/out.txt\n"
        "should_transfer_files = False\nqueue\n"
    )
    cluster = pool.submit(description, submit_dir)
    wait_for(lambda: not pool.in_queue(cluster), what="the job to finish")
    assert (workdir / "out.txt").read_text() == f"{workdir}\n{workdir}\n"


def test_getenv_gives_the_job_the_submitters_environment(pool: Pool, submit_dir: Path):
    description = "executable = /bin/sh\narguments = \"-c 'echo $SUBMITTER_VAR'\"\n" \
        "output = out.txt\ngetenv = True\nqueue\n"
    env = {**os.environ, "SUBMITTER_VAR": "from-the-hub"}
    result = pool.run("condor_submit", stdin=description, cwd=submit_dir, env=env)
    cluster = int(result.stdout.split()[-1].rstrip("."))
    wait_for(lambda: not pool.in_queue(cluster), what="the job to finish")
    assert (submit_dir / "out.txt").read_text() == "from-the-hub\n"


def test_stream_output_writes_to_the_submit_side_while_the_job_runs(pool: Pool, submit_dir: Path):
    description = (
        f"executable = {PYTHON}\n"
        "arguments = \"-c 'import time; print(''streamed'', flush=True); time.sleep(60)'\"\n"
        "should_transfer_files = YES\noutput = live.out\nstream_output = True\nqueue\n"
    )
    pool.submit(description, submit_dir)
    wait_for(lambda: (submit_dir / "live.out").exists()
             and (submit_dir / "live.out").read_text() == "streamed\n", what="streamed output")
