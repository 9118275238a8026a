"""The tunnel through `setpriv` instead of `sudo` (docs/hub.md, "The tunnel's exec prefix").

setpriv changes the credentials and execs: no sudo process stays waiting in the
tunnel's chain (bench/hub_footprint). These tests check that the tunnel still runs as
the user, with the user's groups and HOME, that it still ends when the hub dies
(`--pdeathsig keep`: a credential change clears the parent-death signal), and that a
restarted hub brings the notebook back.
"""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from pathlib import Path

import pytest

from .harness import ALICE, isolate_jobs, new_hub, process_gone, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.root]

SETPRIV = "setpriv --reuid={uid} --regid={gid} --init-groups --pdeathsig keep --"


@pytest.fixture(scope="module")
def setpriv_hub(hub_pool: Path, hub_users: tuple[str, str]):
    if not shutil.which("setpriv"):
        pytest.skip("setpriv (util-linux) is missing")
    state_dir = Path(tempfile.mkdtemp(prefix="jwhub-setpriv-"))
    hub = new_hub(state_dir, hub_pool, spawner={"connect_to_job_exec_prefix": SETPRIV})
    isolate_jobs(hub, hub_pool)
    hub.start()
    hub.ensure_user(ALICE)
    yield hub
    if hub.process is not None and hub.server(ALICE) is not None:
        hub.stop_server(ALICE)
    hub.stop()
    shutil.rmtree(state_dir, ignore_errors=True)


def status_fields(pid: int) -> dict[str, list[str]]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {key: value.split() for key, _, value in (line.partition(":") for line in lines)}


def environment(pid: int) -> dict[str, str]:
    entries = Path(f"/proc/{pid}/environ").read_bytes().decode().split("\0")
    return dict(entry.split("=", 1) for entry in entries if "=" in entry)


def test_the_tunnel_runs_as_the_user_with_groups_and_home_and_no_sudo_waits(setpriv_hub):
    messages = setpriv_hub.spawn(ALICE)
    assert messages[-1].startswith("Server ready"), messages
    pid = setpriv_hub.state(ALICE)["tunnel_pid"]
    user = pwd.getpwnam(ALICE)
    fields = status_fields(pid)
    assert fields["Uid"] == [str(user.pw_uid)] * 4
    assert fields["Gid"] == [str(user.pw_gid)] * 4
    assert sorted(fields["Groups"]) == sorted(str(g) for g in os.getgrouplist(ALICE,
                                                                             user.pw_gid))
    assert environment(pid)["HOME"] == user.pw_dir
    # setpriv exec'd: the tunnel is the hub's own child, no sudo between them
    assert int(fields["PPid"][0]) == setpriv_hub.process.pid
    assert "condor_ssh_to_job" in Path(f"/proc/{pid}/cmdline").read_bytes().decode()


def test_the_tunnel_ends_with_the_hub_and_a_restarted_hub_reconnects(setpriv_hub):
    if setpriv_hub.server(ALICE) is None:
        setpriv_hub.spawn(ALICE)
    token = setpriv_hub.user_token(ALICE)
    before = setpriv_hub.state(ALICE)
    setpriv_hub.stop()
    # the parent-death signal survived setpriv's credential change
    wait_for(lambda: process_gone(before["tunnel_pid"]), 10, "the tunnel to end with the hub")
    setpriv_hub.start()
    reply = wait_for(
        lambda: (r := setpriv_hub.get_through_proxy(ALICE, token)).status_code == 200 and r,
        30, "the notebook to answer through the proxy")
    assert reply.json()["stand_in"] is True
    after = setpriv_hub.state(ALICE)
    assert (after["job_id"], after["local_port"]) == (before["job_id"], before["local_port"])
