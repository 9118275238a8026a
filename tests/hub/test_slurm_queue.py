"""squeue for the hub's Slurm jobs (hub/slurm/queue.py): the status text, the one
query for many jobs, a purged job, and the pending reason in words."""

from __future__ import annotations

import asyncio
import logging
import stat

import pytest

from jobwrapper.hub.jobcontrol import BatchCommandError, query_runner
from jobwrapper.hub.slurm.queue import (
    INVALID_ID,
    gone_sentence,
    parse_squeue_lines,
    wait_sentence,
)

LOG = logging.getLogger("test")


def slurm_runner(prefix: str, template: str, keep: tuple[str, ...], log: logging.Logger):
    """The hub's query runner as JobwrapperSlurmSpawner sets it up."""
    return query_runner(prefix, template, keep, log, joiner=",", none_left=INVALID_ID)


def test_running_jobs_give_state_and_node_pending_ones_their_reason():
    output = "101|RUNNING|node7|None\n102|PENDING||Resources\n103_4|PENDING||Priority\n"
    assert parse_squeue_lines(output) == {
        "101": "RUNNING node7", "102": "PENDING (Resources)", "103_4": "PENDING (Priority)"}


def test_lines_of_other_shapes_are_ignored():
    assert parse_squeue_lines("slurm_load_jobs error: x\n\n101 RUNNING node7\n") == {}


def fake_squeue(tmp_path, body: str) -> str:
    path = tmp_path / "squeue"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_the_ids_become_one_comma_joined_word(tmp_path):
    squeue = fake_squeue(tmp_path, 'printf "%s\\n" "$@"\n')
    run = slurm_runner("", squeue + " -h -o %i|%T|%N|%r -j {job_ids}", ("PATH",), LOG)
    assert asyncio.run(run(["101", "102"])).split("\n")[-2] == "101,102"


def test_an_invalid_job_id_means_none_of_them_is_in_the_queue(tmp_path):
    squeue = fake_squeue(tmp_path, 'echo "slurm_load_jobs error: Invalid job id specified" >&2'
                                   "\nexit 1\n")
    run = slurm_runner("", squeue + " -j {job_ids}", (), LOG)
    assert asyncio.run(run(["101"])) == ""


def test_other_failures_reach_the_caller(tmp_path):
    squeue = fake_squeue(tmp_path, 'echo "Unable to contact slurm controller" >&2\nexit 1\n')
    run = slurm_runner("", squeue + " -j {job_ids}", (), LOG)
    with pytest.raises(BatchCommandError, match="Unable to contact slurm controller"):
        asyncio.run(run(["101"]))


@pytest.mark.parametrize(("status", "sentence"), [
    ("PENDING (Resources)", "Job 7 waits: no node has the resources free now."),
    ("PENDING (PartitionTimeLimit)",
     "Job 7 waits: its runtime is longer than the partition allows: choose less time."),
    ("PENDING (QOSGrpNodeLimit)", "Job 7 waits: Slurm says: QOSGrpNodeLimit."),
    ("PENDING (None)", ""),
    ("RUNNING node7", ""),
])
def test_the_pending_reason_in_words(status, sentence):
    assert wait_sentence("7", status) == sentence


@pytest.mark.parametrize(("state", "sentence"), [
    ("OUT_OF_MEMORY", "it used more memory than it asked for (OUT_OF_MEMORY)"),
    ("TIMEOUT", "it reached its time limit (TIMEOUT)"),
    ("", "it left the queue (it ended, was cancelled, or reached its time limit)"),
])
def test_an_ended_jobs_state_in_words(state, sentence):
    assert gone_sentence(state) == sentence


def test_an_ended_job_is_shown_by_squeue_states_all_and_parsed_like_the_others():
    assert parse_squeue_lines("101|OUT_OF_MEMORY|node7|OutOfMemory\n") == {
        "101": "OUT_OF_MEMORY node7"}


def test_sinfo_nodes_become_slots_with_what_is_free_now():
    from jobwrapper.hub.slurm.queue import parse_sinfo

    output = ("node1   mix     2/2/0/4    8000   6000   gpu:a100:4(S:0-1)   gpu:a100:1(IDX:0)\n"
              "node2   drain*  0/8/0/8    16000  0      (null)   gpu:0\n"
              "node1   mix     2/2/0/4    8000   6000   gpu:a100:4(S:0-1)   gpu:a100:1(IDX:0)\n")
    one, two = parse_sinfo(output)
    assert (one.name, one.cpus, one.memory, one.gpus, one.total_cpus, one.total_gpus) == (
        "node1", 2, 2000, 3, 4, 4)
    assert (two.name, two.free, two.total_cpus, two.total_memory) == ("node2", False, 8, 16000)
