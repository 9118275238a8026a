"""The hub with the real job side, `jobwrapper singleuser`: this venv's jobwrapper when
the test users can run it (scripts/setup builds .venv on Debian's python for that), or
JWHUB_REAL_JOBWRAPPER=/path/to/bin/jobwrapper. Skipped only when neither can run as a
test user (e.g. a venv under /root); the other hub tests use the stand-in."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import requests

from .harness import (
    ALICE,
    files_containing,
    home,
    isolate_jobs,
    jobwrapper_for,
    new_hub,
    server_token,
    wait_for,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from kernel_ws import execute
from listeners import descendants, tcp_listeners

pytestmark = [pytest.mark.e2e, pytest.mark.root]


@pytest.fixture(scope="module", params=["tcp", "socket"])
def real_hub(request, hub_pool, hub_users):
    real = jobwrapper_for(ALICE)
    if not real:
        pytest.skip("no jobwrapper the test users can run: set JWHUB_REAL_JOBWRAPPER")

    state_dir = Path(tempfile.mkdtemp(prefix="jwhub-real-"))
    bin_dir = str(Path(real).parent)
    hub = new_hub(state_dir, hub_pool, job_executable=real,
                  spawner={"environment": {"PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin"},
                           "server_mode": request.param,
                           "socket_dir": tempfile.mkdtemp(prefix="jwsock-")})
    isolate_jobs(hub, hub_pool)
    hub.start()
    hub.ensure_user(ALICE)
    yield hub
    hub.ensure_stopped(ALICE)
    hub.stop()
    shutil.rmtree(state_dir, ignore_errors=True)
    shutil.rmtree(hub.settings["spawner"]["socket_dir"], ignore_errors=True)


def test_real_server_answers_keeps_no_token_in_its_files_and_stops(real_hub):
    messages = real_hub.spawn(ALICE)
    assert messages[-1].startswith("Server ready"), messages
    token = server_token(ALICE)
    reply = real_hub.get_through_proxy(ALICE, real_hub.user_token(ALICE))
    assert reply.status_code == 200 and "last_activity" in reply.json()
    real_hub.stop_server(ALICE)
    assert files_containing(token, home(ALICE), *real_hub.log_files) == []


def test_real_kernel_runs_and_in_socket_mode_nothing_else_listens_on_tcp(real_hub):
    real_hub.ensure_stopped(ALICE)
    real_hub.spawn(ALICE)
    token = real_hub.user_token(ALICE)
    url = f"{real_hub.url}/user/{ALICE}/api/kernels"
    reply = requests.post(url, json={"name": "python3"}, timeout=60,
                          headers={"Authorization": f"token {token}"})
    assert reply.status_code == 201, reply.text
    kernel_id = reply.json()["id"]
    state = real_hub.state(ALICE)

    ws_url = f"ws://127.0.0.1:{real_hub.settings['public_port']}/user/{ALICE}/api/kernels/"
    assert asyncio.run(execute(ws_url + f"{kernel_id}/channels", token,
                                "print(6 * 7)")) == "42\n"
    # a spawn without options asks for the site's default memory (2 GB), enough for the
    # server and a kernel under the pool's memory limit (HTCondor 25's cgroup hold)
    queue = subprocess.run([real_hub.settings["bin"] + "/condor_q", state["job_id"], "-af",
                            "RequestMemory", "JobStatus"], capture_output=True, text=True,
                           check=False)
    assert queue.stdout.split() == ["2048", "2"]
    if real_hub.settings["spawner"]["server_mode"] == "socket":
        assert state["job_socket"].endswith("/.jobwrapper/sockets/server.sock")
        scratch = state["job_socket"].removesuffix("/.jobwrapper/sockets/server.sock")
        job = _job_processes(scratch)
        assert any("jupyterhub-singleuser" in _cmdline(pid) for pid in job)
        listeners = tcp_listeners(job)
        # ipykernel keeps one port for subprocess output; nothing else listens on TCP
        assert len(listeners) <= 1, [(pid, port, _cmdline(pid)) for pid, port in listeners]
        assert tcp_listeners(descendants(state["tunnel_pid"])) == []
    real_hub.stop_server(ALICE)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:200]
    except OSError:
        return "(gone)"


def _job_processes(scratch: str) -> list[int]:
    """The job's own processes: those with its scratch dir in their environment (not the
    pool's emulated HTCondor daemons, which listen on TCP as real ones do)."""
    needle = f"_CONDOR_SCRATCH_DIR={scratch}\0".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if needle in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_file_shut_down_tells_the_hub_and_the_job_leaves_the_queue(real_hub):
    real_hub.ensure_stopped(ALICE)
    real_hub.spawn(ALICE)
    job_id = real_hub.state(ALICE)["job_id"]
    reply = requests.post(f"{real_hub.url}/user/{ALICE}/api/shutdown", timeout=30,
                          headers={"Authorization": f"token {real_hub.user_token(ALICE)}"})
    assert reply.status_code == 200, reply.text
    wait_for(lambda: real_hub.server(ALICE) is None, 30, "the hub to see the server end")
    queue = subprocess.run([real_hub.settings["bin"] + "/condor_q", job_id, "-af", "JobStatus"],
                           capture_output=True, text=True, check=False)
    assert queue.stdout.strip() == ""
    assert "the job says its server ends: shutdown" in real_hub.log_text()
