"""Fixtures for the tests against a real Slurm (Debian 12's 22.05): the test users and
one private cluster for the session (tests/slurm/cluster.py)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from testusers import ALICE, BOB, ensure_users

from .cluster import Cluster, missing_binaries, start_cluster


@pytest.fixture(scope="session")
def slurm_users() -> tuple[str, str]:
    """jwtest-alice and jwtest-bob (created if missing, as the other tests do)."""
    if os.getuid() != 0:
        pytest.skip("the Slurm tests run slurmctld and slurmd as root and jobs as test users")
    ensure_users(ALICE, BOB)
    return ALICE, BOB


@pytest.fixture(scope="session")
def slurm(slurm_users: tuple[str, str]) -> Iterator[Cluster]:
    """A running private Slurm cluster (one node, 4 CPUs, 4096 MB, partition `debug`),
    stopped with all its processes at the end of the session. Skipped only when Slurm
    is not installed."""
    missing = missing_binaries()
    if missing:
        pytest.skip(f"Slurm is not installed (missing {' '.join(missing)}); "
                    "scripts/setup installs slurmctld slurmd slurm-client munge")
    # Under /tmp, not pytest's tmp_path: its parents are 0700, and the users' jobs
    # must reach slurm.conf and the munge socket.
    directory = Path(tempfile.mkdtemp(prefix="jwslurm-", dir="/tmp"))
    cluster = start_cluster(directory)
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(autouse=True)
def _cancel_jobs_afterwards(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test that used the cluster leaves it without jobs for the next one (but in a
    module whose tests share a running job: KEEP_JOBS = True; it ends its job itself)."""
    yield
    if "slurm" in request.fixturenames and not getattr(request.module, "KEEP_JOBS", False):
        request.getfixturevalue("slurm").cancel_all()
