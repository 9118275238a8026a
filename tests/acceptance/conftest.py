"""The site acceptance suite's target: a real HTCondor pool, or the local pool in CI.

Set these (scripts/acceptance does) to run against a real pool; without
JOBWRAPPER_ACCEPT_BIN the same scenarios run against the emulated local pool:

  JOBWRAPPER_ACCEPT_BIN            dir with condor_submit, condor_q, condor_rm,
                                   condor_ssh_to_job (e.g. /usr/bin)
  JOBWRAPPER_ACCEPT_CONDOR_CONFIG  CONDOR_CONFIG for them (optional)
  JOBWRAPPER_ACCEPT_USER           the user whose notebook is spawned (jwtest-alice)
  JOBWRAPPER_ACCEPT_OTHER_USER     a second user, who must see nothing secret (jwtest-bob)
  JOBWRAPPER_ACCEPT_JOBWRAPPER     `jobwrapper` as the execute nodes run it
  JOBWRAPPER_ACCEPT_MODE           tcp or socket (default tcp)
  JOBWRAPPER_ACCEPT_TIMEOUT        seconds a spawn may take (default 180)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hub.conftest import hub_pool, hub_users  # noqa: F401 - fixtures for the local pool
from hub.harness import Hub, isolate_jobs, new_hub


@dataclass
class Site:
    """The hub under test and what it runs against."""

    hub: Hub
    user: str
    other_user: str
    bin_dir: str
    real_pool: bool
    timeout: float

    def condor(self, tool: str, *args: str, as_user: str | None = None
               ) -> subprocess.CompletedProcess:
        """Run a condor_* command (as `as_user`, else as root) with the target's config."""
        prefix = ["runuser", "-u", as_user, "--"] if as_user else []
        env = {**os.environ, **self.hub.settings.get("hub_env", {})}
        return subprocess.run([*prefix, f"{self.bin_dir}/{tool}", *args], capture_output=True,
                              text=True, timeout=60, env=env, check=False)


def _jobwrapper_for(user: str) -> str:
    candidate = os.environ.get("JOBWRAPPER_ACCEPT_JOBWRAPPER") or str(
        Path(sys.executable).parent / "jobwrapper")
    probe = subprocess.run(["runuser", "-u", user, "--", candidate, "--version"],
                           capture_output=True, timeout=60, check=False)
    if probe.returncode != 0:
        pytest.skip(f"{user} cannot run {candidate}: set JOBWRAPPER_ACCEPT_JOBWRAPPER")
    return candidate


@pytest.fixture(scope="session")
def site(request) -> Site:
    if os.getuid() != 0:
        pytest.skip("the acceptance suite runs the hub as root, like a site's hub")
    real_bin = os.environ.get("JOBWRAPPER_ACCEPT_BIN", "")
    user = os.environ.get("JOBWRAPPER_ACCEPT_USER", "")
    other = os.environ.get("JOBWRAPPER_ACCEPT_OTHER_USER", "")
    if real_bin:
        bin_dir = real_bin
        hub_env = {}
        if os.environ.get("JOBWRAPPER_ACCEPT_CONDOR_CONFIG"):
            hub_env["CONDOR_CONFIG"] = os.environ["JOBWRAPPER_ACCEPT_CONDOR_CONFIG"]
    else:
        users = request.getfixturevalue("hub_users")
        bin_dir = str(request.getfixturevalue("hub_pool"))
        user, other = user or users[0], other or users[1]
        hub_env = {}
    user, other = user or "jwtest-alice", other or "jwtest-bob"
    executable = _jobwrapper_for(user)
    state_dir = Path(tempfile.mkdtemp(prefix="jwaccept-"))
    socket_dir = tempfile.mkdtemp(prefix="jwaccept-sock-")
    os.chmod(socket_dir, 0o711)
    bin_path = str(Path(executable).parent)
    hub = new_hub(state_dir, Path(bin_dir), job_executable=executable, hub_env=hub_env,
                  poll_interval=2,
                  spawner={"environment": {"PATH": f"{bin_path}:/usr/local/bin:/usr/bin:/bin"},
                           "server_mode": os.environ.get("JOBWRAPPER_ACCEPT_MODE", "tcp"),
                           "socket_dir": socket_dir,
                           "start_timeout": 300, "http_timeout": 300,
                           "connect_to_job_ready_timeout": 120})
    if not real_bin:
        isolate_jobs(hub, Path(bin_dir))
    hub.start()
    for name in (user, other):
        hub.ensure_user(name)
    yield Site(hub, user, other, bin_dir, bool(real_bin),
               float(os.environ.get("JOBWRAPPER_ACCEPT_TIMEOUT", "180")))
    for name in (user, other):
        if hub.process is not None and hub.server(name) is not None:
            hub.api("DELETE", f"/users/{name}/server")
    hub.stop()
    shutil.rmtree(state_dir, ignore_errors=True)
    shutil.rmtree(socket_dir, ignore_errors=True)
