"""Bad input, through the real CLI: one line on stderr naming the file and the attribute,
the documented fallback in the output, the right exit code, never a traceback, and
nothing from an ad ever runs.

Fixture ads: tests/fixtures/ads/<case>/ (tests/fixtures/ads/generate.py makes them).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Callable

import pytest
from fixtures.jobemu import (
    ADS,
    JOBWRAPPER,
    as_nobody,
    base_environ,
    make_job,
    run_cli,
    stderr_lines,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobwrapper.config import SiteConfig
from jobwrapper.job.context import HostLimits, read_context, read_host_limits
from jobwrapper.job.plan import plan
from jobwrapper.job.shells import render

HOST_CORES = str(read_host_limits().cores)  # what the CLI falls back to on this machine
MIB = 1024 * 1024

Check = Callable[[dict[str, str]], bool]


def job_in(tmp_path: Path, case: str) -> dict[str, str]:
    return {**base_environ(tmp_path), **make_job(tmp_path / "scratch", case)}


def env_json(environ: dict[str, str], cwd: Path | None = None):
    result = run_cli(["env", "--shell", "json"], environ, cwd=cwd)
    variables = json.loads(result.stdout)["set"] if result.returncode == 0 else {}
    return result, variables


def assert_one_clean_warning(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert "Traceback" not in result.stderr
    lines = stderr_lines(result)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("jobwrapper: warning: ")
    for fragment in fragments:
        assert fragment in lines[0]


CASES: list[tuple[str, tuple[str, ...], Check]] = [
    ("job-ad-empty", ("/.job.ad: the file is empty", "_CONDOR_JOB_AD"),
     lambda env: env["OMP_NUM_THREADS"] == "4"),
    ("job-ad-truncated", ("/.job.ad:12: ContainerOS has no complete value",),
     lambda env: "JOBWRAPPER_CONTAINER" not in env and env["OMP_NUM_THREADS"] == "4"),
    ("job-ad-binary", ("/.job.ad: binary data", "_CONDOR_JOB_AD"),
     lambda env: env["OMP_NUM_THREADS"] == "4" and "JOBWRAPPER_JOB_ID" not in env),
    ("job-ad-garbage", ("/.job.ad: no 'Name = value' line", "_CONDOR_JOB_AD"),
     lambda env: env["OMP_NUM_THREADS"] == "4"),
    ("machine-ad-missing", ("/.machine.ad: the file does not exist", "_CONDOR_MACHINE_AD"),
     lambda env: env["OMP_NUM_THREADS"] == "4" and env["MEM_LIMIT"] == str(4096 * MIB)),
    ("cpus-expression", ("/.machine.ad: Cpus is an expression (TotalSlotCpus * 1)",),
     lambda env: env["OMP_NUM_THREADS"] == env["CPU_LIMIT"] == "3"),
    ("cpus-zero", ("/.machine.ad: Cpus must be positive (it is 0)",),
     lambda env: env["OMP_NUM_THREADS"] == "3"),
    ("cpus-float", ("/.machine.ad: Cpus is not a whole number (2.5)",),
     lambda env: env["OMP_NUM_THREADS"] == "3"),
    ("cpus-non-numeric", ("/.job.ad: RequestCpus is not a number ('four')",),
     lambda env: env["OMP_NUM_THREADS"] == HOST_CORES),
    ("cpus-missing", ("/.job.ad: no usable Cpus/CpusProvisioned/RequestCpus",),
     lambda env: env["OMP_NUM_THREADS"] == HOST_CORES),
    ("memory-negative", ("/.machine.ad: Memory must be positive (it is -1)",),
     lambda env: env["MEM_LIMIT"] == str(3000 * MIB)),
    ("memory-huge", ("/.machine.ad: Memory is implausibly large",),
     lambda env: env["MEM_LIMIT"] == str(3000 * MIB)),
    ("runtime-non-numeric", ("/.job.ad: MaxRuntime is not a number ('6 hours')",),
     lambda env: "JOBWRAPPER_RUNTIME_END" not in env),
    ("container-os-hostile", ("/.job.ad: ContainerOS is not a plain name",),
     lambda env: "JOBWRAPPER_CONTAINER" not in env),
    ("environment-hostile", ("/.job.ad: JupyterEnvironment is not a plain name",
                             "using 'stable'"),
     lambda env: env["JOBWRAPPER_ENVIRONMENT"] == "stable"),
    ("owner-hostile", ("/.job.ad: OsUser is not a user name",),
     lambda env: "USER" not in env and "LOGNAME" not in env),
]


@pytest.mark.parametrize(("case", "fragments", "fallback"), CASES, ids=[c[0] for c in CASES])
def test_bad_ad_gives_one_warning_and_the_documented_fallback(tmp_path, case, fragments,
                                                              fallback):
    result, variables = env_json(job_in(tmp_path, case))
    assert result.returncode == 0
    assert_one_clean_warning(result, *fragments)
    assert fallback(variables)


@pytest.mark.parametrize("case", ["job-ad-truncated", "cpus-expression", "owner-hostile"])
def test_info_warns_on_stderr_and_still_prints_the_message(tmp_path, case):
    result = run_cli(["info"], job_in(tmp_path, case))
    assert result.returncode == 0
    assert_one_clean_warning(result)
    assert result.stdout.startswith("You requested ")


def test_expression_in_an_unneeded_request_is_quiet(tmp_path):
    result = run_cli(["info"], job_in(tmp_path, "request-memory-expression"))
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("You requested 4 core(s), ? MB RAM, 1048576 kB disk space.")


def test_both_ads_missing_gives_one_line_each_and_the_machines_limits(tmp_path):
    environ = job_in(tmp_path, "good")
    os.unlink(environ["_CONDOR_JOB_AD"])
    os.unlink(environ["_CONDOR_MACHINE_AD"])
    result = run_cli(["info"], environ)
    assert result.returncode == 0
    assert "Traceback" not in result.stderr
    assert [line.split(": ", 3)[2] for line in stderr_lines(result)] == [
        f"{environ['_CONDOR_JOB_AD']}", f"{environ['_CONDOR_MACHINE_AD']}"]
    assert result.stdout.startswith(
        "No resources could be read from the job's ads (see the warnings); "
        f"using this machine's limits: {HOST_CORES} core(s)")


def test_job_ad_that_is_a_directory(tmp_path):
    environ = job_in(tmp_path, "good")
    os.unlink(environ["_CONDOR_JOB_AD"])
    os.mkdir(environ["_CONDOR_JOB_AD"])
    result, variables = env_json(environ)
    assert result.returncode == 0
    assert_one_clean_warning(result, "/.job.ad: is a directory", "_CONDOR_JOB_AD")
    assert variables["OMP_NUM_THREADS"] == "4"


def test_huge_job_ad(tmp_path):
    environ = job_in(tmp_path, "good")
    with open(environ["_CONDOR_JOB_AD"], "r+b") as handle:
        handle.truncate(17 * MIB)  # sparse: NUL bytes after the real content
    result, variables = env_json(environ)
    assert result.returncode == 0
    assert_one_clean_warning(result, "/.job.ad: larger than 16 MiB", "_CONDOR_JOB_AD")
    assert variables["OMP_NUM_THREADS"] == "4"


def test_job_ad_that_is_a_fifo_does_not_hang(tmp_path):
    environ = job_in(tmp_path, "good")
    os.unlink(environ["_CONDOR_JOB_AD"])
    os.mkfifo(environ["_CONDOR_JOB_AD"])
    result = run_cli(["info"], environ)  # run_cli times out after 60 s
    assert result.returncode == 0
    assert_one_clean_warning(result, "/.job.ad: not a regular file", "_CONDOR_JOB_AD")


def test_non_utf8_bytes_in_inherited_paths_pass_through_unchanged(tmp_path):
    environ = {**job_in(tmp_path, "good"), "JUPYTER_PATH": "/opt/caf\udce9"}  # b"caf\xe9"
    result = subprocess.run([JOBWRAPPER, "run", "--", "sh", "-c", 'printf %s "$JUPYTER_PATH"'],
                            env=environ, capture_output=True, timeout=60, check=False)
    assert b"Traceback" not in result.stderr
    assert result.stdout.endswith(b":/opt/caf\xe9")
    sh = subprocess.run([JOBWRAPPER, "env"], env=environ, capture_output=True, timeout=60,
                        check=False)
    assert (sh.returncode, sh.stderr) == (0, b"")
    assert b":/opt/caf\xe9' " in sh.stdout or b":/opt/caf\xe9'\n" in sh.stdout


# --- as an unprivileged user: unreadable ads, unwritable scratch -------------------------

@pytest.fixture
def shared_dir():
    """A directory that nobody can traverse (pytest's tmp_path is private to root)."""
    if "MISSING-setpriv" in as_nobody():
        pytest.skip("running as root without setpriv: cannot drop privileges")
    path = Path(tempfile.mkdtemp(prefix="jobwrapper-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def nobody_job(shared_dir: Path) -> dict[str, str]:
    environ = {**base_environ(shared_dir), **make_job(shared_dir / "scratch", "good")}
    for item in shared_dir.rglob("*"):
        item.chmod(0o755 if item.is_dir() else 0o644)
    if os.getuid() == 0:
        shutil.chown(shared_dir / "scratch", "nobody")
    return environ


def test_unreadable_job_ad(shared_dir):
    environ = nobody_job(shared_dir)
    Path(environ["_CONDOR_JOB_AD"]).chmod(0)
    result = run_cli(["info"], environ, prefix=as_nobody())
    assert result.returncode == 0
    assert_one_clean_warning(result, "/.job.ad: permission denied", "_CONDOR_JOB_AD")
    assert result.stdout.startswith("Your job has 4 core(s), 4096 MB RAM, 1048576 kB")


def test_unwritable_scratch_falls_back_to_tmp_with_a_warning(shared_dir):
    environ = nobody_job(shared_dir)
    (shared_dir / "scratch").chmod(0o555)
    uid = 65534 if os.getuid() == 0 else os.getuid()
    fallback = Path(f"/tmp/jobwrapper-{uid}-4242.0")
    shutil.rmtree(fallback, ignore_errors=True)
    try:
        result = run_cli(["env", "--shell", "json"], environ, prefix=as_nobody())
        assert result.returncode == 0
        assert_one_clean_warning(result, "/scratch/.jobwrapper: cannot create the directory",
                                 f"using {fallback} instead")
        assert json.loads(result.stdout)["set"]["TMPDIR"] == f"{fallback}/tmp"
        assert fallback.is_dir()
    finally:
        shutil.rmtree(fallback, ignore_errors=True)


def test_no_usable_private_dir_at_all_exits_4_with_one_line(tmp_path):
    environ = job_in(tmp_path, "good")
    (tmp_path / "scratch" / ".jobwrapper").write_text("in the way")
    fallback = Path(f"/tmp/jobwrapper-{os.getuid()}-4242.0")
    shutil.rmtree(fallback, ignore_errors=True)
    fallback.write_text("in the way too")
    try:
        result = run_cli(["env"], environ)
    finally:
        fallback.unlink()
    assert result.returncode == 4
    assert "Traceback" not in result.stderr
    assert stderr_lines(result) == [
        f"jobwrapper: {fallback}: cannot create the directory (File exists)"]
    assert result.stdout == ""


# --- nothing from an ad ever runs -----------------------------------------------------------

HOSTILE = ["container-os-hostile", "environment-hostile", "owner-hostile",
           "thread-variable-hostile"]


@pytest.mark.parametrize("case", HOSTILE)
def test_nothing_from_an_ad_runs_in_any_command_or_eval(tmp_path, case):
    environ = job_in(tmp_path, case)
    work = tmp_path / "work"
    work.mkdir()
    for args in (["info"], ["plan"], ["env", "--shell", "json"]):
        assert "Traceback" not in run_cli(args, environ, cwd=work).stderr
    evaluated = subprocess.run(["sh", "-c", 'eval "$("$0" env --shell sh)" && echo evaluated',
                                JOBWRAPPER], env=environ, cwd=work, capture_output=True,
                               text=True, timeout=60, check=False)
    assert evaluated.stdout == "evaluated\n", evaluated.stderr
    assert list(work.iterdir()) == []  # no CANARY file was touched


def test_hostile_thread_variable_reaches_the_command_verbatim(tmp_path):
    environ = job_in(tmp_path, "thread-variable-hostile")
    result = run_cli(["run", "--", "sh", "-c", 'printf "%s" "$OMP_NUM_THREADS"'], environ,
                     cwd=tmp_path)
    assert result.stdout == "$(touch CANARY)`touch CANARY`';touch CANARY;\"\\"
    assert not (tmp_path / "CANARY").exists()


def test_hostile_thread_variable_survives_eval_in_sh_verbatim(tmp_path):
    environ = job_in(tmp_path, "thread-variable-hostile")
    script = 'eval "$("$0" env --shell sh)" && printf "%s" "$OMP_NUM_THREADS"'
    result = subprocess.run(["sh", "-c", script, JOBWRAPPER], env=environ, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.stdout == "$(touch CANARY)`touch CANARY`';touch CANARY;\"\\"


# --- fuzzing the read and plan stages in-process ------------------------------------------

REAL_JOB_AD = (ADS / "real-notebook" / "job.ad").read_bytes()
REAL_MACHINE_AD = (ADS / "real-notebook" / "machine.ad").read_bytes()


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(0, len(REAL_JOB_AD)), garbage=st.binary(max_size=64),
       where=st.integers(0, len(REAL_MACHINE_AD)))
def test_no_damaged_ad_makes_read_plan_or_render_raise(tmp_path, cut, garbage, where):
    scratch = tmp_path / "fuzz"
    scratch.mkdir(exist_ok=True)
    (scratch / ".job.ad").write_bytes(REAL_JOB_AD[:cut] + garbage)
    (scratch / ".machine.ad").write_bytes(REAL_MACHINE_AD[:where] + garbage +
                                          REAL_MACHINE_AD[where:])
    environ = {"_CONDOR_SCRATCH_DIR": str(scratch), "_CONDOR_JOB_AD": str(scratch / ".job.ad"),
               "_CONDOR_MACHINE_AD": str(scratch / ".machine.ad")}
    context = read_context(environ, SiteConfig(), host=HostLimits(cores=2, memory_mb=None))
    setup = plan(context, os.getuid())
    for shell in ("sh", "json"):
        render(shell, setup.env, setup.unset)
    str(setup)
    assert all("\n" not in warning for warning in setup.warnings)
