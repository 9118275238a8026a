"""The hub's queries against a real Slurm 22.05: sinfo for the form, squeue
--states=all for an ended job."""

from __future__ import annotations

import asyncio
import logging
import shlex

from jobwrapper.hub.jobcontrol import query_runner
from jobwrapper.hub.slurm.queue import INVALID_ID, QUERY, SINFO, parse_sinfo, parse_squeue_lines

from .conftest import ALICE


def test_sinfo_gives_the_node_and_what_a_running_job_leaves_free(slurm):
    workdir = slurm.workdir(ALICE, "sinfo")
    job = slurm.sbatch("--cpus-per-task=1", "--mem=1024", "--wrap", "sleep 60",
                       user=ALICE, cwd=workdir)
    slurm.wait_state(job, "RUNNING")
    (node,) = parse_sinfo(slurm.run(*shlex.split(SINFO)).stdout)
    assert (node.name, node.cpus, node.memory, node.total_cpus, node.total_memory) == (
        slurm.node, 3, 3072, 4, 4096)


def test_an_ended_job_is_reported_with_its_final_state(slurm):
    workdir = slurm.workdir(ALICE, "ended")
    job = slurm.sbatch("--mem=512", "--wrap", "exit 3", user=ALICE, cwd=workdir)
    slurm.wait_state(job, "FAILED")
    prefix = " ".join(shlex.quote(word) for word in slurm.argv("squeue")[:-1])
    run = query_runner(prefix, QUERY, (), logging.getLogger("test"), joiner=",",
                       none_left=INVALID_ID)
    statuses = parse_squeue_lines(asyncio.run(run([str(job)])))
    assert statuses[str(job)].startswith("FAILED")
