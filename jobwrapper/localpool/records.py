"""Job records in the pool dir: the emulated schedd's queue.

`queue/<cluster>/` is created by the submitting user and written only by that job's
shadow process (running as the same user), so records need no locking beyond
atomic renames:

- `ad.json`      the job ad (world-readable: every user may read every ad);
- `spec.json`    what the shadow runs (owner only);
- `environ.json` the job's environment, for condor_ssh_to_job (owner only);
- `shadow.json`  the shadow's pid, its start time and the job's scratch dir.

A record whose shadow is gone (killed, machine rebooted) is not in the queue.
When a job leaves the queue its shadow renames the record into `history/`.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
from pathlib import Path
from typing import Any

from jobwrapper.localpool.ads.classads import Ad, from_json, to_json
from jobwrapper.localpool.config import PoolLayout, write_json_atomic


@dataclasses.dataclass
class ShadowInfo:
    """The per-job supervisor process and what it set up."""

    pid: int
    pid_start: str
    scratch_dir: str = ""
    started_at: float = 0.0
    netns_pid: int = 0


@dataclasses.dataclass
class JobRecord:
    """One job in the queue."""

    cluster: int
    path: Path
    ad: Ad
    shadow: ShadowInfo | None

    @property
    def owner_uid(self) -> int:
        return self.path.stat().st_uid

    @property
    def status(self) -> int:
        return int(self.ad.get("JobStatus", 1))


def process_start_time(pid: int) -> str:
    """The kernel's start time of a process (field 22 of /proc/PID/stat); '' if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]


def shadow_alive(info: ShadowInfo) -> bool:
    """True while the recorded shadow process still exists (pid reuse is detected)."""
    return process_start_time(info.pid) == info.pid_start


def allocate_cluster(layout: PoolLayout) -> int:
    """The next cluster id (the counter file is locked while it is bumped)."""
    with open(layout.counter, "r+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        text = handle.read().strip()
        cluster = int(text) if text.isdigit() else 1
        while layout.record(cluster).exists() or (layout.history / str(cluster)).exists():
            cluster += 1
        handle.seek(0)
        handle.truncate()
        handle.write(f"{cluster + 1}\n")
        handle.flush()
    return cluster


def create_record(layout: PoolLayout, cluster: int) -> Path:
    """The new record dir, owned by the caller, readable by everyone."""
    path = layout.record(cluster)
    path.mkdir(mode=0o755)
    os.chmod(path, 0o755)  # noqa: S103 - every user may read every job ad
    return path


def write_ad(record: Path, ad: Ad) -> None:
    write_json_atomic(record / "ad.json", to_json(ad), mode=0o644)


def write_private(record: Path, name: str, data: Any) -> None:
    write_json_atomic(record / name, data, mode=0o600)


def write_shadow(record: Path, info: ShadowInfo) -> None:
    write_json_atomic(record / "shadow.json", dataclasses.asdict(info), mode=0o644)


def read_json(path: Path) -> Any:
    with open(path) as handle:
        return json.load(handle)


def load_record(layout: PoolLayout, cluster: int, include_dead: bool = False) -> JobRecord | None:
    """The job if it is in the queue (its shadow alive), else None."""
    path = layout.record(cluster)
    try:
        ad = from_json(read_json(path / "ad.json"))
        shadow = ShadowInfo(**read_json(path / "shadow.json"))
    except (OSError, ValueError, TypeError):
        return None
    if not include_dead and not shadow_alive(shadow):
        return None
    return JobRecord(cluster=cluster, path=path, ad=ad, shadow=shadow)


def list_clusters(layout: PoolLayout) -> list[int]:
    """Cluster ids with a record in the queue dir, ascending."""
    try:
        names = os.listdir(layout.queue)
    except FileNotFoundError:
        return []
    return sorted(int(name) for name in names if name.isdigit())


def queued_jobs(layout: PoolLayout) -> list[JobRecord]:
    """Every job in the queue, by cluster id."""
    jobs = (load_record(layout, cluster) for cluster in list_clusters(layout))
    return [job for job in jobs if job is not None]


class RecordWatch:
    """One job's record, parsed again only when its files changed: the emulated
    condor_ssh_to_job looks 4 times a second whether its job still runs, and a
    thousand of them parsing every ad took 0.6 of the hub machine's CPUs
    (bench/scale, 1,000 users). The shadow's liveness is checked on every look."""

    def __init__(self, layout: PoolLayout, cluster: int) -> None:
        self.layout, self.cluster = layout, cluster
        self._key: tuple[tuple[int, int, int], ...] | None = None
        self._job: JobRecord | None = None

    def _files_key(self) -> tuple[tuple[int, int, int], ...] | None:
        path = self.layout.record(self.cluster)
        try:
            return tuple((stat.st_ino, stat.st_mtime_ns, stat.st_size)
                         for stat in (os.stat(path / "ad.json"), os.stat(path / "shadow.json")))
        except OSError:
            return None

    def current(self) -> JobRecord | None:
        """The job as load_record would return it now."""
        key = self._files_key()
        if key is None:
            self._key = self._job = None
            return None
        if key != self._key or self._job is None:
            self._job, self._key = load_record(self.layout, self.cluster), key
            return self._job
        return self._job if shadow_alive(self._job.shadow) else None


class QueueView:
    """Every queued job, as queued_jobs returns them, through one RecordWatch per job:
    an idle shadow that claims again parses only the ads that changed since."""

    def __init__(self, layout: PoolLayout) -> None:
        self.layout = layout
        self._watches: dict[int, RecordWatch] = {}

    def jobs(self) -> list[JobRecord]:
        clusters = list_clusters(self.layout)
        self._watches = {cluster: self._watches.get(cluster) or RecordWatch(self.layout, cluster)
                         for cluster in clusters}
        jobs = (self._watches[cluster].current() for cluster in clusters)
        return [job for job in jobs if job is not None]
