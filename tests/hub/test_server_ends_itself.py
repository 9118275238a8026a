"""A server that ends by itself frees its job and slot (issue 11, item 1).

On HTCondor an open condor_ssh_to_job session (the hub's tunnel) keeps a job Running
after its server has exited; the local pool does the same. The job's end report
(`{"ended": "shutdown"}`) makes the hub close the tunnel at once; a server that dies
without a word is found by the poll's probe through the tunnel.
"""

from __future__ import annotations

import contextlib
import time

import pytest
import requests

from .harness import ALICE, process_gone, run_as, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.root]


def queue_status(hub, job_id: str) -> str:
    argv = hub.settings["bin"] + "/condor_q", job_id, "-af", "JobStatus"
    return run_as(None, *argv).stdout.strip()


def stored_reason(hub) -> str:
    """The stop reason in the stopped server's state, as an admin sees it."""
    reply = hub.api("GET", f"/users/{ALICE}", params={"include_stopped_servers": "1"})
    server = reply.json()["servers"].get("", {})
    return ((server.get("state") or {}).get("stop_reason") or {}).get("reason", "")


def post_to_server(hub, path: str, token: str) -> None:
    with contextlib.suppress(requests.ConnectionError):  # a crash closes it unanswered
        requests.post(f"{hub.url}/user/{ALICE}/api/{path}",
                      headers={"Authorization": f"token {token}"}, timeout=10)


def test_shutdown_from_jupyterlab_frees_the_slot_and_says_why(hub):
    hub.ensure_stopped(ALICE)
    hub.spawn(ALICE)
    state = hub.state(ALICE)
    post_to_server(hub, "shutdown", hub.user_token(ALICE))
    started = time.monotonic()
    wait_for(lambda: queue_status(hub, state["job_id"]) == "", 15, "the job to leave the queue")
    left_after = time.monotonic() - started
    wait_for(lambda: hub.server(ALICE) is None, 15, "the hub to see the server stopped")
    assert left_after < 10
    assert process_gone(state["tunnel_pid"])
    assert stored_reason(hub).startswith(
        f"Your notebook job {state['job_id']} ended: the notebook server was shut down "
        "(File > Shut Down in JupyterLab")


def test_a_server_that_dies_without_a_word_is_found_and_its_job_leaves(hub):
    hub.ensure_stopped(ALICE)
    hub.spawn(ALICE)
    state = hub.state(ALICE)
    post_to_server(hub, "crash", hub.user_token(ALICE))
    # the poll (every 2 s here) probes through the tunnel; two closed requests = gone
    wait_for(lambda: hub.server(ALICE) is None, 30, "the hub to notice the dead server")
    assert queue_status(hub, state["job_id"]) == ""
    assert "its notebook server exited without saying why" in stored_reason(hub)


def test_a_busy_server_is_not_taken_for_dead(hub):
    hub.ensure_stopped(ALICE)
    hub.spawn(ALICE)
    state = hub.state(ALICE)
    time.sleep(5)  # two or more polls with probes
    assert hub.server(ALICE) is not None
    assert queue_status(hub, state["job_id"]) == "2"
    hub.stop_server(ALICE)
