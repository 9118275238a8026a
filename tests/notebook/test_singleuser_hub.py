"""jobwrapper singleuser: the hub's server reports the port it really listens on,
the token arrives by file only, and a failed report stops the job."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import pytest
from notebook_helpers import (
    group_alive,
    http_get,
    needs_lmod,
    root_args,
    run_jobwrapper,
    wait_for,
)

pytestmark = needs_lmod
TOKEN = "hub-token-6f1c2a9d8e"


def _hub_job(environ: dict[str, str], hub_url: str) -> dict[str, str]:
    """What the hub's submit template passes (no token), plus the secrets file."""
    scratch = Path(environ["_CONDOR_SCRATCH_DIR"])
    secrets = scratch / ".jobwrapper-hub-secrets.json"
    secrets.write_text(json.dumps({"JUPYTERHUB_API_TOKEN": TOKEN}))
    secrets.chmod(0o600)
    return {**environ,
            "JUPYTERHUB_API_URL": hub_url,
            "JUPYTERHUB_SERVICE_URL": "http://127.0.0.1:8888/user/alice/",
            "JUPYTERHUB_SERVICE_PREFIX": "/user/alice/",
            "JUPYTERHUB_BASE_URL": "/",
            "JUPYTERHUB_USER": "alice",
            "JUPYTERHUB_CLIENT_ID": "jupyterhub-user-alice",
            "JUPYTERHUB_OAUTH_CALLBACK_URL": "/user/alice/oauth_callback",
            "JUPYTERHUB_ACTIVITY_URL": hub_url + "/users/alice/activity"}


def _cmdlines(pids: list[int]) -> str:
    text = []
    for pid in pids:
        with contextlib.suppress(OSError):
            text.append(Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"))
    return "\n".join(text)


def test_singleuser_reports_the_port_it_serves_on(job_environ, start_server, fake_hub) -> None:
    hub = fake_hub(200)
    environ = _hub_job(job_environ, hub.api_url)
    server = start_server(["singleuser", *root_args()], environ)
    reports = wait_for(hub.reports, 90, "port report", server.process)
    report = reports[0]
    assert report["authorization"] == f"token {TOKEN}"
    port = report["body"]["port"]
    assert set(report["body"]) == {"port"}
    status, body = http_get(f"http://127.0.0.1:{port}/user/alice/api")
    assert status == 200 and b"version" in body
    # The token travelled by file only: not in argv, not in the logs, file gone.
    assert TOKEN not in _cmdlines(group_alive(server.process.pid))
    assert TOKEN not in server.stdout + server.stderr
    scratch = Path(environ["_CONDOR_SCRATCH_DIR"])
    assert not (scratch / ".jobwrapper-hub-secrets.json").exists()
    assert TOKEN not in (scratch / ".jobwrapper" / "env.sh").read_text()


def test_hub_refusing_the_port_stops_the_job_with_one_line(job_environ, start_server,
                                                          fake_hub) -> None:
    hub = fake_hub(500)
    server = start_server(["singleuser", *root_args()], _hub_job(job_environ, hub.api_url))
    code = server.process.wait(timeout=90)
    assert code == 6
    lines = [line for line in server.stderr.splitlines() if line.startswith("jobwrapper:")]
    assert len(lines) == 1
    assert "HTTP 500" in lines[0] and "/hub/api/batchspawner" in lines[0]
    assert TOKEN not in server.stderr
    # Nothing stays: a server extension's helper that is already running (jupyter-lsp
    # asks R for its language server when R is installed) ends by itself, soon.
    wait_for(lambda: not group_alive(server.process.pid), 10,
             f"the job's processes to end: {_cmdlines(group_alive(server.process.pid))}")


def test_secrets_file_that_is_a_symlink_is_refused(job_environ, tmp_path) -> None:
    environ = _hub_job(job_environ, "http://127.0.0.1:9/hub/api")
    scratch = Path(environ["_CONDOR_SCRATCH_DIR"])
    target = tmp_path / "elsewhere.json"
    (scratch / ".jobwrapper-hub-secrets.json").rename(target)
    os.symlink(target, scratch / ".jobwrapper-hub-secrets.json")
    result = run_jobwrapper(["singleuser"], environ)
    assert result.returncode == 6
    assert "symlink" in result.stderr and len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize("content", ["not json", '["list"]', '{"lower": "x"}'])
def test_malformed_secrets_file_is_refused_without_quoting_it(job_environ, content) -> None:
    environ = _hub_job(job_environ, "http://127.0.0.1:9/hub/api")
    (Path(environ["_CONDOR_SCRATCH_DIR"]) / ".jobwrapper-hub-secrets.json").write_text(content)
    result = run_jobwrapper(["singleuser"], environ)
    assert result.returncode == 6
    assert content not in result.stderr


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to give the file to another user")
def test_secrets_file_of_another_user_is_refused(job_environ) -> None:
    environ = _hub_job(job_environ, "http://127.0.0.1:9/hub/api")
    secrets = Path(environ["_CONDOR_SCRATCH_DIR"]) / ".jobwrapper-hub-secrets.json"
    os.chown(secrets, 65534, 65534)
    result = run_jobwrapper(["singleuser"], environ)
    assert result.returncode == 6
    assert "belongs to uid 65534" in result.stderr and len(result.stderr.splitlines()) == 1


def test_singleuser_without_a_hub_says_so_in_one_line(job_environ) -> None:
    result = run_jobwrapper(["singleuser"], job_environ)
    assert result.returncode == 6
    assert "JUPYTERHUB_API_URL" in result.stderr and len(result.stderr.splitlines()) == 1


def test_hub_that_does_not_answer_in_report_timeout_stops_the_job(
        job_environ, start_server, fake_hub) -> None:
    hub = fake_hub(200, silent=True)
    config = Path(job_environ["JOBWRAPPER_CONFIG"])
    config.write_text(config.read_text() + "[server]\nreport_timeout = 1.5\n")
    server = start_server(["singleuser", *root_args()], _hub_job(job_environ, hub.api_url))
    assert server.process.wait(timeout=90) == 6
    lines = [line for line in server.stderr.splitlines() if line.startswith("jobwrapper:")]
    assert len(lines) == 1 and "within 1.5 s (server.report_timeout)" in lines[0]
    assert group_alive(server.process.pid) == []
