"""condor_status -af and condor_q -better-analyze of the local pool, read by the hub's
parsers (jobwrapper/hub/site/poolstatus.py, waiting.py) like HTCondor 25's own
(tests/hub/expected/waiting/)."""

from __future__ import annotations

from pathlib import Path

from jobwrapper.hub.site.poolstatus import DEFAULT_STATUS_CMD, PoolFree, parse_status
from jobwrapper.hub.site.waiting import explain, parse_analysis

from .helpers import Pool, sleeper

STATUS_ARGS = DEFAULT_STATUS_CMD.split()[1:]


def free(pool: Pool) -> PoolFree:
    result = pool.run("condor_status", *STATUS_ARGS)
    assert result.returncode == 0, result.stderr
    return PoolFree(parse_status(result.stdout), 0.0)


def analysis(pool: Pool, cluster: int) -> str:
    result = pool.run("condor_q", "-better-analyze", str(cluster))
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_condor_status_af_shows_the_partitionable_slot_like_htcondor(make_pool):
    pool = make_pool(slot_cpus=4, slot_memory=8192)
    result = pool.run("condor_status", *STATUS_ARGS)
    (line,) = result.stdout.splitlines()
    name, *rest = line.split()
    assert name.startswith("slot1@")
    assert rest == ["Partitionable", "Unclaimed", "4", "8192", "0", "4", "8192", "0"]


def test_a_running_job_takes_a_dynamic_slot_out_of_the_free_resources(
        make_pool, submit_dir: Path):
    pool = make_pool(slot_cpus=4, slot_memory=8192)
    cluster = pool.submit(sleeper(60, "request_cpus = 3\nrequest_memory = 1000"), submit_dir)
    pool.wait_status(cluster, "2")
    lines = pool.run("condor_status", *STATUS_ARGS).stdout.splitlines()
    assert lines[0].split()[1:6] == ["Partitionable", "Unclaimed", "1", "7168", "0"]
    assert lines[1].split()[1:5] == ["Dynamic", "Claimed", "3", "1024"]
    pool_free = free(pool)
    assert pool_free.count(cpus=1) == 1 and pool_free.count(cpus=2) == 0


def test_a_job_larger_than_the_slot_is_rejected_by_its_requirements(
        make_pool, submit_dir: Path):
    pool = make_pool(slot_cpus=2, slot_memory=4096)
    cluster = pool.submit(sleeper(60, "request_memory = 10 TB"), submit_dir)
    text = analysis(pool, cluster)
    assert "Run analysis summary ignoring user priority.  Of 1 slots on 1 machines," in text
    assert "      1 slots are rejected by your job's requirements" in text
    assert "Reason for last match failure: no match found" in text
    parsed = parse_analysis(text)
    assert parsed.never and [row.resource for row in parsed.failing(True)] == ["memory"]
    said = explain(str(cluster), parsed, free(pool))
    assert said.startswith(f"Job {cluster} cannot start: no slot in the pool has 10 TB memory "
                           "(the most one slot has is 4 GB memory).")


def test_gpus_never_match_the_local_pools_node(make_pool, submit_dir: Path):
    pool = make_pool(slot_cpus=2, slot_memory=4096)
    cluster = pool.submit(sleeper(60, "request_gpus = 4"), submit_dir)
    parsed = parse_analysis(analysis(pool, cluster))
    assert parsed.never and parsed.request("gpus") == 4
    said = explain(str(cluster), parsed, free(pool))
    assert "no slot in the pool has 4 GPUs" in said
    assert said.endswith("No slot with 4 GPUs is free now; 1 slot could run it now without "
                         "GPUs.")


def test_a_job_that_fits_the_slot_but_not_next_to_the_running_one_would_match_if_drained(
        make_pool, submit_dir: Path):
    pool = make_pool(slot_cpus=4, slot_memory=8192)
    first = pool.submit(sleeper(60, "request_cpus = 3\nrequest_memory = 1000"), submit_dir)
    pool.wait_status(first, "2")
    second = pool.submit(sleeper(60, "request_cpus = 2\nrequest_memory = 1000"), submit_dir)
    text = analysis(pool, second)
    assert "Step   Matched   Drained  Condition" in text
    assert "      1 slots would match if drained" in text
    parsed = parse_analysis(text)
    assert not parsed.never and parsed.if_drained == 1
    assert explain(str(second), parsed, free(pool)) == (
        f"Job {second} waits for a free slot: the 1 slot that could run it is busy now. "
        "No slot with 2 CPUs is free now; 1 slot could run it now with 1 CPU.")
    assert parse_analysis(analysis(pool, first)).state == "Job is running."
