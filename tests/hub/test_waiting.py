"""Why a job waits and what the pool has free: the parsers against HTCondor 25.0.13's
own outputs (tests/hub/expected/waiting/, recorded on a personal pool with one
partitionable slot of 2 CPUs), the one cached condor_status, the explanation loop,
and the site's ready command (argv and environment, never a shell)."""

from __future__ import annotations

import asyncio
import json
import stat
import sys
from pathlib import Path

import pytest

from jobwrapper.hub.form import ResourceForm, render_form
from jobwrapper.hub.site.poolstatus import PoolFree, PoolStatus, parse_status, summary
from jobwrapper.hub.site.readynotice import PENDING_TEMPLATES, use_ready_notice
from jobwrapper.hub.site.waiting import explain, parse_analysis, sooner

from .test_spawner_unit import make_spawner

EXPECTED = Path(__file__).resolve().parent / "expected" / "waiting"


def recorded(name: str) -> str:
    return (EXPECTED / name).read_text()


REAL_POOL = PoolFree(parse_status(recorded("status_af.txt")), 0.0)
# A bigger pool: 12 slots with 2 free GPUs, 2 with 8 free CPUs and none.
BIG_POOL = PoolFree(parse_status(
    "".join(f"slot1@gpu{n} Partitionable Unclaimed 4 32000 2 16 128000 4\n" for n in range(12))
    + "slot1@cpu0 Partitionable Unclaimed 8 64000 0 32 256000 0\n"
    + "slot1@cpu1 Partitionable Unclaimed 8 64000 undefined 32 256000 undefined\n"
    + "slot1_1@gpu0 Dynamic Claimed 12 96000 2 12 96000 2\n"
    + "slot2@old Static Claimed 1 2048 0 1 2048 0\n"), 0.0)


def test_condor_status_af_of_a_partitionable_slot_with_a_job_in_it():
    pslot, dslot = REAL_POOL.slots
    assert (pslot.slot_type, pslot.cpus, pslot.memory, pslot.total_cpus) == (
        "Partitionable", 0, 23977, 2)
    assert not pslot.free and not dslot.free  # no CPU left; a dynamic slot is in use
    assert REAL_POOL.count() == 0 and REAL_POOL.count_ever(cpus=2) == 1
    assert summary(REAL_POOL) == "No slot is free now: a new notebook waits until one is."


def test_undefined_gpus_are_none_and_static_claimed_slots_are_not_free():
    assert BIG_POOL.count(gpus=1) == 12 and BIG_POOL.count(cpus=8) == 2
    assert BIG_POOL.largest("gpus") == 2 and BIG_POOL.largest("gpus", now=False) == 4
    assert summary(BIG_POOL) == ("14 slots free now; at most 8 CPUs, 62.5 GB memory, "
                                 "2 GPUs in one.")


def test_a_job_asking_for_more_memory_than_any_slot_has():
    analysis = parse_analysis(recorded("analyze_memory_10tb.txt"))
    assert (analysis.slots, analysis.machines, analysis.rejected_by_job) == (1, 1, 1)
    assert analysis.never and analysis.if_drained is None
    assert analysis.request("memory") == 10485760 and analysis.request("cpus") == 1
    assert analysis.last_failure == "no match found" and not analysis.matched_before
    assert explain("147", analysis, REAL_POOL) == (
        "Job 147 cannot start: no slot in the pool has 10 TB memory (the most one slot has "
        "is 23.5 GB memory). Stop it and choose less.")


def test_four_gpus_in_a_pool_without_any_and_what_would_start_sooner():
    analysis = parse_analysis(recorded("analyze_gpus_4.txt"))
    assert analysis.never and [row.resource for row in analysis.failing(True)] == ["gpus"]
    assert analysis.request("gpus") == 4
    assert explain("148", analysis, None) == (
        "Job 148 cannot start: no slot in the pool has 4 GPUs. Stop it and choose less.")
    assert sooner(analysis, BIG_POOL) == (
        "No slot with 4 GPUs is free now; 12 slots could run it now with 2 GPUs.")


def test_a_job_that_waits_for_a_busy_slot():
    analysis = parse_analysis(recorded("analyze_busy.txt"))
    assert (analysis.willing, analysis.if_drained, analysis.never) == (0, 1, False)
    assert [row.if_drained for row in analysis.conditions] == [1, 1, 1, 1, 1]
    assert explain("152", analysis, REAL_POOL) == (
        "Job 152 waits for a free slot: the 1 slot that could run it is busy now.")


def test_a_running_job_says_nothing():
    analysis = parse_analysis(recorded("analyze_running.txt"))
    assert analysis.state == "Job is running." and analysis.matched_before
    assert explain("151", analysis, REAL_POOL) == ""


def test_slots_that_match_and_are_willing():
    text = recorded("analyze_busy.txt").replace(
        "0 slots match and are willing", "3 slots match and are willing")
    assert "3 slots could run it" in explain("9", parse_analysis(text))


def test_unknown_output_says_nothing():
    assert explain("9", parse_analysis("")) == ""
    assert explain("9", parse_analysis("condor_q: error: something\n")) == ""


def test_job_ad_match_attributes_as_recorded():
    # condor_q -af:j JobStatus NumJobMatches LastMatchTime LastRejMatchReason ... (25.0.13)
    lines = recorded("q_af_match_attrs.txt").splitlines()
    assert lines[0].split()[:5] == ["147.0", "1", "undefined", "undefined", "no"]
    assert lines[2].split()[:4] == ["151.0", "2", "1", "1796273752"]


def test_one_condor_status_for_many_callers_and_a_cache():
    calls = []
    clock = [100.0]

    async def run() -> str:
        calls.append(1)
        await asyncio.sleep(0.05)
        return recorded("status_af.txt")

    status = PoolStatus(run, max_age=30.0, clock=lambda: clock[0])

    async def scenario():
        first = await asyncio.gather(*(status.get() for _ in range(50)))
        clock[0] += 10
        second = await status.get()
        clock[0] += 30
        third = await status.get()
        return first, second, third

    first, second, third = asyncio.run(scenario())
    assert len(calls) == 2 and all(answer is first[0] for answer in first)
    assert second is first[0] and third is not first[0]


def test_a_failed_condor_status_keeps_the_last_answer():
    answers = [recorded("status_af.txt")]

    async def run() -> str:
        if not answers:
            raise RuntimeError("condor_status: cannot reach the collector")
        return answers.pop()

    status = PoolStatus(run, max_age=0.0)

    async def scenario():
        return await status.get(), await status.get()

    good, after = asyncio.run(scenario())
    assert good is after and "collector" in status.failure


def test_the_form_shows_free_slots_per_choice_escaped():
    html = render_form(ResourceForm(max_cpus=8, max_gpus=2), pool=BIG_POOL)
    assert "Free in the pool (as of 00:00:00 UTC): 14 slots free now" in html
    assert '<option value="8">8 (2 free)</option>' in html
    assert "Slots with a free GPU now: 12." in html
    slots = json.loads(html.split("data-slots='", 1)[1].split("'", 1)[0])
    assert [8, 64000, 0] in slots and len(slots) == 14
    assert "jw-pool" not in render_form(ResourceForm())


def script(tmp_path: Path) -> Path:
    path = tmp_path / "notify.py"
    path.write_text(f"#!{sys.executable}\nimport json, os, sys\n"
                    f"open({str(tmp_path / 'called.json')!r}, 'w').write(json.dumps("
                    "{'argv': sys.argv[1:], 'env': {k: v for k, v in os.environ.items() "
                    "if k.startswith('JOBWRAPPER_READY_')}}))\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_the_ready_command_gets_values_as_words_and_environment(tmp_path: Path):
    spawner = make_spawner(ready_notify_cmd=[str(script(tmp_path)), "{address}", "{url}",
                                             "to: {username}"],
                           ready_notify_after=60.0,
                           ready_notify_address="{username}@example.org")
    spawner.job_id = "42"
    called = tmp_path / "called.json"

    async def scenario(waited: float) -> None:
        spawner.notify_ready(waited)
        task = getattr(spawner, "_ready_notice", None)
        if task is not None:
            await task

    asyncio.run(scenario(10.0))
    assert not called.exists()  # a quick spawn: nobody waited
    spawner.user.name = "root; rm -rf /tmp/x $(id)"
    asyncio.run(scenario(75.4))
    got = json.loads(called.read_text())
    assert got["argv"] == ["root; rm -rf /tmp/x $(id)@example.org", "/user/root/",
                           "to: root; rm -rf /tmp/x $(id)"]
    assert got["env"]["JOBWRAPPER_READY_WAITED"] == "75"
    assert got["env"]["JOBWRAPPER_READY_JOB_ID"] == "42"
    assert sorted(got["env"]) == [f"JOBWRAPPER_READY_{key}" for key in (
        "ADDRESS", "JOB_ID", "SERVER", "URL", "USER", "WAITED")]


def test_the_wait_is_explained_once_per_change(tmp_path: Path):
    fake = tmp_path / "condor_q"
    fake.write_text(f"#!/bin/sh\ncat {EXPECTED / 'analyze_gpus_4.txt'}\n")
    fake.chmod(0o755)
    spawner = make_spawner(wait_analysis_cmd=f"{fake} -better-analyze {{job_id}}",
                           wait_analysis_after=0.0, wait_analysis_interval=0.0,
                           pool_status_cmd="")
    spawner.job_id = "148"
    spawner._starting = True

    async def scenario():
        spawner.watch_wait()
        await asyncio.sleep(0.5)
        spawner._starting = False  # stop() during the wait: the loop ends by itself
        await asyncio.sleep(5.5)
        return spawner._wait_watch.done()

    assert asyncio.run(scenario())
    said = [event["message"] for event in spawner._events]
    assert said == ["Job 148 cannot start: no slot in the pool has 4 GPUs. Stop it and "
                    "choose less."]


def test_use_ready_notice_keeps_the_sites_templates(tmp_path: Path):
    from traitlets.config import Config

    c = Config()
    use_ready_notice(c)
    assert c.JupyterHub.template_paths == [PENDING_TEMPLATES]
    own = tmp_path / "own"
    own.mkdir()
    (own / "spawn_pending.html").write_text("{% include 'ready_notice.html' %}")
    c = Config()
    c.JupyterHub.template_paths = [str(own)]
    use_ready_notice(c)
    assert c.JupyterHub.template_paths == [str(own), PENDING_TEMPLATES]


@pytest.mark.parametrize("name", ["spawn_pending.html", "ready_notice.html"])
def test_the_pending_templates_hold_no_server_value(name: str):
    text = (Path(PENDING_TEMPLATES) / name).read_text()
    assert "{{" not in text.replace("{{ super() }}", "")


def test_the_hub_runs_few_analyses_at_once(monkeypatch):
    from jobwrapper.hub.site import waiting

    running, most = [0], [0]

    async def fake_run(argv, env, stdin=None):
        running[0] += 1
        most[0] = max(most[0], running[0])
        await asyncio.sleep(0.05)
        running[0] -= 1
        return recorded("analyze_busy.txt")

    monkeypatch.setattr(waiting, "run_command", fake_run)
    spawners = [make_spawner(pool_status_cmd="", wait_analysis_max_concurrent=2)
                for _ in range(6)]
    for number, spawner in enumerate(spawners):
        spawner.job_id = str(100 + number)

    async def scenario():
        return await asyncio.gather(*(s.wait_reason() for s in spawners))

    said = asyncio.run(scenario())
    assert most[0] == 2
    assert said[0] == "Job 100 waits for a free slot: the 1 slot that could run it is busy now."
