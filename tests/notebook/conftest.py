"""Fixtures for the notebook tests: a job's scratch dir, an Lmod module tree, a
virtualenv standing in for CVMFS, a site config, servers started for real (and
always stopped), and a fake hub that records what the job reports."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Callable

import pytest
from notebook_helpers import JOBWRAPPER, FakeHub, Server, make_job, site_config_text


@pytest.fixture(scope="session")
def module_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Lua modulefiles: physics/1.0 (sets a variable, adds a bin dir), broken/1.0."""
    root = tmp_path_factory.mktemp("modulefiles")
    (root / "physics").mkdir()
    (root / "physics" / "1.0.lua").write_text(
        'setenv("PHYSICS_HOME", "/opt/physics")\n'
        'prepend_path("PATH", "/opt/physics/bin")\n'
        'setenv("PHYSICS_NOTE", "it\'s \\"quoted\\" $HOME")\n')
    (root / "broken").mkdir()
    (root / "broken" / "1.0.lua").write_text('this is not lua(\n')
    return root


@pytest.fixture(scope="session")
def cvmfs_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv (no pip) that sees jobwrapper's site-packages, standing in for CVMFS."""
    path = tmp_path_factory.mktemp("cvmfs") / "sw" / "venv-stable"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    site = next((path / "lib").glob("python3*")) / "site-packages"
    parent = next(p for p in sys.path if p.endswith("site-packages") and ".venv" in p)
    (site / "jobwrapper-parent.pth").write_text(parent + "\n")
    return path


@pytest.fixture
def job_environ(tmp_path: Path, module_tree: Path, cvmfs_venv: Path) -> dict[str, str]:
    """A job (Rocky9, environment stable) and the environment HTCondor gives it."""
    return make_job(tmp_path, site_config_text(module_tree, cvmfs_venv))


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start ``jobwrapper ARGS`` in a new session; every server is stopped afterwards."""
    servers: list[Server] = []

    def start(args: list[str], environ: dict[str, str]) -> Server:
        index = len(servers)
        stdout, stderr = tmp_path / f"server{index}.out", tmp_path / f"server{index}.err"
        with stdout.open("w") as out, stderr.open("w") as err:
            process = subprocess.Popen([JOBWRAPPER, *args], env=environ, stdout=out,
                                       stderr=err, stdin=subprocess.DEVNULL,
                                       start_new_session=True, cwd=environ["_CONDOR_SCRATCH_DIR"])
        server = Server(process, stdout, stderr)
        servers.append(server)
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def fake_hub() -> Iterator[Callable[..., FakeHub]]:
    hubs: list[FakeHub] = []
    release = threading.Event()

    def make(status: int = 200, silent: bool = False) -> FakeHub:
        hub = FakeHub(status, release if silent else None)
        hubs.append(hub)
        return hub

    try:
        yield make
    finally:
        release.set()
        for hub in hubs:
            hub.close()
