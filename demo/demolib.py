"""The demo's pieces, shared by scripts/demo, tests/e2e and bench/: build, start, stop.

- ``prepare``: a state dir with the local pool (condor_* shims), a small Lmod module
  tree, virtualenvs standing in for environments on CVMFS, the job's site config, and
  (as root) local users for the notebooks;
- demohub.py: JupyterHub with demo/jupyterhub_config.py, and stopping everything.

Everything is created under the state dir; nothing outside it is changed except the
demo users (``useradd``), which stay for the next run.
"""

from __future__ import annotations

import dataclasses
import getpass
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

REPO = Path(__file__).resolve().parents[1]
VENV = REPO / ".venv"
PYTHON = VENV / "bin" / "python"
DEMO_DIR = REPO / "demo"
DEFAULT_STATE = REPO / "demo-state"
DEMO_USERS = ("demo-alice", "demo-bob")  # local users, created when the demo runs as root
CONTAINERS = {"Debian12": "Debian 12 (this machine)"}
ENVIRONMENTS = {"stable": "stable", "testing": "testing"}


@dataclasses.dataclass(frozen=True)
class Demo:
    """Where one demo's files live (all under ``state``)."""

    state: Path

    @property
    def bin_dir(self) -> Path:
        return self.state / "bin"

    @property
    def pool_dir(self) -> Path:
        return self.state / "pool"

    @property
    def modules_dir(self) -> Path:
        return self.state / "modules"

    @property
    def cvmfs_dir(self) -> Path:
        return self.state / "cvmfs" / "sw.demo.example.org" / "jupyter"

    @property
    def site_config(self) -> Path:
        return self.state / "jobwrapper.toml"

    @property
    def hub_dir(self) -> Path:
        return self.state / "hub"

    @property
    def job_venv(self) -> Path:
        """jobwrapper for the jobs (the notebook users' processes)."""
        return self.state / "jobenv"

    def venv(self, container_os: str, environment: str) -> Path:
        return self.cvmfs_dir / container_os.lower() / environment


def run(argv: list[Any], **kwargs: Any) -> subprocess.CompletedProcess:
    """Run a command, raising with its stderr when it fails."""
    result = subprocess.run([str(a) for a in argv], capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, argv))} failed ({result.returncode}): "
                           f"{result.stderr.strip() or result.stdout.strip()}")
    return result


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare(state: Path, users: tuple[str, ...] = (),
            pool_settings: Optional[dict[str, str]] = None) -> Demo:
    """Create (or refresh) everything the demo needs under ``state``."""
    demo = Demo(state.resolve())
    for path in (demo.state, demo.hub_dir):
        path.mkdir(parents=True, exist_ok=True)
    os.chmod(demo.state, 0o755)  # noqa: S103 - the demo users' jobs read shims, modules, venvs
    os.chmod(demo.hub_dir, 0o700)  # database, cookie secret, API token
    settings = {"idle_delay": "1", "ssh_ready_delay": "2", "vacate_grace": "20",
                "slot_cpus": "128", "slot_memory": str(256 * 1024), **(pool_settings or {})}
    init = [PYTHON, "-m", "jobwrapper.localpool", "init", "--pool-dir", demo.pool_dir]
    for key, value in settings.items():
        init += ["--set", f"{key}={value}"]
    run(init)
    run([PYTHON, "-m", "jobwrapper.localpool", "install-bin", demo.bin_dir,
         "--pool-dir", demo.pool_dir])
    _module_tree(demo)
    _job_venv(demo)
    for container_os in CONTAINERS:
        for environment in ENVIRONMENTS:
            _cvmfs_venv(demo.venv(container_os, environment))
    _site_config(demo)
    ensure_users(users)
    return demo


def _module_tree(demo: Demo) -> None:
    """A tiny Lmod tree: demo-tools/1.0 (stable) and 2.0 (testing), each with one command."""
    for version in ("1.0", "2.0"):
        tool_bin = demo.state / "software" / "demo-tools" / version / "bin"
        tool_bin.mkdir(parents=True, exist_ok=True)
        hello = tool_bin / "demo-hello"
        hello.write_text(f'#!/bin/sh\necho "demo-tools {version} from the Lmod module"\n')
        hello.chmod(0o755)
        modulefile = demo.modules_dir / "demo-tools" / f"{version}.lua"
        modulefile.parent.mkdir(parents=True, exist_ok=True)
        modulefile.write_text(
            f'whatis("Demo tools {version}: stands in for a site software stack")\n'
            f'setenv("DEMO_TOOLS_VERSION", "{version}")\n'
            f'prepend_path("PATH", "{tool_bin}")\n'
        )


def base_python() -> str:
    """A python every demo user can run, of the .venv's version (the .venv's own python
    may live where only root can read it, e.g. pyenv in /root)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (f"/usr/bin/{version}", f"/usr/local/bin/{version}"):
        if os.access(candidate, os.X_OK):
            return candidate
    return str(Path(sys.base_prefix) / "bin" / version)


def _shared_venv(path: Path) -> None:
    """A virtualenv that sees the repo's .venv packages and jobwrapper through a .pth."""
    base = base_python()
    config = path / "pyvenv.cfg"
    if config.exists() and f"home = {os.path.dirname(base)}\n" not in config.read_text():
        shutil.rmtree(path)  # made by another python (an older demo): make it again
    if not config.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        run([base, "-m", "venv", "--without-pip", path])
    site = next((path / "lib").glob("python3*/site-packages"))
    repo_site = next((VENV / "lib").glob("python3*/site-packages"))
    (site / "jobwrapper-demo.pth").write_text(f"{REPO}\n{repo_site}\n")
    # Jupyter finds server extensions (JupyterLab) and lab assets under sys.prefix.
    for sub in ("etc/jupyter", "share/jupyter"):
        link = path / sub
        if not link.exists():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(VENV / sub)


def _cvmfs_venv(path: Path) -> None:
    """An environment "on CVMFS": Jupyter and ipykernel come from the repo's .venv."""
    _shared_venv(path)


def _job_venv(demo: Demo) -> None:
    """The job's jobwrapper installation: the .venv's commands, for a python users can run."""
    _shared_venv(demo.job_venv)
    python = demo.job_venv / "bin" / "python"
    for script in (VENV / "bin").iterdir():
        try:
            first, _, rest = script.read_text().partition("\n")
        except (UnicodeDecodeError, IsADirectoryError, OSError):
            continue
        ours = (f"#!{VENV}/bin/python", f"#!{VENV.resolve()}/bin/python")
        if first.startswith(ours) and "import" in rest:
            target = demo.job_venv / "bin" / script.name
            if not target.exists():
                target.write_text(f"#!{python}\n{rest}")
                target.chmod(0o755)


def _site_config(demo: Demo) -> None:
    """The job's site config (TOML), from demo/site-config.toml.in."""
    template = (DEMO_DIR / "site-config.toml.in").read_text()
    text = template.replace("@MODULES@", json.dumps(str(demo.modules_dir)))
    for container_os in CONTAINERS:
        for environment in ENVIRONMENTS:
            marker = f"@VENV_{container_os.upper()}_{environment.upper()}@"
            text = text.replace(marker, json.dumps(str(demo.venv(container_os, environment))))
    demo.site_config.write_text(text)
    demo.site_config.chmod(0o644)


def default_users() -> tuple[str, ...]:
    """The demo users as root; otherwise only the current user can have notebooks."""
    return DEMO_USERS if os.geteuid() == 0 else (getpass.getuser(),)


def ensure_users(users: tuple[str, ...]) -> None:
    """Create local users for the notebooks (root only; others run as the current user)."""
    if os.geteuid() != 0:
        return
    for name in users:
        if subprocess.run(["id", "-u", name], capture_output=True).returncode != 0:
            run(["useradd", "--create-home", "--shell", "/bin/bash", name])


def demo_password(demo: Demo) -> str:
    """The demo's shared password, made once and kept in the state dir (0600)."""
    path = demo.hub_dir / "password"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(9))
        path.chmod(0o600)
    return path.read_text().strip()


def reset_state(state: Path) -> None:
    """Remove a previous demo's hub database and pool (keeps users)."""
    for name in ("hub", "pool"):
        shutil.rmtree(state / name, ignore_errors=True)
