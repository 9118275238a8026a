"""Fixtures for the hub tests: test users, a fast local pool, a running JupyterHub."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from .harness import ALICE, BOB, FAST_POOL, VENV_BIN, Hub, isolate_jobs, new_hub


@pytest.fixture(scope="session")
def hub_users() -> tuple[str, str]:
    """jwtest-alice and jwtest-bob (created if missing); needs root, sudo and CHP."""
    if os.getuid() != 0:
        pytest.skip("the hub tests run the hub as root and jobs as test users")
    for tool in ("sudo", str(VENV_BIN / "configurable-http-proxy")):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is missing; run scripts/setup")
    for name in (ALICE, BOB):
        try:
            pwd.getpwnam(name)
        except KeyError:
            subprocess.run(
                ["useradd", "--create-home", "--shell", "/usr/sbin/nologin", name], check=True
            )
    return ALICE, BOB


@pytest.fixture(scope="session")
def hub_pool(hub_users: tuple[str, str]) -> Path:
    """A local pool with small delays; its shims' directory (removed afterwards)."""
    from jobwrapper.localpool.admin import init_pool, shutdown
    from jobwrapper.localpool.config import PoolLayout
    from jobwrapper.localpool.install import install_bin

    root = Path(tempfile.mkdtemp(prefix="jwhub-pool-"))
    os.chmod(root, 0o755)
    layout = PoolLayout(root / "pool")
    init_pool(layout, dict(FAST_POOL))
    install_bin(root / "bin", layout.root)
    yield root / "bin"
    shutdown(layout, purge=True)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def hub(hub_pool: Path, hub_users: tuple[str, str]) -> Hub:
    """A running JupyterHub with JobwrapperSpawner on the pool; stopped afterwards."""
    state_dir = Path(tempfile.mkdtemp(prefix="jwhub-state-"))
    running = new_hub(state_dir, hub_pool)
    # Jobs in a network namespace that reaches only the hub's API port: the hub can
    # reach a job through the tunnel and nothing else.
    isolate_jobs(running, hub_pool)
    running.start()
    for name in hub_users:
        running.ensure_user(name)
    yield running
    for name in hub_users:
        if running.process is not None and running.server(name) is not None:
            running.api("DELETE", f"/users/{name}/server")
    running.stop()
    if not os.environ.get("JWHUB_KEEP_STATE"):  # keep the hub's logs for a post-mortem
        shutil.rmtree(state_dir, ignore_errors=True)
