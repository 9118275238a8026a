"""The local pool answers the commands dask-jobqueue and jobwrapper.dask run as
HTCondor 25.0.13 did (docs/localpool.md, "Dask on the pool"): condor_submit FILE with
the worker's description, the job id dask-jobqueue parses, condor_rm of several ids."""

from __future__ import annotations

import re

import pytest
from localpool.helpers import create_pool, destroy_pool, sleeper

from jobwrapper.dask.submit import submit_description
from jobwrapper.localpool.records import load_record


@pytest.fixture
def pool():
    pool = create_pool()
    yield pool
    destroy_pool(pool)


def submit_file(pool, text: str) -> str:
    path = pool.root / "worker.sh"
    path.write_text(text)
    result = pool.run("condor_submit", str(path), cwd=pool.root)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_worker_description_is_taken_and_dask_jobqueue_finds_the_job_id(pool):
    import dataclasses

    from test_dask_submit import WORKER

    logs = pool.root / "logs"
    logs.mkdir()
    for name in ("ca.pem", "worker.pem", "worker.key"):
        (logs / name).write_text("x\n")
    worker = dataclasses.replace(
        WORKER, jobwrapper="/bin/sleep", log_dir=str(logs), submit_extra={},
        tls=dataclasses.replace(WORKER.tls, ca_file=f"{logs}/ca.pem", cert=f"{logs}/worker.pem",
                                key=f"{logs}/worker.key"))
    output = submit_file(pool, submit_description(worker))
    assert output == "Submitting job(s).\n1 job(s) submitted to cluster 1.\n"
    # dask-jobqueue 0.9.0's HTCondorJob._job_id_from_submit_output
    assert re.search(r"submitted to cluster (\d+)", output).group(1) == "1"
    ad = load_record(pool.layout, 1).ad
    assert (ad["RequestCpus"], ad["RequestMemory"]) == (2, 4096)
    assert ad["JobwrapperDaskCluster"] == "dask-0123abcd" and ad["ContainerOS"] == "Rocky9"
    assert ad["Iwd"] == str(logs)


def test_condor_rm_of_several_ids_answers_per_job_and_succeeds_if_any_was_removed(pool):
    queued = pool.submit(sleeper(), pool.root)
    result = pool.run("condor_rm", "77.0", f"{queued}.0")
    assert (result.returncode, result.stdout, result.stderr) == (
        0, f"Job {queued}.0 marked for removal\n", "Job 77.0 not found\n")


def test_condor_rm_of_several_ids_none_there_is_exit_1_after_an_empty_line(pool):
    result = pool.run("condor_rm", "77.0", "78.0")
    assert (result.returncode, result.stdout, result.stderr) == (
        1, "", "\nJob 77.0 not found\nJob 78.0 not found\n")


def test_condor_rm_of_several_clusters_is_one_constraint(pool):
    queued = pool.submit(sleeper(), pool.root)
    result = pool.run("condor_rm", str(queued), "99")
    assert (result.returncode, result.stdout) == (0, (
        f"All jobs matching constraint (ClusterId == {queued} || ClusterId == 99) have been "
        "marked for removal\n"))
    result = pool.run("condor_rm", "98", "99")
    assert (result.returncode, result.stderr) == (1, (
        "\nCouldn't find/remove all jobs matching constraint (ClusterId == 98 || "
        "ClusterId == 99)\n"))
