"""The shadow of a running job sleeps until there is something to look at: its job's
exit wakes it (SIGCHLD), not a poll; with a thousand running jobs on one machine the
polling shadows took a CPU (bench/README.md, 1,000 users)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from .helpers import Pool, sleeper, wakeups


def test_the_shadow_of_a_running_job_wakes_at_most_a_few_times_a_second(
        make_pool: Callable[..., Pool]):
    # the default policy interval (1 s), not the tests' FAST one (0.1 s)
    pool = make_pool(periodic_interval=1.0, memory_poll_interval=5.0)
    submit_dir = pool.root / "submit"
    submit_dir.mkdir()
    cluster = pool.submit(sleeper(60), submit_dir)
    pool.wait_status(cluster, "2")
    shadow = json.loads((pool.layout.record(cluster) / "shadow.json").read_text())["pid"]
    before = wakeups(shadow)
    time.sleep(3)
    # it looks at condor_qedit's edits twice a second and at its policies once: about
    # 9 in 3 s (polling for the job's exit every 50 ms: 60 and more)
    assert wakeups(shadow) - before <= 20
