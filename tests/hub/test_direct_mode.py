"""Classic direct mode end to end: `connect_to_job_cmd = ""` on the hub, the real
`jobwrapper singleuser` on the local pool. The hub tells the job
`JOBWRAPPER_SERVER_BIND=direct`, which wins over the job's site config (it says
`server.bind = "loopback"` here, as a worker's default would).

The proxy connects to the execute host and the port the job reported; no
condor_ssh_to_job runs. The server listens on the execute host's own address, the one
its name resolves to, never on 0.0.0.0. Jobs run without a network namespace here (a
namespace refuses every inbound connection, so direct mode cannot work in one).
Skipped, like test_hub_real_job.py, when the test users cannot run a jobwrapper
(JWHUB_REAL_JOBWRAPPER).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import tempfile
from pathlib import Path

import pytest
import requests
from listeners import tcp_listen_addresses

from .harness import (
    ALICE,
    command_lines_containing,
    jobwrapper_for,
    new_hub,
    process_gone,
    run_as,
)

pytestmark = [pytest.mark.e2e, pytest.mark.root]



@pytest.fixture(scope="module")
def direct_hub(hub_pool, hub_users):
    real = jobwrapper_for(ALICE)
    if not real:
        pytest.skip("no jobwrapper the test users can run: set JWHUB_REAL_JOBWRAPPER")
    from jobwrapper.localpool.admin import init_pool
    from jobwrapper.localpool.config import PoolLayout, load_config

    state_dir = Path(tempfile.mkdtemp(prefix="jwhub-direct-"))
    site_dir = Path(tempfile.mkdtemp(prefix="jwhub-direct-site-"))
    os.chmod(site_dir, 0o755)  # the job (jwtest-alice) reads the site config
    site_config = site_dir / "config.toml"
    # the hub's JOBWRAPPER_SERVER_BIND=direct must win over the site config
    site_config.write_text('[server]\nbind = "loopback"\n')
    os.chmod(site_config, 0o644)
    bin_dir = str(Path(real).parent)
    hub = new_hub(state_dir, hub_pool, job_executable=real, spawner={
        "connect_to_job_cmd": "",
        "server_mode": "tcp",
        "environment": {"PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
                        "JOBWRAPPER_CONFIG": str(site_config)},
    })
    layout = PoolLayout(hub_pool.parent / "pool")
    before = load_config(layout.root)
    # No network namespace: the proxy must reach the job's port on the execute host.
    init_pool(layout, {"netns": "false", "outbound_ports": ""})
    started = False
    try:
        hub.start()  # a hub that does not answer in time is stopped below, not left behind
        started = True
        hub.ensure_user(ALICE)
        yield hub
    finally:
        try:
            if started and hub.process is not None:
                hub.ensure_stopped(ALICE)
        finally:
            hub.stop()
            init_pool(layout, {"netns": str(before.netns).lower(),
                               "outbound_ports": ",".join(map(str, before.outbound_ports))})
            if not os.environ.get("JWHUB_KEEP_STATE"):
                shutil.rmtree(state_dir, ignore_errors=True)
            shutil.rmtree(site_dir, ignore_errors=True)


@pytest.fixture
def running(direct_hub) -> dict:
    """Alice's server runs (spawned here unless an earlier test left it running)."""
    if direct_hub.server(ALICE) is None:
        messages = direct_hub.spawn(ALICE)
        assert messages[-1].startswith("Server ready"), messages
    return direct_hub.state(ALICE)


def test_direct_spawn_is_proxied_to_the_execute_host_without_ssh_to_job(direct_hub):
    direct_hub.ensure_stopped(ALICE)
    messages = direct_hub.spawn(ALICE)
    assert messages[-1].startswith("Server ready"), messages

    reply = direct_hub.get_through_proxy(ALICE, direct_hub.user_token(ALICE))
    assert reply.status_code == 200 and "last_activity" in reply.json()

    state = direct_hub.state(ALICE)
    assert state["remote_port"] and state["job_host"]
    assert "local_port" not in state and "tunnel_pid" not in state, state
    # the proxy's route leads to the execute host and the job's port, not to 127.0.0.1
    assert _route_target(direct_hub) == f"http://{state['job_host']}:{state['remote_port']}"
    assert not any("Tunnel up" in message for message in messages), messages
    # (this pool's condor_ssh_to_job only: a real pool on the same machine may run its own)
    assert command_lines_containing(direct_hub.settings["bin"] + "/condor_ssh_to_job") == []
    log = direct_hub.log_text()
    assert "Starting connect-to-job command" not in log
    assert "condor_ssh_to_job" not in log


def test_direct_hub_tells_the_job_to_bind_direct(direct_hub, running):
    """The hub's JOBWRAPPER_SERVER_BIND=direct reaches the job's ad (its `environment`),
    whatever the site config says; here the execute host's name resolves to 127.0.0.1,
    so the listening address alone cannot tell direct from loopback."""
    environment = run_as(None, direct_hub.settings["bin"] + "/condor_q", running["job_id"],
                         "-af", "Environment")
    assert environment.returncode == 0, environment
    assert "JOBWRAPPER_SERVER_BIND=direct" in environment.stdout.split(), environment.stdout


def test_direct_server_listens_only_on_the_address_the_execute_host_resolves_to(
        direct_hub, running):
    """docs/config.md: `direct` = the execute host's own address, the one the hub's proxy
    connects to (the host of RemoteHost, resolved), never 0.0.0.0 or `::`."""
    port, host = running["remote_port"], running["job_host"]
    expected = _first_usable_address(host)
    servers = [pid for pid in _pids_of(ALICE) if "jupyterhub-singleuser" in _cmdline(pid)]
    assert servers, "no jupyterhub-singleuser process of the job"
    listening = sorted({entry for pid in servers for entry in tcp_listen_addresses(pid)
                        if entry[1] == port})
    assert listening == [(expected, port)], (host, listening)
    assert not any(address in ("0.0.0.0", "::") for address, _ in listening)

    token = direct_hub.user_token(ALICE)
    netloc = f"[{expected}]:{port}" if ":" in expected else f"{expected}:{port}"
    reply = requests.get(f"http://{netloc}/user/{ALICE}/api/status",
                         headers={"Authorization": f"token {token}"}, timeout=10)
    assert reply.status_code == 200, (expected, reply.status_code)


def test_direct_stop_removes_the_job_and_its_server(direct_hub, running):
    job_id, port = running["job_id"], running["remote_port"]
    servers = [pid for pid in _pids_of(ALICE) if "jupyterhub-singleuser" in _cmdline(pid)]
    assert servers
    direct_hub.stop_server(ALICE)
    # stop() waits until the job left the queue: gone as soon as the server counts stopped
    status = run_as(None, direct_hub.settings["bin"] + "/condor_q", job_id, "-af",
                    "JobStatus")
    assert status.returncode == 0 and status.stdout.strip() == "", status
    assert all(process_gone(pid) for pid in servers)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    assert _route_target(direct_hub) is None


# ---- helpers -------------------------------------------------------------------------


def _route_target(hub) -> str | None:
    """The proxy's (configurable-http-proxy's) target for alice's server, if routed."""
    reply = requests.get(
        f"http://127.0.0.1:{hub.settings['proxy_api_port']}/api/routes", timeout=10,
        headers={"Authorization": f"token {hub.settings['proxy_token']}"})
    reply.raise_for_status()
    for path, route in reply.json().items():
        if path.rstrip("/") == f"/user/{ALICE}":
            return route["target"]
    return None


def _pids_of(user: str) -> list[int]:
    uid = pwd.getpwnam(user).pw_uid
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            uids = next(line for line in status.splitlines() if line.startswith("Uid:"))
            if int(uids.split()[1]) == uid:
                found.append(int(entry.name))
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _first_usable_address(name: str) -> str:
    """What the job resolves the execute host's name to (same machine, same resolver):
    getaddrinfo's first address that is not unspecified."""
    for info in socket.getaddrinfo(name, None, type=socket.SOCK_STREAM):
        if info[4][0] not in ("0.0.0.0", "::"):
            return info[4][0]
    raise AssertionError(f"{name} resolves to no usable address")
