"""The login message (``jobwrapper info``), line by line."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures.jobemu import make_job

from jobwrapper.config import SiteConfig
from jobwrapper.job.context import HostLimits, JobContext, read_context
from jobwrapper.job.message import format_duration, login_message
from jobwrapper.job.plan import plan

HOST = HostLimits(cores=8, memory_mb=16000)
START = 1795316543  # JobCurrentStartDate in the fixtures


def context_for(case: str, tmp_path: Path) -> JobContext:
    return read_context(make_job(tmp_path / "scratch", case), SiteConfig(), host=HOST)


def lines(case: str, tmp_path: Path, now: float = START + 3600) -> list[str]:
    return login_message(context_for(case, tmp_path), now=now).splitlines()


def test_request_line_has_the_format_users_know(tmp_path):
    assert lines("good", tmp_path)[0] == (
        "You requested 4 core(s), 4096 MB RAM, 1048576 kB disk space.")


def test_no_slot_line_when_the_slot_gives_what_was_requested(tmp_path):
    assert not any(line.startswith("The slot provides") for line in lines("good", tmp_path))


def test_slot_line_when_the_slot_gives_more_than_requested(tmp_path):
    assert lines("real-defaults", tmp_path)[:2] == [
        "You requested 1 core(s), 1 MB RAM, 1 kB disk space.",
        "The slot provides 2 core(s), 2048 MB RAM, 1049600 kB disk space.",
    ]


def test_runtime_limit_line_shows_the_end_and_time_left(tmp_path):
    assert "Runtime limit: 6 h, until 2026-11-22 09:02 UTC (5 h left)." in lines("good", tmp_path)


def test_time_left_never_goes_negative(tmp_path):
    late = lines("good", tmp_path, now=START + 10 * 3600)
    assert any(line.endswith("(0 s left).") for line in late)


def test_no_runtime_line_without_a_limit(tmp_path):
    assert not any("Runtime" in line for line in lines("real-interactive", tmp_path))


def test_gpu_line_names_request_count_and_ids(tmp_path):
    assert "You requested 1 GPU(s); the slot provides 1 GPU(s) (GPU-6a96bd13)." in lines(
        "gpus", tmp_path)


def test_no_gpu_line_without_gpus(tmp_path):
    assert not any("GPU" in line for line in lines("good", tmp_path))


def test_container_line_names_container_and_environment(tmp_path):
    assert lines("good", tmp_path)[-1] == "Container: Rocky9, environment: stable."


def test_hostile_container_name_is_not_printed(tmp_path):
    message = "\n".join(lines("container-os-hostile", tmp_path))
    assert "touch" not in message
    assert "Container:" not in message


def test_unknown_requested_amount_is_a_question_mark(tmp_path):
    assert lines("request-memory-expression", tmp_path)[:2] == [
        "You requested 4 core(s), ? MB RAM, 1048576 kB disk space.",
        "The slot provides 4 core(s), 4096 MB RAM, 1048576 kB disk space.",
    ]


def test_outside_htcondor_the_message_says_no_job_was_found():
    context = read_context({}, SiteConfig(), host=HOST)
    assert login_message(context) == (
        "No HTCondor or Slurm job found (neither _CONDOR_JOB_AD nor SLURM_JOB_ID is set); "
        "using this machine's limits: 8 core(s), 16000 MB RAM.")


def test_unreadable_job_ad_message_points_to_the_warnings(tmp_path):
    environ = {"_CONDOR_JOB_AD": str(tmp_path / "missing.ad")}
    context = read_context(environ, SiteConfig(), host=HOST)
    assert login_message(context) == (
        "No resources could be read from the job's ads (see the warnings); "
        "using this machine's limits: 8 core(s), 16000 MB RAM.")


def test_only_machine_ad_readable_says_what_the_job_has(tmp_path):
    environ = make_job(tmp_path, "good")
    (tmp_path / ".job.ad").unlink()
    context = read_context(environ, SiteConfig(), host=HOST)
    assert login_message(context) == "Your job has 4 core(s), 4096 MB RAM, 1048576 kB disk space."


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0 s"), (59, "59 s"), (90, "1 min 30 s"), (3600, "1 h"), (5400, "1 h 30 min"),
    (21600, "6 h"), (86400 + 60, "24 h 1 min"),
])
def test_durations_read_like_people_write_them(seconds, text):
    assert format_duration(seconds) == text


def test_cached_login_message_leaves_out_the_time_left(tmp_path):
    # Login shells print the cached copy for the whole job: a "time left" would go stale.
    context = context_for("good", tmp_path)
    cached = plan(context, uid=1000).message
    assert "Runtime limit: 6 h, until 2026-11-22 09:02 UTC." in cached
    assert "left)" not in cached
