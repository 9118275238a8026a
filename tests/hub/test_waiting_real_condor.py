"""The wait explanation against a real HTCondor (opt-in: JWHUB_REAL_CONDOR=/opt/htcondor,
root, a personal pool running): a job asking for 4 GPUs is submitted as a test user,
the spawner's own commands (condor_q -better-analyze, condor_status -af) run as the
hub's user, and the sentence the user would read is checked. The job is removed."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from jobwrapper.hub.site.poolstatus import DEFAULT_STATUS_CMD

from .harness import REAL_CONDOR, needs_real_condor, real_condor_env
from .test_spawner_unit import make_spawner

CONDOR = REAL_CONDOR
pytestmark = [pytest.mark.root, needs_real_condor]
USER = "jwtest-bob"


def test_a_real_pool_explains_a_job_that_asks_for_4_gpus(hub_users, monkeypatch):
    env = real_condor_env()
    monkeypatch.setenv("CONDOR_CONFIG", env["CONDOR_CONFIG"])
    monkeypatch.setenv("PATH", env["PATH"])
    home = Path(f"/home/{USER}")
    submitted = subprocess.run(
        ["runuser", "-u", USER, "--", f"{CONDOR}/bin/condor_submit"], cwd=home, env=env,
        input="executable = /bin/sleep\narguments = 300\nrequest_gpus = 4\n"
              "request_memory = 100\nqueue\n",
        capture_output=True, text=True, check=True)
    job_id = submitted.stdout.strip().rsplit(" ", 1)[1].rstrip(".")
    try:
        spawner = make_spawner(wait_analysis_cmd="condor_q -better-analyze {job_id}",
                               pool_status_cmd=DEFAULT_STATUS_CMD)
        spawner.job_id = job_id

        async def ask() -> tuple[str, object]:
            return await spawner.wait_reason(), await spawner.pool_free()

        said, free = asyncio.run(ask())
        assert free is not None and free.slots, "condor_status -af gave no slot"
        assert said.startswith(f"Job {job_id} cannot start: no slot in the pool has 4 GPUs "
                               "(the most one slot has is 0 GPUs). Stop it and choose less."), said
    finally:
        subprocess.run([f"{CONDOR}/bin/condor_rm", job_id], env=env, capture_output=True,
                       check=False)
