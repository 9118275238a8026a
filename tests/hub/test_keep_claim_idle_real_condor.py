"""Kept claims against a real HTCondor (opt-in: JWHUB_REAL_CONDOR=/opt/htcondor, root,
a personal pool running): with the line the spawner writes for keep_claim_idle, the
owner's next job of the same size starts in the slot the removed one left, without a
negotiation cycle (docs/hub.md, "How long a spawn takes"; the local pool's
counterpart is tests/localpool/test_keep_claim_idle.py)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from .harness import REAL_CONDOR, needs_real_condor, real_condor_env
from .test_spawner_unit import make_spawner

CONDOR = REAL_CONDOR
pytestmark = [pytest.mark.root, needs_real_condor]
USER = "jwtest-bob"


def _condor(*argv: str, user: str | None = None, stdin: str | None = None) -> str:
    prefix = ["runuser", "-u", user, "--"] if user else []
    return subprocess.run([*prefix, f"{CONDOR}/bin/{argv[0]}", *argv[1:]], input=stdin,
                          cwd=Path(f"/home/{USER}"), env=real_condor_env(),
                          capture_output=True, text=True, check=True, timeout=60).stdout


def _running_on(job_id: str, timeout: float) -> str:
    """The job's RemoteHost once it runs; '' if it did not within `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = _condor("condor_q", job_id, "-af", "JobStatus", "RemoteHost")
        status, _, host = answer.partition(" ")
        if status == "2":
            return host.strip()
        time.sleep(0.25)
    return ""


def test_the_next_job_of_the_owner_starts_in_the_kept_slot_at_once(hub_users):
    lines = make_spawner(keep_claim_idle=60).site_submit_lines()
    description = ("executable = /bin/sleep\narguments = 300\nrequest_cpus = 1\n"
                   "request_memory = 256\n" + "\n".join(lines) + "\nqueue\n")
    jobs = []
    try:
        jobs.append(_condor("condor_submit", "-terse", user=USER, stdin=description).split(".")[0])
        first_slot = _running_on(jobs[0], 120)  # through a negotiation cycle
        assert first_slot
        _condor("condor_rm", jobs[0], user=USER)
        time.sleep(3)  # the shadow exits, the claim goes Claimed/Idle
        jobs.append(_condor("condor_submit", "-terse", user=USER, stdin=description).split(".")[0])
        # a negotiation cycle is at least NEGOTIATOR_CYCLE_DELAY (20 s) after the last
        assert _running_on(jobs[1], 3) == first_slot
    finally:
        for job_id in jobs:
            subprocess.run([f"{CONDOR}/bin/condor_rm", job_id], env=real_condor_env(),
                           capture_output=True, check=False)
