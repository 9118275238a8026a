"""Pool administration: init (config), status and shutdown."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time

from jobwrapper.localpool.commands.remove import request_removal
from jobwrapper.localpool.config import PoolConfig, PoolLayout, load_config, save_config
from jobwrapper.localpool.records import list_clusters, load_record, queued_jobs


def init_pool(layout: PoolLayout, settings: dict[str, str]) -> PoolConfig:
    """Create the pool dir and write its config with `settings` applied (KEY=VALUE)."""
    layout.ensure()
    config = load_config(layout.root)
    for key, text in settings.items():
        current = getattr(config, key)
        if isinstance(current, bool):
            value: object = text.lower() in ("1", "true", "yes")
        elif isinstance(current, list):
            value = [int(item) for item in text.split(",") if item]
        else:
            value = type(current)(text)
        setattr(config, key, value)
    save_config(layout.root, config)
    return config


def status_lines(layout: PoolLayout) -> list[str]:
    """One line per job in the queue, for people debugging the pool."""
    lines = [f"pool {layout.root}: {load_config(layout.root)}"]
    for job in queued_jobs(layout):
        ad = job.ad
        scratch = job.shadow.scratch_dir if job.shadow else ""
        lines.append(
            f"{job.cluster}.0 owner={ad.get('Owner')} status={ad.get('JobStatus')} "
            f"host={ad.get('RemoteHost', '-')} shadow={job.shadow.pid if job.shadow else '-'} "
            f"scratch={scratch or '-'}"
        )
    return lines


def _pool_processes(layout: PoolLayout) -> list[int]:
    """Processes of jobs of this pool, found by their scratch dir in the environment."""
    needle = f"_CONDOR_SCRATCH_DIR={layout.execute}/".encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as handle:
                if any(item.startswith(needle) for item in handle.read().split(b"\0")):
                    found.append(int(name))
        except OSError:
            continue
    return found


def shutdown(layout: PoolLayout, purge: bool = False, timeout: float = 15.0) -> int:
    """Remove every job at once (no vacate grace); returns how many were in the queue."""
    jobs = queued_jobs(layout)
    for job in jobs:
        request_removal(job, "shutdown", signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(
        load_record(layout, job.cluster) is not None for job in jobs
    ):
        time.sleep(0.05)
    for job in jobs:
        if job.shadow is not None and load_record(layout, job.cluster) is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(job.shadow.pid, signal.SIGKILL)
    for pid in _pool_processes(layout):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    for cluster in list_clusters(layout):
        record = load_record(layout, cluster, include_dead=True)
        if record is not None and record.shadow and record.shadow.scratch_dir:
            shutil.rmtree(record.shadow.scratch_dir, ignore_errors=True)
        shutil.rmtree(layout.record(cluster), ignore_errors=True)
    if purge:
        shutil.rmtree(layout.root, ignore_errors=True)
    return len(jobs)
