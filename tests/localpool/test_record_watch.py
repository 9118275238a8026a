"""RecordWatch: the emulated condor_ssh_to_job's look whether its job still runs,
parsed again only when the job's files changed (a thousand tunnels looking four times a
second took 0.6 CPUs parsing ads)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from jobwrapper.localpool import records
from jobwrapper.localpool.config import PoolLayout
from jobwrapper.localpool.records import (
    RecordWatch,
    ShadowInfo,
    create_record,
    process_start_time,
    write_ad,
    write_shadow,
)


@pytest.fixture
def job(tmp_path: Path) -> tuple[PoolLayout, Path]:
    layout = PoolLayout(tmp_path / "pool")
    layout.ensure()
    record = create_record(layout, 7)
    write_ad(record, {"ClusterId": 7, "JobStatus": 2})
    write_shadow(record, ShadowInfo(pid=os.getpid(), pid_start=process_start_time(os.getpid())))
    return layout, record


def test_an_unchanged_record_is_not_parsed_again(job, monkeypatch):
    layout, _ = job
    watch = RecordWatch(layout, 7)
    assert watch.current().status == 2
    parses = []
    original = records.load_record
    monkeypatch.setattr(records, "load_record", lambda *a: parses.append(1) or original(*a))
    for _ in range(5):
        assert watch.current().status == 2
    assert parses == []


def test_a_new_status_is_seen_at_the_next_look(job):
    layout, record = job
    watch = RecordWatch(layout, 7)
    assert watch.current().status == 2
    write_ad(record, {"ClusterId": 7, "JobStatus": 3})
    assert watch.current().status == 3


def test_a_dead_shadow_ends_the_job_without_a_file_change(job):
    layout, record = job
    watch = RecordWatch(layout, 7)
    assert watch.current() is not None
    sleeper = subprocess.Popen(["sleep", "30"])
    write_shadow(record, ShadowInfo(pid=sleeper.pid, pid_start=process_start_time(sleeper.pid)))
    assert watch.current() is not None
    stat = os.stat(record / "shadow.json")
    sleeper.kill()
    sleeper.wait()
    assert os.stat(record / "shadow.json") == stat  # no file changed
    assert watch.current() is None


def test_a_removed_record_is_gone(job):
    layout, record = job
    watch = RecordWatch(layout, 7)
    assert watch.current() is not None
    os.replace(record, layout.history / "7")
    assert watch.current() is None
