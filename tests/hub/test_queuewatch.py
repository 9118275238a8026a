"""The queue watcher: one condor_q answers many spawners (jobwrapper/hub/queuewatch.py)."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest
from batchspawner import JobStatus

from jobwrapper.hub.jobcontrol import BatchCommandError
from jobwrapper.hub.queuewatch import QueueWatcher, parse_status_lines

from .test_spawner_unit import make_spawner


class FakeQueue:
    """A run_query stand-in: records each call's ids, answers from `jobs`."""

    def __init__(self, jobs: dict[str, str], delay: float = 0.0) -> None:
        self.jobs, self.delay, self.calls = jobs, delay, []

    async def __call__(self, job_ids: list[str]) -> str:
        self.calls.append(list(job_ids))
        answer = "".join(f"{i}.0 {self.jobs[i]}\n" for i in job_ids if i in self.jobs)
        await asyncio.sleep(self.delay)
        return answer


def test_af_j_lines_become_batchspawners_status_text():
    output = "101.0 2 slot1_3@node7\n102.0 1 undefined\n"
    assert parse_status_lines(output) == {"101": "2, slot1_3@node7", "102": "1, "}


def test_the_status_text_matches_the_spawners_running_and_host_patterns():
    spawner = make_spawner()
    spawner.job_status = parse_status_lines("7.0 2 slot1@node7.example.org\n")["7"]
    assert spawner.state_isrunning()
    assert spawner.state_gethost() == "node7.example.org"


def test_requests_that_arrive_together_share_one_query():
    queue = FakeQueue({str(n): "2 slot1@n" for n in range(50)})
    watcher = QueueWatcher(queue, min_interval=0.0)

    async def scenario():
        return await asyncio.gather(*(watcher.status(str(n)) for n in range(50)))

    assert asyncio.run(scenario()) == ["2, slot1@n"] * 50
    assert len(queue.calls) == 1 and len(queue.calls[0]) == 50


def test_a_job_missing_from_the_answer_has_left_the_queue():
    watcher = QueueWatcher(FakeQueue({"1": "2 slot1@n"}), min_interval=0.0)
    assert asyncio.run(watcher.status("2")) == ""


def test_a_request_made_during_a_query_waits_for_a_fresh_one():
    queue = FakeQueue({"1": "1 undefined"}, delay=0.05)
    watcher = QueueWatcher(queue, min_interval=0.0)

    async def scenario():
        first = asyncio.ensure_future(watcher.status("1"))
        await asyncio.sleep(0.02)  # the first query is running now
        queue.jobs["1"] = "2 slot1@n"
        second = asyncio.ensure_future(watcher.status("1"))
        return await first, await second

    assert asyncio.run(scenario()) == ("1, ", "2, slot1@n")
    assert len(queue.calls) == 2


def test_queries_are_at_least_min_interval_apart():
    queue = FakeQueue({"1": "2 slot1@n"})
    watcher = QueueWatcher(queue, min_interval=0.3)

    async def scenario():
        loop = asyncio.get_running_loop()
        await watcher.status("1")
        started = loop.time()
        await watcher.status("1")
        return loop.time() - started

    assert asyncio.run(scenario()) >= 0.29


def test_a_failed_query_reaches_every_caller():
    async def failing(job_ids):
        raise BatchCommandError("condor_q", 1, "Failed to connect to schedd")

    watcher = QueueWatcher(failing, min_interval=0.0)

    async def scenario():
        return await asyncio.gather(watcher.status("1"), watcher.status("2"),
                                    return_exceptions=True)

    assert [type(r) for r in asyncio.run(scenario())] == [BatchCommandError] * 2


def test_a_caller_that_gave_up_does_not_break_the_others():
    queue = FakeQueue({"1": "2 slot1@n", "2": "1 undefined"}, delay=0.05)
    watcher = QueueWatcher(queue, min_interval=0.0)

    async def scenario():
        impatient = asyncio.ensure_future(watcher.status("1"))
        patient = asyncio.ensure_future(watcher.status("2"))
        await asyncio.sleep(0.01)
        impatient.cancel()
        return await patient

    assert asyncio.run(scenario()) == "1, "


@pytest.fixture
def fake_condor_q(tmp_path: Path) -> tuple[Path, Path]:
    """An executable condor_q that logs its argv and says every job runs on node7."""
    log = tmp_path / "calls"
    script = tmp_path / "condor_q"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {log}\n'
        'for id in "$@"; do case "$id" in -*) break;; esac; echo "$id.0 2 slot1@node7"; done\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, log


def test_spawners_of_one_hub_share_the_query_and_each_id_is_one_word(fake_condor_q):
    script, log = fake_condor_q
    spawners = [make_spawner(batch_query_all_cmd=f"{script} {{job_ids}} -af:j JobStatus "
                             "RemoteHost", batch_query_min_interval=0.0) for _ in range(3)]
    for number, spawner in enumerate(spawners, start=11):
        spawner.job_id = str(number)

    async def scenario():
        return await asyncio.gather(*(s.query_job_status() for s in spawners))

    assert asyncio.run(scenario()) == [JobStatus.RUNNING] * 3
    assert log.read_text() == "11 12 13 -af:j JobStatus RemoteHost\n"
    assert [s.state_gethost() for s in spawners] == ["node7"] * 3


def test_an_empty_query_all_command_queries_per_spawner_as_before(tmp_path: Path):
    log = tmp_path / "calls"
    script = tmp_path / "condor_q"
    script.write_text(f'#!/bin/sh\necho "$*" >> {log}\necho "2, slot1@node7"\n')
    script.chmod(0o755)
    spawner = make_spawner(batch_query_all_cmd="", exec_prefix="",
                           batch_query_cmd=f"{script} {{job_id}} -format x")
    spawner.job_id = "21"
    assert asyncio.run(spawner.query_job_status()) == JobStatus.RUNNING
    assert log.read_text() == "21 -format x\n"


def test_a_query_command_that_cannot_run_counts_as_unknown(tmp_path: Path):
    spawner = make_spawner(batch_query_all_cmd=f"{tmp_path}/missing {{job_ids}}",
                           batch_query_min_interval=0.0)
    spawner.job_id = "31"
    assert asyncio.run(spawner.query_job_status()) == JobStatus.UNKNOWN
    assert not os.path.exists(tmp_path / "missing")


def test_an_unknown_field_in_the_query_command_is_one_warning_naming_the_setting(caplog):
    spawner = make_spawner(batch_query_all_cmd="condor_q {username} {job_ids}",
                           batch_query_min_interval=0.0)
    spawner.job_id = "41"
    with caplog.at_level("WARNING"):
        assert asyncio.run(spawner.query_job_status()) == JobStatus.UNKNOWN
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "\n" not in warnings[0]
    assert "batch_query_all_cmd" in warnings[0] and "'username'" in warnings[0]
    assert "Traceback" not in caplog.text
