"""A real JupyterHub on a small local pool (2 CPUs, 4 GB): the spawn page says why a
job waits, from condor_q -better-analyze, with what would start sooner; a job that can
never start says so; the site's ready command runs, as the hub's user, for a spawn that
waited (docs/hub.md, "Why a notebook waits")."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jobwrapper.hub.site.poolstatus import STATUS_ATTRIBUTES

from .harness import ALICE, BOB, Hub, local_pool, serving, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.root]

NOTIFY = """\
import json, os, sys
with open(sys.argv[1], "a") as handle:
    handle.write(json.dumps({"argv": sys.argv[2:], "uid": os.getuid(),
        "env": {k: v for k, v in os.environ.items() if k.startswith("JOBWRAPPER_READY_")}})
        + "\\n")
"""


@pytest.fixture(scope="module")
def small_pool(hub_users: tuple[str, str]) -> Iterator[Path]:
    """A pool of its own with one slot of 2 CPUs and 4 GB: easy to fill."""
    with local_pool("jwhub-waitpool-", slot_cpus="2", slot_memory="4096") as pool_bin:
        yield pool_bin


@pytest.fixture(scope="module")
def wait_hub(small_pool: Path, hub_users: tuple[str, str]) -> Iterator[Hub]:
    state_dir = Path(tempfile.mkdtemp(prefix="jwhub-wait-notify-"))
    script = state_dir / "notify.py"
    script.write_text(NOTIFY)
    b = str(small_pool)
    with serving("jwhub-wait-", small_pool, hub_users, spawner={
        "wait_analysis_cmd": b + "/condor_q -better-analyze {job_id}",
        "wait_analysis_after": 0.5,
        "wait_analysis_interval": 5.0,
        "pool_status_cmd": b + "/condor_status -af " + " ".join(STATUS_ATTRIBUTES),
        "pool_status_max_age": 1.0,
        "ready_notify_cmd": [sys.executable, str(script), str(state_dir / "ready.jsonl"),
                             "{address}", "{url}", "{job_id}"],
        "ready_notify_after": 2.0,
        "ready_notify_address": "{username}@example.org",
        "start_timeout": 120,
    }) as running:
        running.notify_dir = state_dir
        yield running
    shutil.rmtree(state_dir, ignore_errors=True)


def follow(hub: Hub, name: str, options: dict, until: Callable[[str], bool],
           timeout: float = 90) -> list[str]:
    """POST the spawn, read its progress until a message satisfies `until` (or the
    spawn is ready or failed); the messages so far."""
    reply = hub.api("POST", f"/users/{name}/server", json=options)
    assert reply.status_code in (201, 202), reply.text
    messages: list[str] = []
    with hub.api("GET", f"/users/{name}/server/progress", stream=True,
                 timeout=timeout) as stream:
        for line in stream.iter_lines(decode_unicode=True):
            if not line.startswith("data:"):
                continue
            event = json.loads(line[5:])
            messages.append(event.get("message", "") or "")
            if until(messages[-1]) or event.get("ready") or event.get("failed"):
                break
    return messages


def test_a_job_that_can_never_start_says_so(wait_hub: Hub):
    messages = follow(wait_hub, ALICE, {"gpus": 4, "memory_mb": 1024},
                      lambda text: "cannot start" in text)
    said = messages[-1]
    assert "is idle in the queue, waiting for a free slot." in " ".join(messages)
    assert said.startswith("Job ") and said.endswith(
        "cannot start: no slot in the pool has 4 GPUs (the most one slot has is 0 GPUs). "
        "Stop it and choose less. No slot with 4 GPUs is free now; 1 slot could run it "
        "now without GPUs."), messages
    wait_hub.stop_server(ALICE)


def test_a_waiting_job_says_why_and_its_start_runs_the_sites_ready_command(wait_hub: Hub):
    ready_file = wait_hub.notify_dir / "ready.jsonl"
    assert wait_hub.spawn(BOB, {"cpus": 2, "memory_mb": 1024})[-1].startswith("Server ready")
    assert not ready_file.exists()  # BOB did not wait: no command
    messages: list[str] = []

    def alice() -> None:
        messages.extend(follow(wait_hub, ALICE, {"cpus": 1, "memory_mb": 1024},
                               lambda text: False, timeout=120))

    thread = threading.Thread(target=alice)
    thread.start()
    wait_for(lambda: any("waits for a free slot" in m for m in messages)
             or "waits for a free slot" in wait_hub.log_text(), 40, "the wait's reason")
    wait_hub.stop_server(BOB)
    thread.join(120)
    why = [m for m in messages if "waits for a free slot" in m]
    assert why and why[0].endswith(
        "waits for a free slot: the 1 slot that could run it is busy now (none has 1 CPU "
        "free)."), messages
    assert messages[-1].startswith("Server ready"), messages
    wait_for(ready_file.exists, 20, "the ready command")
    (record,) = [json.loads(line) for line in ready_file.read_text().splitlines()]
    job_id = wait_hub.state(ALICE)["job_id"]
    assert record["argv"] == [f"{ALICE}@example.org", f"/user/{ALICE}/", job_id]
    assert record["uid"] == os.getuid()  # the hub's user
    assert record["env"]["JOBWRAPPER_READY_USER"] == ALICE
    assert int(record["env"]["JOBWRAPPER_READY_WAITED"]) >= 2
    wait_hub.stop_server(ALICE)


def test_a_start_that_runs_out_of_time_says_where_it_was(small_pool: Path,
                                                          hub_users: tuple[str, str]):
    # JupyterHub's own timeout has no text: the page said only "Spawn failed: "
    with serving("jwhub-timeout-", small_pool, hub_users,
                 spawner={"start_timeout": 6}) as hub:
        messages = follow(hub, BOB, {"gpus": 4, "memory_mb": 1024}, lambda text: False,
                          timeout=60)
        assert messages[-1].startswith(
            "Spawn failed: The notebook did not start within 6 s (the hub's "
            "Spawner.start_timeout). Its last step: Job "), messages
        assert "is idle in the queue" in messages[-1], messages
        wait_for(lambda: hub.server(BOB) is None, 30, "the failed server to be gone")
        job_id = messages[-1].split("Its last step: Job ", 1)[1].split()[0]
        wait_for(lambda: subprocess.run([str(small_pool / "condor_q"), job_id, "-af",
                                         "JobStatus"], capture_output=True, text=True,
                                        check=True).stdout.strip() == "", 30,
                 "the job to be removed")
