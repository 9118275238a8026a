"""Socket mode with a real JupyterHub and CHP on the local pool (server_mode = "auto").

The proxy reaches the stand-in job through `ssh -L HUB.sock:JOB.sock`; nothing listens
on TCP on either end, another local user cannot connect to either socket, the route
stays the bare `http+unix://` URL across a hub restart, and bad socket reports are
refused with the spawner unchanged.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import sys
import tempfile
from pathlib import Path

import pytest
import requests

from jobwrapper.hub.connection.socketmode import socket_url

from .harness import (
    ALICE,
    BOB,
    STANDIN_JOB,
    command_lines_containing,
    isolate_jobs,
    new_hub,
    process_gone,
    run_as,
    server_token,
    wait_for,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from listeners import descendants, tcp_listeners

pytestmark = [pytest.mark.e2e, pytest.mark.root]
SYSTEM_PYTHON = "/usr/bin/python3"  # the test users cannot run the venv's python
CONNECT = ("import socket, sys; s = socket.socket(socket.AF_UNIX); "
           "s.settimeout(3); s.connect(sys.argv[1]); print('connected')")


@pytest.fixture(scope="module")
def socket_hub(hub_pool, hub_users):
    state_dir = Path(tempfile.mkdtemp(prefix="jwhub-socket-"))
    socket_dir = Path(tempfile.mkdtemp(prefix="jwsock-"))
    hub = new_hub(state_dir, hub_pool,
                  spawner={"server_mode": "auto", "socket_dir": str(socket_dir)})
    isolate_jobs(hub, hub_pool)
    hub.start()
    for name in hub_users:
        hub.ensure_user(name)
    yield hub
    if hub.process is not None:
        hub.ensure_stopped(ALICE)
    hub.stop()
    shutil.rmtree(socket_dir, ignore_errors=True)
    if not os.environ.get("JWHUB_KEEP_STATE"):
        shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def alice(socket_hub):
    messages = socket_hub.spawn(ALICE)
    return messages, socket_hub.user_token(ALICE)


def routes(hub) -> dict:
    url = f"http://127.0.0.1:{hub.settings['proxy_api_port']}/api/routes"
    reply = requests.get(url, headers={"Authorization": f"token {hub.settings['proxy_token']}"},
                         timeout=10)
    return reply.json()


def job_pids() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if str(STANDIN_JOB).encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_auto_chooses_socket_mode_and_the_log_says_why(socket_hub, alice):
    messages, _ = alice
    assert "JobwrapperSpawner: socket mode: configurable-http-proxy 5.3.0" in \
        socket_hub.log_text()
    assert any("Tunnel up: the hub's socket" in m for m in messages), messages
    assert messages[-1].startswith("Server ready")


def test_the_proxy_reaches_the_job_through_the_socket_forward(socket_hub, alice):
    _, token = alice
    reply = socket_hub.get_through_proxy(ALICE, token)
    assert reply.status_code == 200 and reply.json()["stand_in"] is True
    state = socket_hub.state(ALICE)
    assert "local_port" not in state and "remote_port" not in state
    assert state["job_socket"].endswith("/.jobwrapper/sockets/server.sock")
    target = routes(socket_hub)[f"/user/{ALICE}"]["target"]
    assert target == socket_url(state["hub_socket"])  # bare: no ":80", no path


def test_hub_socket_is_alices_alone(socket_hub, alice):
    hub_socket = Path(socket_hub.state(ALICE)["hub_socket"])
    alice_uid = int(run_as(None, "id", "-u", ALICE).stdout)
    for path, mode in ((hub_socket, 0o600), (hub_socket.parent, 0o700),
                       (hub_socket.parent.parent, 0o711)):
        info = path.lstat()
        assert stat.S_IMODE(info.st_mode) == mode, path
    assert stat.S_ISSOCK(hub_socket.lstat().st_mode)
    assert hub_socket.lstat().st_uid == alice_uid == hub_socket.parent.lstat().st_uid


def test_another_local_user_cannot_connect_to_either_socket(socket_hub, alice):
    state = socket_hub.state(ALICE)
    for path in (state["hub_socket"], state["job_socket"]):
        result = run_as(BOB, SYSTEM_PYTHON, "-c", CONNECT, path)
        assert result.returncode != 0 and "Permission denied" in result.stderr, path
        assert "connected" not in result.stdout
    # the owner can, so the refusal above is about permissions, not a missing socket
    result = run_as(ALICE, SYSTEM_PYTHON, "-c", CONNECT, state["hub_socket"])
    assert result.stdout.strip() == "connected", result.stderr


def test_nothing_listens_on_tcp_in_the_job_or_the_tunnel(socket_hub, alice):
    state = socket_hub.state(ALICE)
    tunnel = descendants(state["tunnel_pid"])
    jobs = job_pids()
    assert jobs and not process_gone(state["tunnel_pid"])
    assert tcp_listeners(tunnel) == []
    assert tcp_listeners(jobs) == []


@pytest.mark.parametrize("body", [
    {"socket": "relative/.jobwrapper/sockets/server.sock"},
    {"socket": "/scratch/../etc/.jobwrapper/sockets/server.sock"},
    {"socket": "/scratch/dir//.jobwrapper/sockets/server.sock"},
    {"socket": "/run/jobwrapper-hub/jwtest-bob/default.sock"},
    {"socket": "/Scratch/dir_1/.jobwrapper/sockets/server.sock"},
    {"socket": "/" + "a" * 100 + "/.jobwrapper/sockets/server.sock"},
    {"socket": 12345},
    {"socket": ["/s/.jobwrapper/sockets/server.sock"]},
    {"socket": "/s/.jobwrapper/sockets/server.sock", "port": 8888},
    {"port": 8888},  # a port, where this server expects a socket
])
def test_bad_socket_reports_are_refused_and_change_nothing(socket_hub, alice, body):
    before = socket_hub.state(ALICE)
    reply = requests.post(f"{socket_hub.url}/hub/api/batchspawner", json=body, timeout=10,
                          headers={"Authorization": f"token {server_token(ALICE)}"})
    assert reply.status_code == 400, reply.text
    assert socket_hub.state(ALICE) == before


def test_a_good_path_reported_after_the_start_is_not_taken(socket_hub, alice):
    before = socket_hub.state(ALICE)
    reply = requests.post(f"{socket_hub.url}/hub/api/batchspawner", timeout=10,
                          json={"socket": "/tmp/x/.jobwrapper/sockets/server.sock"},
                          headers={"Authorization": f"token {server_token(ALICE)}"})
    assert reply.status_code == 409
    assert socket_hub.state(ALICE) == before


def test_hub_restart_recreates_the_socket_forward_and_keeps_the_bare_url(socket_hub, alice):
    _, token = alice
    before = socket_hub.state(ALICE)
    socket_hub.stop()
    os.killpg(before["tunnel_pid"], signal.SIGTERM)
    wait_for(lambda: process_gone(before["tunnel_pid"]), 10, "the old tunnel to end")
    socket_hub.start()
    reply = wait_for(lambda: (r := socket_hub.get_through_proxy(ALICE, token)).status_code
                     == 200 and r, 30, "the notebook to answer through the proxy")
    assert reply.json()["stand_in"] is True
    after = socket_hub.state(ALICE)
    assert after["hub_socket"] == before["hub_socket"]
    assert after["tunnel_pid"] != before["tunnel_pid"]
    assert f"re-created the tunnel to job {before['job_id']} on hub socket" in \
        socket_hub.log_text()
    assert routes(socket_hub)[f"/user/{ALICE}"]["target"] == socket_url(after["hub_socket"])
    assert "had invalid url" not in socket_hub.log_text()
    # the restarted hub says its mode at start-up, for the running server's spawner
    assert "JobwrapperSpawner: socket mode: " in socket_hub.log_files[-1].read_text()
    assert tcp_listeners(descendants(after["tunnel_pid"])) == []


def test_hub_restart_adopts_a_socket_forward_that_outlived_it(socket_hub, alice):
    _, token = alice
    before = socket_hub.state(ALICE)
    socket_hub.stop()
    assert not process_gone(before["tunnel_pid"])
    socket_hub.start()
    assert socket_hub.get_through_proxy(ALICE, token).status_code == 200
    assert socket_hub.state(ALICE)["tunnel_pid"] == before["tunnel_pid"]
    assert routes(socket_hub)[f"/user/{ALICE}"]["target"] == socket_url(before["hub_socket"])


def test_stop_ends_the_forward(socket_hub, alice):
    state = socket_hub.state(ALICE)
    socket_hub.stop_server(ALICE)
    assert process_gone(state["tunnel_pid"])
    assert command_lines_containing(state["hub_socket"]) == []


def test_two_hubs_on_one_machine_keep_their_sockets_apart(socket_hub, hub_pool):
    # the same user and server name on a second hub with the same socket_dir
    if socket_hub.server(ALICE) is None:
        socket_hub.spawn(ALICE)
    state_dir = Path(tempfile.mkdtemp(prefix="jwhub-socket2-"))
    second = new_hub(state_dir, hub_pool, spawner={
        "server_mode": "socket", "socket_dir": socket_hub.settings["spawner"]["socket_dir"]})
    isolate_jobs(second, hub_pool)
    second.start()
    try:
        second.ensure_user(ALICE)
        second.spawn(ALICE)
        mine, theirs = socket_hub.state(ALICE), second.state(ALICE)
        assert mine["hub_socket"] != theirs["hub_socket"]
        for hub, state in ((socket_hub, mine), (second, theirs)):
            reply = hub.get_through_proxy(ALICE, hub.user_token(ALICE))
            assert state["job_socket"].startswith(reply.json()["scratch"] + "/")
    finally:
        second.ensure_stopped(ALICE)
        second.stop()
        shutil.rmtree(state_dir, ignore_errors=True)
