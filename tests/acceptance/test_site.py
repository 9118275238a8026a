"""Site acceptance: what an admin checks on their own pool before going live.

Against the pool named by JOBWRAPPER_ACCEPT_* (docs/acceptance.md; scripts/acceptance),
or, in CI, the local pool: the real hub, the real `jobwrapper singleuser` in the job.
Each scenario says what a site would lose if it failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import time
import uuid

import pytest
import requests
from hub.harness import (
    command_lines_containing,
    home,
    process_gone,
    server_token,
    wait_for,
)
from kernel_ws import execute

pytestmark = [pytest.mark.e2e, pytest.mark.root, pytest.mark.acceptance]


def spawned(site, options: dict | None = None) -> dict:
    """The user's server running (started if needed); the spawner's state."""
    hub = site.hub
    if hub.server(site.user) is None:
        messages = spawn(site, options)
        assert messages and messages[-1].startswith("Server ready"), messages
    return hub.state(site.user)


def spawn(site, options: dict | None = None) -> list[str]:
    hub = site.hub
    reply = hub.api("POST", f"/users/{site.user}/server", json=options or {})
    assert reply.status_code in (201, 202), reply.text
    messages: list[str] = []
    with hub.api("GET", f"/users/{site.user}/server/progress", stream=True,
                 timeout=site.timeout) as stream:
        for line in stream.iter_lines(decode_unicode=True):
            if line.startswith("data:"):
                event = json.loads(line[5:])
                messages.append(event.get("message", "") or "")
                if event.get("ready") or event.get("failed"):
                    break
    return messages


def through_proxy(site, path: str, method: str = "GET", **kwargs) -> requests.Response:
    token = site.hub.user_token(site.user)
    return requests.request(method, f"{site.hub.url}/user/{site.user}/{path}",
                            headers={"Authorization": f"token {token}"}, timeout=60, **kwargs)


def queue(site, job_id: str, *attributes: str) -> list[str]:
    return site.condor("condor_q", job_id, "-af", *attributes).stdout.split()


def stopped(site) -> None:
    if site.hub.server(site.user) is not None:
        site.hub.stop_server(site.user, timeout=site.timeout)


def run_in_kernel(site, code: str, wait: bool = True) -> str:
    """Start a python3 kernel (no path: it runs in the job's jupyter/) and run `code`."""
    reply = through_proxy(site, "api/kernels", "POST", json={"name": "python3"})
    assert reply.status_code == 201, reply.text
    kernel = reply.json()["id"]
    url = (f"ws://127.0.0.1:{site.hub.settings['public_port']}/user/{site.user}"
           f"/api/kernels/{kernel}/channels")
    return asyncio.run(execute(url, site.hub.user_token(site.user), code, wait))


def test_spawn_reaches_jupyterlab_through_the_tunnel(site):
    # lost otherwise: every notebook
    stopped(site)
    state = spawned(site)
    assert state.get("job_id")
    reply = through_proxy(site, "api/status")
    assert reply.status_code == 200 and "last_activity" in reply.json()


def test_the_default_memory_request_carries_a_server_and_a_kernel(site):
    # lost otherwise: notebooks held or OOM-killed on pools with cgroups
    state = spawned(site)
    output = run_in_kernel(site, "block = bytearray(100 * 2**20); print(len(block) >> 20)")
    assert output == "100\n"
    assert queue(site, state["job_id"], "RequestMemory", "JobStatus") == ["2048", "2"]


def test_another_user_finds_no_secret_in_the_jobs_ad(site):
    # lost otherwise: other users could act as this user's server on the hub
    state = spawned(site)
    ad = site.condor("condor_q", "-l", state["job_id"], as_user=site.other_user)
    assert ad.returncode == 0 and "JupyterHubUser" in ad.stdout
    assert server_token(site.user) not in ad.stdout


def test_the_callback_takes_nothing_but_a_port_from_a_job(site):
    # lost otherwise: a job (or a user holding its token) could change what the hub runs
    spawned(site)
    token = server_token(site.user)
    url = f"{site.hub.url}/hub/api/batchspawner"
    for body in ({"port": 8888, "exec_prefix": "touch /tmp/owned"},
                 {"batch_query_cmd": "id"}, {"ended": "free text"}, {"port": "1; id"}):
        reply = requests.post(url, json=body, headers={"Authorization": f"token {token}"},
                              timeout=30)
        assert reply.status_code == 400, (body, reply.status_code)
    other = site.hub.user_token(site.other_user)
    reply = requests.post(url, json={"port": 8888},
                          headers={"Authorization": f"token {other}"}, timeout=30)
    assert reply.status_code == 403
    assert through_proxy(site, "api/status").status_code == 200  # nothing changed


def test_a_hub_restart_keeps_the_notebook(site):
    # lost otherwise: every running notebook at each hub update
    state = spawned(site)
    site.hub.stop()
    site.hub.start()
    wait_for(lambda: through_proxy(site, "api/status").status_code == 200, 60,
             "the notebook to answer after the restart")
    assert site.hub.state(site.user)["job_id"] == state["job_id"]


def test_stop_with_a_busy_kernel_brings_files_back(site):
    # lost otherwise: the user's work in ~/jupyter
    state = spawned(site)
    name = f"acceptance-{uuid.uuid4().hex[:8]}.txt"
    run_in_kernel(site, f"open({name!r}, 'w').write('kept')\nwhile True: pass", wait=False)
    site.hub.stop_server(site.user, timeout=site.timeout)
    assert (home(site.user) / "jupyter" / name).read_text() == "kept"
    assert queue(site, state["job_id"], "JobStatus") == []


def _user_file(site, name: str, text: str) -> None:
    """Write ~/jupyter/NAME as the user (the submit side), before or during a job."""
    path = home(site.user) / "jupyter" / name
    subprocess.run(["runuser", "-u", site.user, "--", "sh", "-c", 'printf %s "$1" > "$2"',
                    "sh", text, str(path)], check=True, timeout=30)


def test_a_notebook_deleted_in_jupyterlab_stays_deleted(site):
    # lost otherwise: users' clean-ups; deleted files came back after every session
    stopped(site)
    name = f"delete-me-{uuid.uuid4().hex[:8]}.ipynb"
    _user_file(site, name, "{}")
    spawned(site)
    assert through_proxy(site, f"api/contents/{name}", "DELETE").status_code == 204
    site.hub.stop_server(site.user, timeout=site.timeout)
    assert not (home(site.user) / "jupyter" / name).exists()
    trashed = list((home(site.user) / ".jupyterhub-condor" / "trash").rglob(name))
    assert [path.read_text() for path in trashed] == ["{}"]


def test_an_edit_on_the_submit_side_during_the_job_survives(site):
    # lost otherwise: a git pull or a second session's work, overwritten by the job's copy
    stopped(site)
    name = f"edited-{uuid.uuid4().hex[:8]}.txt"
    _user_file(site, name, "before")
    spawned(site)
    _user_file(site, name, "edited on the submit host")  # (another size: no mtime race)
    site.hub.stop_server(site.user, timeout=site.timeout)
    assert (home(site.user) / "jupyter" / name).read_text() == "edited on the submit host"


def test_two_servers_of_one_user_ending_together_both_land(site):
    # lost otherwise: the work of the server whose job ended first
    stopped(site)
    hub, token = site.hub, site.hub.user_token(site.user)
    tag = uuid.uuid4().hex[:8]
    names = {"": f"first-{tag}.txt", "second": f"second-{tag}.txt"}
    assert hub.api("POST", f"/users/{site.user}/servers/second", json={}).status_code in (201, 202)
    spawned(site)
    wait_for(lambda: (hub.api("GET", f"/users/{site.user}").json()["servers"].get("second")
                      or {}).get("ready"), site.timeout, "the second server")
    for server, name in names.items():
        prefix = f"{hub.url}/user/{site.user}/" + (f"{server}/" if server else "")
        reply = requests.put(f"{prefix}api/contents/{name}", timeout=60,
                             headers={"Authorization": f"token {token}"},
                             json={"type": "file", "format": "text", "content": server or "1"})
        assert reply.status_code in (200, 201), reply.text
    for server in names:  # both stop at once: two merges of one user
        hub.api("DELETE", f"/users/{site.user}/servers/{server}" if server
                else f"/users/{site.user}/server")
    wait_for(lambda: not hub.api("GET", f"/users/{site.user}").json()["servers"],
             site.timeout, "both servers to stop")
    assert (home(site.user) / "jupyter" / names[""]).read_text() == "1"
    assert (home(site.user) / "jupyter" / names["second"]).read_text() == "second"
    hub.api("DELETE", f"/users/{site.user}/servers/second", json={"remove": True})


def test_a_server_that_ends_itself_frees_its_slot(site):
    # lost otherwise: a batch slot per File > Shut Down until the runtime limit
    state = spawned(site)
    through_proxy(site, "api/shutdown", "POST")
    started = time.monotonic()
    wait_for(lambda: site.hub.server(site.user) is None, 60, "the hub to see the end")
    wait_for(lambda: queue(site, state["job_id"], "JobStatus") == [], 60,
             "the job to leave the queue")
    assert time.monotonic() - started < 30


def test_a_server_killed_without_a_word_frees_its_slot(site):
    # lost otherwise: a slot per crashed or OOM-killed server, until the runtime limit
    state = spawned(site)
    killed = site.condor("condor_ssh_to_job", "-auto-retry", state["job_id"],
                         "pkill -KILL -f '[j]upyterhub-singleuser'", as_user=site.user)
    assert killed.returncode in (0, 255), killed.stderr
    wait_for(lambda: site.hub.server(site.user) is None, 60, "the hub to find the server gone")
    wait_for(lambda: queue(site, state["job_id"], "JobStatus") == [], 60,
             "the job to leave the queue")
    assert "its notebook server exited without saying why" in site.hub.log_text()


def test_a_killed_tunnel_stops_the_job_and_says_why(site):
    # lost otherwise: a slot held by a notebook nobody can reach
    state = spawned(site)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(state["tunnel_pid"], signal.SIGKILL)
    wait_for(lambda: site.hub.server(site.user) is None, 60, "the hub to notice")
    wait_for(lambda: queue(site, state["job_id"], "JobStatus") == [], 60,
             "the job to leave the queue")
    assert process_gone(state["tunnel_pid"])
    assert f"The connection to job {state['job_id']} ended" in site.hub.log_text()


def test_nothing_is_left_running(site):
    stopped(site)
    assert command_lines_containing(f"{site.bin_dir}/condor_ssh_to_job") == []
