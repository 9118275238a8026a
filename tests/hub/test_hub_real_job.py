"""The hub with the real job side, `jobwrapper singleuser`, when one is installed where
the test users can run it: JWHUB_REAL_JOBWRAPPER=/path/to/bin/jobwrapper (e.g. the
demo's job environment). Skipped otherwise; the other hub tests use the stand-in."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from .harness import ALICE, files_containing, home, new_hub, server_token

pytestmark = [pytest.mark.e2e, pytest.mark.root]
REAL = os.environ.get("JWHUB_REAL_JOBWRAPPER", "")


@pytest.fixture(scope="module")
def real_hub(hub_pool, hub_users):
    if not REAL or not os.access(REAL, os.X_OK):
        pytest.skip("set JWHUB_REAL_JOBWRAPPER to a jobwrapper the test users can run")
    from jobwrapper.hub.localpool import netns
    from jobwrapper.hub.localpool.admin import init_pool
    from jobwrapper.hub.localpool.config import PoolLayout

    state_dir = Path(tempfile.mkdtemp(prefix="jwhub-real-"))
    bin_dir = str(Path(REAL).parent)
    hub = new_hub(state_dir, hub_pool, job_executable=REAL,
                  spawner={"environment": {"PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin"}})
    isolated = netns.available()
    init_pool(PoolLayout(hub_pool.parent / "pool"), {
        "netns": str(isolated).lower(),
        "outbound_ports": str(hub.settings["hub_port"]) if isolated else "",
    })
    hub.start()
    hub.ensure_user(ALICE)
    yield hub
    hub.ensure_stopped(ALICE)
    hub.stop()
    shutil.rmtree(state_dir, ignore_errors=True)


def test_real_server_answers_keeps_no_token_in_its_files_and_stops(real_hub):
    messages = real_hub.spawn(ALICE)
    assert messages[-1].startswith("Server ready"), messages
    token = server_token(ALICE)
    reply = real_hub.get_through_proxy(ALICE, real_hub.user_token(ALICE))
    assert reply.status_code == 200 and "last_activity" in reply.json()
    real_hub.stop_server(ALICE)
    assert files_containing(token, home(ALICE), *real_hub.log_files) == []
