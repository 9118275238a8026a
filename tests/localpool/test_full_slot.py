"""Idle jobs behind a full slot: they claim again when a job leaves the slot (or its
shadow dies), not ten times a second (60 of them took a whole CPU, slots.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable

from .helpers import Pool, sleeper, wakeups


def _full_pool(make_pool: Callable[..., Pool]) -> tuple[Pool, int, int]:
    """A pool of 1 CPU with a running job and an idle one behind it."""
    pool = make_pool(slot_cpus=1)
    submit_dir = pool.root / "submit"
    submit_dir.mkdir()
    running = pool.submit(sleeper(61.5), submit_dir)
    pool.wait_status(running, "2")
    idle = pool.submit(sleeper(60), submit_dir)
    pool.wait_status(idle, "1")
    return pool, running, idle


def _shadow(pool: Pool, cluster: int) -> int:
    return json.loads((pool.layout.record(cluster) / "shadow.json").read_text())["pid"]


def test_an_idle_job_behind_a_full_slot_wakes_at_most_a_few_times_a_second(
        make_pool: Callable[..., Pool]):
    pool, _, idle = _full_pool(make_pool)
    time.sleep(1)  # its first claims did not fit
    shadow = _shadow(pool, idle)
    before = wakeups(shadow)
    time.sleep(3)
    # a look every 0.5 s: about 6 in 3 s (claiming every 0.1 s: 30 and more)
    assert wakeups(shadow) - before <= 12
    assert pool.status(idle) == "1"


def test_an_idle_job_starts_when_the_shadow_of_the_running_job_dies(
        make_pool: Callable[..., Pool]):
    pool, running, idle = _full_pool(make_pool)
    time.sleep(1)
    os.kill(_shadow(pool, running), signal.SIGKILL)  # no release is written
    subprocess.run(["pkill", "-f", "time.sleep(61.5)"], check=False)
    pool.wait_status(idle, "2", timeout=10)
