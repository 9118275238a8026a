"""A real JupyterHub: the reason a running server stopped reaches its user.

The job is removed behind the hub's back; the next poll records why, JupyterHub's
stop saves it in its database, the options form shows it (also after a hub
restart), admins read it in the server's state, and the next start forgets it.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest
import requests

from .harness import ALICE, Hub, isolate_jobs, new_hub, run_as, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.root]


@pytest.fixture(scope="module")
def form_hub(hub_pool: Path, hub_users: tuple[str, str]) -> Hub:
    """A running hub with the options form on and a short poll interval."""
    state_dir = Path(tempfile.mkdtemp(prefix="jwhub-stopreason-"))
    running = new_hub(state_dir, hub_pool, poll_interval=1, spawner={"resource_form": True})
    isolate_jobs(running, hub_pool)
    running.start()
    running.ensure_user(ALICE)
    yield running
    if running.process is not None and running.server(ALICE) is not None:
        running.api("DELETE", f"/users/{ALICE}/server")
    running.stop()
    if not os.environ.get("JWHUB_KEEP_STATE"):
        shutil.rmtree(state_dir, ignore_errors=True)


def stored_reason(hub: Hub) -> dict | None:
    """The stop reason in the stopped server's state, as an admin sees it."""
    reply = hub.api("GET", f"/users/{ALICE}", params={"include_stopped_servers": "1"})
    server = reply.json()["servers"].get("", {})
    return (server.get("state") or {}).get("stop_reason")


def spawn_page(hub: Hub) -> str:
    """/hub/spawn as alice sees it in her browser (pages take no API token)."""
    browser = requests.Session()
    login = browser.get(f"{hub.url}/hub/login", timeout=30)
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', login.text).group(1)
    browser.post(f"{hub.url}/hub/login", timeout=30,
                 data={"username": ALICE, "password": "any", "_xsrf": xsrf})
    reply = browser.get(f"{hub.url}/hub/spawn/{ALICE}", timeout=30)
    assert reply.status_code == 200 and 'name="cpus"' in reply.text, reply.text[:500]
    return reply.text


def test_a_removed_job_is_explained_until_the_next_start(form_hub):
    hub = form_hub
    hub.spawn(ALICE)
    assert hub.server(ALICE) is not None
    job_id = hub.state(ALICE)["job_id"]

    run_as(None, hub.settings["bin"] + "/condor_rm", job_id)
    wait_for(lambda: hub.server(ALICE) is None, 60, "the hub to notice the removed job")
    expected = f"Your notebook job {job_id} stopped while running: it "
    assert stored_reason(hub)["reason"].startswith(expected)

    hub.stop()
    hub.start()
    assert stored_reason(hub)["reason"].startswith(expected)
    page = spawn_page(hub)
    assert "jobwrapper-stop-reason" in page
    assert expected in page

    hub.spawn(ALICE)
    assert hub.server(ALICE) is not None
    assert "stop_reason" not in hub.state(ALICE)
    hub.stop_server(ALICE)
    assert stored_reason(hub) is None
