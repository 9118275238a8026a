"""Fixtures for the local pool: a fresh pool per test, test users."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import pytest
from testusers import ensure_users

from .helpers import ALICE, BOB, Pool, create_pool, destroy_pool


@pytest.fixture
def make_pool() -> Callable[..., Pool]:
    """A factory for pools in a world-readable temp dir; all are shut down afterwards."""
    pools: list[Pool] = []

    def make(**settings: object) -> Pool:
        pool = create_pool(**settings)
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        destroy_pool(pool)


@pytest.fixture
def pool(make_pool: Callable[..., Pool]) -> Pool:
    """A pool with small delays (see FAST)."""
    return make_pool()


@pytest.fixture(scope="session")
def users() -> tuple[str, str]:
    """Two local test users (created if missing); the tests that need them need root."""
    if os.getuid() != 0:
        pytest.skip("needs root to create test users and run jobs as them")
    ensure_users(ALICE, BOB)
    return ALICE, BOB


@pytest.fixture
def submit_dir(pool: Pool) -> Path:
    """A submit dir owned by root."""
    path = pool.root / "submit-root"
    path.mkdir()
    return path


