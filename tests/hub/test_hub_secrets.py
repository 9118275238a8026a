"""Issue 5, against a running spawn: no token in the job ad, argv or logs; the job's
callback changes nothing but the port. The second local user is jwtest-bob."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from .harness import (
    ALICE,
    BOB,
    command_lines_containing,
    environments_of,
    files_containing,
    home,
    run_as,
    server_token,
    wait_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.root]

POST_AS = """
import json, sys, urllib.error, urllib.request
url, body = sys.argv[1], sys.argv[2]
token = sys.stdin.read().strip()
request = urllib.request.Request(url, data=body.encode(), method="POST",
    headers={"Authorization": "token " + token, "Content-Type": "application/json"})
try:
    print(urllib.request.urlopen(request, timeout=10).status)
except urllib.error.HTTPError as error:
    print(error.code)
"""


def post_port_report(hub, user: str, token: str, body: object) -> int:
    """POST to /hub/api/batchspawner as a local user (token on stdin, never in argv)."""
    import subprocess

    result = subprocess.run(
        ["runuser", "-u", user, "--", "/usr/bin/python3", "-c", POST_AS,
         hub.url + "/hub/api/batchspawner", json.dumps(body)],
        input=token, capture_output=True, text=True, timeout=30, check=False,
    )
    assert result.returncode == 0, result.stderr
    return int(result.stdout.strip())


@pytest.fixture(scope="module")
def running(hub):
    """Alice's running server: (job id, the server's own token, a personal token)."""
    hub.spawn(ALICE)
    return hub.state(ALICE)["job_id"], server_token(ALICE), hub.user_token(ALICE)


@pytest.fixture(scope="module")
def marker() -> Path:
    """A file an injected command would create."""
    return Path(f"/tmp/jwtest-injected-{secrets.token_hex(4)}")


def test_second_user_reads_the_job_ad_but_finds_no_token(hub, running):
    job_id, token, _ = running
    condor_q = hub.settings["bin"] + "/condor_q"
    environment = run_as(BOB, condor_q, "-all", job_id, "-af", "Environment")
    assert environment.returncode == 0, environment.stderr
    assert "JUPYTERHUB_USER=" in environment.stdout  # the ad is readable: the test can fail
    assert token not in environment.stdout
    whole_ad = run_as(BOB, condor_q, "-all", job_id, "-l")
    assert "JupyterHubUser" in whole_ad.stdout
    assert token not in whole_ad.stdout
    assert "getenv" not in whole_ad.stdout.lower()


def test_no_process_has_the_token_in_its_command_line(running):
    _, token, _ = running
    assert command_lines_containing(token) == []


def test_the_tunnel_runs_without_the_token_in_its_environment(running):
    _, token, _ = running
    tunnels = environments_of("condor_ssh_to_job")
    assert tunnels  # the tunnel (sudo and condor_ssh_to_job) is running: the test can fail
    assert [pid for pid, environ in tunnels.items() if token.encode() in environ] == []


@pytest.mark.parametrize(
    "field",
    ["exec_prefix", "batch_query_cmd", "batch_cancel_cmd", "batch_submit_cmd", "cmd"],
)
def test_posting_a_command_with_the_servers_token_is_refused(hub, running, marker, field):
    _, token, _ = running
    value = f"touch {marker};" if field != "cmd" else ["touch", str(marker)]
    assert post_port_report(hub, BOB, token, {field: value}) == 400
    assert post_port_report(hub, BOB, token, {"port": 4321, field: value}) == 400


@pytest.mark.parametrize(
    "body", [{"ip": "10.66.66.66"}, {"port": "4321"}, {"port": -5}, {"port": 4321.0},
             {"port": True}, {"port": 70000}, ["port", 4321], "garbage"],
)
def test_posting_anything_but_a_port_is_refused(hub, running, body):
    _, token, _ = running
    assert post_port_report(hub, BOB, token, body) == 400


def test_a_valid_port_after_the_start_is_refused_too(hub, running):
    _, token, _ = running
    assert post_port_report(hub, BOB, token, {"port": 4321}) == 409


def test_other_tokens_cannot_report_a_port(hub, running):
    _, _, personal = running
    assert post_port_report(hub, BOB, personal, {"port": 4321}) == 403
    assert post_port_report(hub, BOB, hub.user_token(BOB), {"port": 4321}) == 403


def without_status(state: dict) -> dict:
    return {key: value for key, value in state.items() if key != "job_status"}


def test_after_the_posts_the_spawner_is_unchanged_and_runs_nothing_injected(
    hub, running, marker
):
    job_id, _, personal = running
    state = hub.state(ALICE)
    queries = hub.log_text().count("/condor_q ")
    wait_for(lambda: hub.log_text().count("/condor_q ") >= queries + 2, 20, "two more polls")
    assert not marker.exists()
    # job_status follows the queue (idle until the watcher's next poll sees it run)
    assert without_status(hub.state(ALICE)) == without_status(state)
    assert state["job_id"] == job_id and state["remote_port"] != 4321
    assert hub.server(ALICE)["url"] == f"/user/{ALICE}/"
    assert hub.get_through_proxy(ALICE, personal).status_code == 200


def test_stop_runs_the_real_cancel_command(hub, running, marker):
    hub.stop_server(ALICE)
    assert not marker.exists()
    assert f"/condor_rm {running[0]}" in hub.log_text()


def test_no_log_or_file_holds_the_token(hub, hub_pool, running):
    _, token, _ = running
    assert token not in hub.log_text()  # the hub's log, at debug level
    assert files_containing(token, *hub.log_files) == []
    assert files_containing(token, home(ALICE)) == []  # job.out/.err/.log, ~/jupyter
    assert files_containing(token, hub_pool.parent) == []  # queue, ads, scratch dirs
    job_files = sorted(p.name for p in (home(ALICE) / ".jupyterhub-condor/default").iterdir())
    # the secrets file is gone; the sync kept its state dir and its log
    assert job_files == ["job.err", "job.log", "job.out", "sync", "sync.log"]


def test_the_job_got_the_token_only_through_the_secrets_file(running):
    job_out = (home(ALICE) / ".jupyterhub-condor/default/job.out").read_text()
    assert "token in the job's environment before the file was read: False" in job_out
    assert "secret variables: ['JPY_API_TOKEN', 'JUPYTERHUB_API_TOKEN']" in job_out
    assert "'JUPYTERHUB_API_URL'" in job_out.split("public variables:")[1].splitlines()[0]
