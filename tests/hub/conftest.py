"""Fixtures for the hub tests: test users, a fast local pool, a running JupyterHub."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from testusers import ensure_users

from .harness import ALICE, BOB, VENV_BIN, Hub, local_pool, serving


@pytest.fixture(scope="session")
def hub_users() -> tuple[str, str]:
    """jwtest-alice and jwtest-bob (created if missing); needs root, sudo and CHP."""
    if os.getuid() != 0:
        pytest.skip("the hub tests run the hub as root and jobs as test users")
    for tool in ("sudo", str(VENV_BIN / "configurable-http-proxy")):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is missing; run scripts/setup")
    ensure_users(ALICE, BOB)
    return ALICE, BOB


@pytest.fixture(scope="session")
def hub_pool(hub_users: tuple[str, str]) -> Iterator[Path]:
    """A local pool with small delays; its shims' directory (removed afterwards)."""
    with local_pool("jwhub-pool-") as pool_bin:
        yield pool_bin


@pytest.fixture(scope="module")
def hub(hub_pool: Path, hub_users: tuple[str, str]) -> Iterator[Hub]:
    """A running JupyterHub with JobwrapperSpawner on the pool; stopped afterwards.
    Its jobs run in network namespaces that reach only the hub's API port: the hub
    can reach a job through the tunnel and nothing else."""
    with serving("jwhub-state-", hub_pool, hub_users, isolate=True) as running:
        yield running
