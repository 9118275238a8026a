"""The demo on a real Slurm (`scripts/demo --scheduler slurm`): a private single-node
Slurm 22.05 (tests/slurm/cluster.py: its own munged, slurmctld and slurmd) in the
state dir, and the hub's JobwrapperSlurmSpawner settings.

Kept apart like demo_spawner.py: the spawner part can be copied into a real hub's
config (with the site's own sbatch options; docs/slurm.md).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _cluster_module() -> Any:
    sys.path.insert(0, str(REPO / "tests" / "slurm"))
    import cluster  # standard library only, shared with the tests

    return cluster


def start_slurm(state: Path) -> Any:
    """Start the demo's Slurm cluster in state/slurm (a fresh one each run)."""
    cluster = _cluster_module()
    missing = cluster.missing_binaries()
    if missing:
        raise RuntimeError(f"Slurm is not installed (missing {' '.join(missing)}); "
                           "scripts/setup installs it")
    directory = state / "slurm"
    if directory.exists():  # an earlier run that was killed: its daemons go first
        _kill_processes_naming(directory)
        shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return cluster.start_cluster(directory)


def _kill_processes_naming(directory: Path) -> None:
    """SIGKILL every process whose command line names `directory` (slurm.conf, munge)."""
    needle = str(directory).encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            with contextlib.suppress(OSError):
                if needle in (entry / "cmdline").read_bytes():
                    os.kill(int(entry.name), signal.SIGKILL)


def leftover_jobs(slurm: Any) -> int:
    """Jobs still in the demo cluster's queue."""
    with contextlib.suppress(Exception):
        return len(slurm.run("squeue", "-h", "-o", "%i").stdout.split())
    return 0


def configure_slurm_spawner(c: Any, state: Path, users: list[str]) -> None:
    """JobwrapperSlurmSpawner for the demo's hub (`c`: the JupyterHub config)."""
    c.JupyterHub.spawner_class = "jobwrapper.hub.slurm.spawner.JobwrapperSlurmSpawner"
    s = c.JobwrapperSlurmSpawner
    job_bin = state / "jobenv" / "bin"
    s.jobwrapper_path = str(job_bin / "jobwrapper")
    s.secrets_helper_cmd = [str(job_bin / "python"), "-m", "jobwrapper.hub.secrets"]
    s.server_mode = os.environ.get("JOBWRAPPER_DEMO_SERVER_MODE", "auto")
    if os.geteuid() != 0:
        s.exec_prefix = ""
        s.connect_to_job_exec_prefix = ""
    interval = float(os.environ.get("JOBWRAPPER_DEMO_POLL_INTERVAL", "0.25"))
    s.startup_poll_interval = interval
    s.batch_query_min_interval = interval
    s.stop_timeout = 30
    s.resource_form = True
    c.Spawner.environment = {"JOBWRAPPER_CONFIG": str(state / "jobwrapper.toml"),
                             "PATH": "/usr/local/bin:/usr/bin:/bin",
                             "JOBWRAPPER_IDLE_MINUTES":
                                 os.environ.get("JOBWRAPPER_DEMO_IDLE_MINUTES", "120")}
    from jobwrapper.hub.stopreason import stop_reason_announcement

    c.JupyterHub.template_vars = {"announcement": stop_reason_announcement,
                                  "announcement_spawn": ""}
