"""A real JupyterHub with JobwrapperSpawner on the local pool: spawn, restart, stop.

The hub runs as root, the jobs as jwtest-alice (through `sudo -E -u`), the job is the
stand-in (standin_job.py) that keeps the job side's contract.
"""

from __future__ import annotations

import os
import pwd
import signal
import socket

import pytest
from listeners import listening_uids

from jobwrapper.localpool.admin import init_pool
from jobwrapper.localpool.config import PoolLayout

from .harness import ALICE, FAST_POOL, home, process_gone, run_as, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.root]


@pytest.fixture(scope="module")
def alice(hub):
    """Alice's running server: (progress messages, a token of hers)."""
    messages = hub.spawn(ALICE)
    return messages, hub.user_token(ALICE)


def queue_status(hub, job_id: str) -> str:
    argv = hub.settings["bin"] + "/condor_q", job_id, "-af", "JobStatus"
    return run_as(None, *argv).stdout.strip()


def test_progress_says_submitted_running_tunnel_ready(hub, alice):
    messages, _ = alice
    job_id = hub.state(ALICE)["job_id"]
    text = "\n".join(messages)
    assert f"Submitted job {job_id} to the HTCondor pool." in text
    assert f"Job {job_id} is running on " in text
    assert "Tunnel up: hub port" in text
    assert messages[-1].startswith("Server ready")


def test_proxy_reaches_the_server_through_the_tunnel_on_the_hub(hub, alice):
    _, token = alice
    server = hub.server(ALICE)
    assert server["url"] == f"/user/{ALICE}/"
    state = hub.state(ALICE)
    assert state["local_port"] != state["remote_port"] or state["local_port"] > 0
    reply = hub.get_through_proxy(ALICE, token)
    assert reply.status_code == 200 and reply.json()["stand_in"] is True


def answers(hub, token: str):
    return wait_for(
        lambda: (r := hub.get_through_proxy(ALICE, token)).status_code == 200 and r, 30,
        "the notebook to answer through the proxy",
    )


def test_hub_restart_recreates_a_lost_tunnel_on_the_same_port(hub, alice):
    _, token = alice
    before = hub.state(ALICE)
    hub.stop()
    os.killpg(before["tunnel_pid"], signal.SIGTERM)
    wait_for(lambda: process_gone(before["tunnel_pid"]), 10, "the old tunnel to end")
    hub.start()
    assert answers(hub, token).json()["stand_in"] is True
    after = hub.state(ALICE)
    assert after["job_id"] == before["job_id"]
    assert after["local_port"] == before["local_port"]  # where the proxy's route points
    assert after["tunnel_pid"] != before["tunnel_pid"]
    assert f"re-created the tunnel to job {before['job_id']}" in hub.log_text()


def test_hub_restart_adopts_the_tunnel_that_outlived_it(hub, alice):
    _, token = alice
    before = hub.state(ALICE)
    hub.stop()
    assert not process_gone(before["tunnel_pid"])  # sudo keeps it from dying with the hub
    assert queue_status(hub, before["job_id"]) == "2"
    hub.start()
    assert answers(hub, token).json()["stand_in"] is True
    after = hub.state(ALICE)
    assert (after["job_id"], after["local_port"], after["tunnel_pid"]) == (
        before["job_id"], before["local_port"], before["tunnel_pid"]
    )
    assert f"adopted the previous hub's tunnel {before['tunnel_pid']}" in hub.log_text()


def test_stop_removes_the_job_and_brings_jupyter_back(hub, alice):
    state = hub.state(ALICE)
    job_id = state["job_id"]
    marker = home(ALICE) / "jupyter" / "stand-in-stopped.txt"
    if marker.exists():
        marker.unlink()
    hub.stop_server(ALICE)
    # stop() returned only after the job left the queue, so the output is back already
    assert queue_status(hub, job_id) == ""
    assert marker.read_text().startswith("stopped by signal 15")
    secrets_file = home(ALICE) / ".jupyterhub-condor/default/.jobwrapper-hub-secrets.json"
    assert not secrets_file.exists()
    assert process_gone(state["tunnel_pid"])  # the adopted tunnel (previous test) ended too


def test_a_dead_tunnel_stops_the_job_and_says_why(hub):
    hub.ensure_stopped(ALICE)
    hub.spawn(ALICE)
    state = hub.state(ALICE)
    os.killpg(state["tunnel_pid"], signal.SIGKILL)
    wait_for(lambda: hub.server(ALICE) is None, 30, "the hub to notice the dead tunnel")
    assert f"The connection to job {state['job_id']} ended" in hub.log_text()
    wait_for(lambda: queue_status(hub, state["job_id"]) == "", 30, "the job to leave the queue")


def test_an_idle_job_is_reported_while_it_waits(hub, hub_pool):
    hub.ensure_stopped(ALICE)
    layout = PoolLayout(hub_pool.parent / "pool")
    init_pool(layout, {"idle_delay": "1.5"})
    try:
        messages = hub.spawn(ALICE)
    finally:
        init_pool(layout, {"idle_delay": FAST_POOL["idle_delay"]})
    assert any("is idle in the queue, waiting for a free slot." in m for m in messages)
    hub.stop_server(ALICE)


def test_the_job_is_unreachable_except_through_the_tunnel(hub, hub_pool):
    hub.ensure_stopped(ALICE)
    from jobwrapper.localpool.execute import netns

    if not netns.available():
        pytest.skip("no network namespaces here: the pool runs jobs on the host network")
    hub.spawn(ALICE)
    state = hub.state(ALICE)
    owners = listening_uids(state["remote_port"])
    # the job's server (Alice's) listens in the job's namespace, not on the host's
    assert pwd.getpwnam(ALICE).pw_uid not in owners
    if not owners:  # the port number inside the job may be in use on the host by chance
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", state["remote_port"]), timeout=2).close()
    socket.create_connection(("127.0.0.1", state["local_port"]), timeout=2).close()
    hub.stop_server(ALICE)


def test_a_job_that_ends_before_its_server_starts_fails_the_spawn_in_words(hub):
    hub.ensure_stopped(ALICE)
    messages = hub.spawn(ALICE, options={"environment": "exit-early"})
    # "it ended" if a query saw JobStatus 4, "it left the queue" if the job was gone first
    assert any(
        "stopped before the notebook server started: it" in m
        and "~/.jupyterhub-condor/default/ (job.out, job.err, job.log)" in m
        for m in messages
    ), messages
    wait_for(lambda: hub.server(ALICE) is None, 10, "the failed server to be cleared")
    job_err = home(ALICE) / ".jupyterhub-condor/default/job.err"
    assert "exiting before the server starts" in job_err.read_text()


def test_bad_options_fail_the_spawn_in_words(hub):
    hub.ensure_stopped(ALICE)
    messages = hub.spawn(ALICE, options={"cpus": "lots"})
    assert any("could not be described: option cpus must be an integer" in m for m in messages)
    wait_for(lambda: hub.server(ALICE) is None, 10, "the failed server to be cleared")


def test_first_spawn_created_private_dirs(hub):
    assert (home(ALICE) / "jupyter").stat().st_mode & 0o777 == 0o700
    assert (home(ALICE) / ".jupyterhub-condor/default").stat().st_mode & 0o777 == 0o700
    assert (home(ALICE) / "jupyter").stat().st_uid == (home(ALICE)).stat().st_uid
