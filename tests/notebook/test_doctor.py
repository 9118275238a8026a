"""jobwrapper doctor: a table of checks; a failure names its fix and fails the command."""

from __future__ import annotations

import re
from pathlib import Path

from notebook_helpers import make_job, needs_lmod, run_jobwrapper, site_config_text

from jobwrapper.job.threads import HTCONDOR_THREAD_VARIABLES

pytestmark = needs_lmod


def _healthy(environ: dict[str, str]) -> dict[str, str]:
    """As HTCondor starts a job: thread variables set; jobwrapper env ran once."""
    environ = {**environ, **{name: "2" for name in HTCONDOR_THREAD_VARIABLES}}
    assert run_jobwrapper(["env"], environ).returncode == 0
    return environ


def _rows(stdout: str) -> dict[str, tuple[str, str]]:
    rows = {}
    for line in stdout.splitlines():
        match = re.match(r"(.*?)\s{2,}(OK|FAIL|SKIP)\s{2,}(.*)\Z", line)
        assert match, line
        rows[match.group(1)] = (match.group(2), match.group(3))
    return rows


def test_doctor_passes_in_a_healthy_job(job_environ: dict[str, str]) -> None:
    result = run_jobwrapper(["doctor"], _healthy(job_environ))
    assert result.returncode == 0, result.stdout
    rows = _rows(result.stdout)
    assert rows["Lmod modules"][0] == "OK" and "physics" in rows["Lmod modules"][1]
    assert rows["kernel python3"][0] == "OK"
    assert rows["server bind"][0] == "OK"
    assert rows["scratch and private dir"][0] == "OK"


def test_doctor_fails_on_a_missing_module_and_says_what_exists(
        tmp_path: Path, module_tree: Path, cvmfs_venv: Path) -> None:
    text = site_config_text(module_tree, cvmfs_venv).replace('"physics"', '"nosuch"')
    result = run_jobwrapper(["doctor"], _healthy(make_job(tmp_path, text)))
    assert result.returncode == 1
    status, detail = _rows(result.stdout)["Lmod modules"]
    assert status == "FAIL" and "nosuch" in detail and "physics/1.0" in detail


def test_doctor_fails_direct_bind_with_the_fix(tmp_path: Path, module_tree: Path,
                                               cvmfs_venv: Path) -> None:
    text = site_config_text(module_tree, cvmfs_venv) + '[server]\nbind = "direct"\n'
    result = run_jobwrapper(["doctor"], _healthy(make_job(tmp_path, text)))
    status, detail = _rows(result.stdout)["server bind"]
    assert result.returncode == 1
    assert status == "FAIL" and 'server.bind = "loopback"' in detail


def test_doctor_accepts_direct_bind_asked_by_the_hub_and_names_the_address(
        tmp_path: Path, module_tree: Path, cvmfs_venv: Path) -> None:
    text = site_config_text(module_tree, cvmfs_venv) + '[server]\ndirect_address = "10.9.8.7"\n'
    environ = {**_healthy(make_job(tmp_path, text)), "JOBWRAPPER_SERVER_BIND": "direct"}
    rows = _rows(run_jobwrapper(["doctor"], environ).stdout)
    assert rows["server bind"] == ("OK", "direct (asked by the hub (JOBWRAPPER_SERVER_BIND)): "
                                         "10.9.8.7 (server.direct_address), where the hub's "
                                         "proxy connects")
    assert rows["server mode"][1].endswith("the server listens on 10.9.8.7")


def test_doctor_flags_lost_thread_variables(job_environ: dict[str, str]) -> None:
    result = run_jobwrapper(["doctor"], job_environ)
    status, detail = _rows(result.stdout)["thread variables"]
    assert result.returncode == 1
    assert status == "FAIL" and "OMP_NUM_THREADS" in detail


def test_doctor_says_tcp_mode_and_why(job_environ: dict[str, str]) -> None:
    result = run_jobwrapper(["doctor"], _healthy(job_environ))
    status, detail = _rows(result.stdout)["server mode"]
    assert status == "OK" and detail.startswith("tcp (server.mode's default; ")


def test_doctor_says_socket_mode_asked_by_the_hub_and_where(job_environ: dict[str, str]
                                                             ) -> None:
    environ = {**_healthy(job_environ), "JOBWRAPPER_SERVER_MODE": "socket"}
    result = run_jobwrapper(["doctor"], environ)
    status, detail = _rows(result.stdout)["server mode"]
    socket = Path(environ["_CONDOR_SCRATCH_DIR"]) / ".jobwrapper/sockets/server.sock"
    assert status == "OK"
    assert detail == (f"socket (asked by the hub (JOBWRAPPER_SERVER_MODE)): {socket}, "
                      "kernels over ipc")
