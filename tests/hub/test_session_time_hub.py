"""Through a real JupyterHub and the local pool: more time for a running session
(POST /hub/api/jobwrapper/runtime, condor_qedit -forward as the user, the job sees it
with condor_chirp) and the hub's words for an idle end (issue 15.5, 15.6)."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from .harness import ALICE, run_as, serving, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.root]


@pytest.fixture(scope="module")
def hub(hub_pool: Path, hub_users: tuple[str, str]):
    """A hub whose spawner asks jobs to end after 120 minutes without activity."""
    with serving("jwhub-state-", hub_pool, hub_users, isolate=True,
                 spawner={"environment": {"JOBWRAPPER_IDLE_MINUTES": "120"}}) as running:
        yield running


def queue_attribute(hub, job_id: str, name: str) -> str:
    return run_as(None, hub.settings["bin"] + "/condor_q", job_id, "-af", name).stdout.strip()


def chirp(hub, scratch: str) -> str:
    """What condor_chirp get_job_attr MaxRuntime says inside the job."""
    env = {"_CONDOR_JOB_AD": f"{scratch}/.job.ad", "PATH": "/usr/bin:/bin"}
    import subprocess

    done = subprocess.run([hub.settings["bin"] + "/condor_chirp", "get_job_attr", "MaxRuntime"],
                          capture_output=True, text=True, env=env, timeout=30, check=False)
    return done.stdout.strip()


def ask(hub, token: str, body: object) -> requests.Response:
    return requests.post(f"{hub.url}/user/{ALICE}/jobwrapper/runtime", json=body,
                         headers={"Authorization": f"token {token}"}, timeout=60)


def test_a_running_session_gets_more_time_up_to_the_users_maximum(hub):
    hub.ensure_stopped(ALICE)
    messages = hub.spawn(ALICE, {"runtime_limit": 7200})
    assert hub.server(ALICE) is not None, messages
    job_id = hub.state(ALICE)["job_id"]
    token = hub.user_token(ALICE)
    scratch = requests.get(f"{hub.url}/user/{ALICE}/", timeout=30,
                           headers={"Authorization": f"token {token}"}).json()["scratch"]
    assert queue_attribute(hub, job_id, "MaxRuntime") == "7200"
    assert chirp(hub, scratch) == "7200"

    granted = ask(hub, token, {"runtime_hours": 4})
    assert (granted.status_code, granted.json()) == (200, {"runtime_seconds": 14400})
    assert queue_attribute(hub, job_id, "MaxRuntime") == "14400"
    wait_for(lambda: chirp(hub, scratch) == "14400", 5, "the job to see the new limit")
    assert "MaxRuntime = 7200" in Path(scratch, ".job.ad").read_text()

    too_much = ask(hub, token, {"runtime_hours": 13})  # c.ResourceForm.max_runtime_hours 12
    assert too_much.status_code == 400 and "at most 12 h" in too_much.text
    strange = ask(hub, token, {"runtime_hours": 5, "exec_prefix": "sh -c id"})
    assert strange.status_code == 400
    assert queue_attribute(hub, job_id, "MaxRuntime") == "14400"

    # Only the server's own token: the user's token straight to the hub is refused.
    direct = hub.api("POST", "/jobwrapper/runtime", token=token, json={"runtime_hours": 5})
    assert direct.status_code == 403
    hub.stop_server(ALICE)


def test_an_idle_end_is_recorded_with_the_hubs_own_words(hub):
    hub.ensure_stopped(ALICE)
    hub.spawn(ALICE)
    job_id = hub.state(ALICE)["job_id"]
    token = hub.user_token(ALICE)
    requests.post(f"{hub.url}/user/{ALICE}/api/idle-end", timeout=10,
                  headers={"Authorization": f"token {token}"})
    wait_for(lambda: hub.server(ALICE) is None, 30, "the hub to see the server stopped")
    reply = hub.api("GET", f"/users/{ALICE}", params={"include_stopped_servers": "1"})
    state = reply.json()["servers"].get("", {}).get("state") or {}
    reason = (state.get("stop_reason") or {}).get("reason", "")
    assert reason.startswith(f"Your notebook job {job_id} ended: the notebook server ended "
                             "itself after 2 h without activity.")


def test_the_raised_runtime_survives_a_hub_restart(hub):
    hub.ensure_stopped(ALICE)
    hub.spawn(ALICE, {"runtime_limit": 7200})
    job_id = hub.state(ALICE)["job_id"]
    token = hub.user_token(ALICE)
    assert ask(hub, token, {"runtime_hours": 3}).status_code == 200
    hub.stop()
    hub.start()
    wait_for(lambda: hub.server(ALICE) is not None, 30, "the server after the restart")
    assert hub.server(ALICE)["user_options"]["runtime_limit"] == 10800
    refused = ask(hub, token, {"runtime_hours": 2})  # the server's token, found again
    assert refused.status_code == 400 and "already has 3 h" in refused.text
    assert ask(hub, token, {"runtime_hours": 4}).json() == {"runtime_seconds": 14400}
    assert queue_attribute(hub, job_id, "MaxRuntime") == "14400"
    hub.stop_server(ALICE)


def test_an_idle_end_after_a_hub_restart_still_says_why(hub):
    hub.ensure_stopped(ALICE)
    hub.spawn(ALICE)
    job_id = hub.state(ALICE)["job_id"]
    token = hub.user_token(ALICE)
    hub.stop()
    hub.start()
    wait_for(lambda: hub.server(ALICE) is not None, 30, "the server after the restart")
    requests.post(f"{hub.url}/user/{ALICE}/api/idle-end", timeout=10,
                  headers={"Authorization": f"token {token}"})
    wait_for(lambda: hub.server(ALICE) is None, 60, "the hub to see the server stopped")
    reply = hub.api("GET", f"/users/{ALICE}", params={"include_stopped_servers": "1"})
    state = reply.json()["servers"].get("", {}).get("state") or {}
    reason = (state.get("stop_reason") or {}).get("reason", "")
    assert reason.startswith(f"Your notebook job {job_id} ended: the notebook server ended "
                             "itself after 2 h without activity."), reason
