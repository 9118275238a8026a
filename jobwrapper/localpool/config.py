"""The pool's configuration (`<pool>/pool.json`) and the layout of the pool directory.

Every key is documented in docs/localpool.md. The pool dir is shared by every user of
the pool: `queue/`, `history/`, `execute/`, `negotiator/` and `claims/` are
world-writable with the sticky bit (like /tmp), so each user's submit creates records
that only that user (or root) may change, while everyone may read them, as everyone
may read a real schedd's job ads.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import socket
from pathlib import Path

CONFIG_NAME = "pool.json"
DEFAULT_POOL_DIR = "/var/tmp/jobwrapper-localpool"  # noqa: S108 - shared like /var/tmp
POOL_DIR_ENV = "JOBWRAPPER_LOCALPOOL_DIR"


class PoolError(Exception):
    """A one-line message for people; the command line prints it and exits 1."""


@dataclasses.dataclass
class PoolConfig:
    """Settings of one emulated pool; tests write small delays here."""

    idle_delay: float = 1.0
    """Seconds a job stays idle (JobStatus 1) after it is matched before it may start
    (claiming the slot and starting the starter; real: about 1-3 s)."""
    negotiator_interval: float = 0.0
    """NEGOTIATOR_INTERVAL: seconds between negotiation cycles, which match idle jobs
    (execute/negotiator.py); 0: no cycles, a job is matched when it is submitted.
    HTCondor's default is 60."""
    negotiator_min_interval: float = 5.0
    """NEGOTIATOR_MIN_INTERVAL: a requested cycle runs no sooner than this after the
    previous one (HTCondor's default, 5)."""
    submit_send_reschedule: bool = True
    """SUBMIT_SEND_RESCHEDULE: condor_submit asks for a cycle at once (default True)."""
    ssh_ready_delay: float = 5.0
    """Seconds after a job starts during which condor_ssh_to_job fails (real: 5-10 s)."""
    vacate_grace: float = 600.0
    """MachineMaxVacateTime: seconds between SIGTERM and SIGKILL on condor_rm."""
    leave_queue_delay: float = 0.0
    """Seconds a finished or removed job keeps its last status before it leaves the queue.
    A real 25.0 schedd shows neither 4 nor 3 once the job has left its slot: 0."""
    periodic_interval: float = 1.0
    """Seconds between evaluations of periodic_remove (real: PERIODIC_EXPR_INTERVAL, 60)."""
    slot_cpus: int = 4
    """Total CPUs of the emulated execute node; jobs stay idle while they do not fit."""
    slot_memory: int = 8192
    """Total memory (MB) of the emulated execute node."""
    slot_disk: int = 10 * 1024 * 1024
    """Total disk (KiB) of the emulated execute node."""
    hostname: str = ""
    """Host part of RemoteHost (`slot1_N@HOST`); empty means this machine's name."""
    uid_domain: str = ""
    """UidDomain and the part after '@' in User; empty means the hostname."""
    memory_limit: bool = True
    """Hold a job whose processes use more memory than its slot has (sum of their PSS,
    checked every periodic_interval), as HTCondor 25 does with cgroups (its default
    hard limit); False: no limit, as a pool without cgroups."""
    memory_poll_interval: float = 5.0
    """Seconds between two looks at a job's memory (HTCondor's CGROUP_POLLING_INTERVAL,
    5), so not at every periodic_interval: each look reads the smaps of the job's
    processes, found in /proc's process tree, which the pool reads once per interval
    for all shadows (execute/processes.py, ProcessTable)."""
    netns: bool = False
    """Run each job in its own network namespace (root and iproute2 needed)."""
    outbound_ports: list[int] = dataclasses.field(default_factory=list)
    """Host loopback TCP ports a job in a namespace may still reach (e.g. the hub API)."""

    def host(self) -> str:
        """The name jobs see as the execute host."""
        return self.hostname or socket.gethostname().split(".")[0] or "localhost"

    def domain(self) -> str:
        """The UidDomain of the pool."""
        return self.uid_domain or self.host()


def config_fields() -> list[str]:
    """Names of the settings, for the command line."""
    return [field.name for field in dataclasses.fields(PoolConfig)]


def load_config(pool_dir: Path) -> PoolConfig:
    """Read `<pool>/pool.json`; missing keys take their defaults."""
    path = pool_dir / CONFIG_NAME
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        return PoolConfig()
    except (OSError, ValueError) as error:
        raise PoolError(f"cannot read the pool config {path}: {error}") from None
    known = set(config_fields())
    unknown = sorted(set(raw) - known)
    if unknown:
        raise PoolError(f"{path}: unknown setting(s) {', '.join(unknown)}; known: {sorted(known)}")
    return PoolConfig(**raw)


def save_config(pool_dir: Path, config: PoolConfig) -> None:
    """Write `<pool>/pool.json` (world-readable, atomically)."""
    write_json_atomic(pool_dir / CONFIG_NAME, dataclasses.asdict(config), mode=0o644)


def write_json_atomic(path: Path, data: object, mode: int = 0o644) -> None:
    """Write JSON to a temporary name in the same dir, then rename it into place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


@dataclasses.dataclass(frozen=True)
class PoolLayout:
    """Where things live inside one pool directory."""

    root: Path

    @property
    def queue(self) -> Path:
        return self.root / "queue"

    @property
    def history(self) -> Path:
        return self.root / "history"

    @property
    def execute(self) -> Path:
        return self.root / "execute"

    @property
    def negotiator(self) -> Path:
        """Negotiation cycles and requests (execute/negotiator.py)."""
        return self.root / "negotiator"

    @property
    def claims(self) -> Path:
        """Claims kept idle after their job ended (execute/claims.py)."""
        return self.root / "claims"

    @property
    def counter(self) -> Path:
        return self.root / "next_cluster"

    @property
    def slot_lock(self) -> Path:
        return self.root / "slots.lock"

    @property
    def process_table(self) -> Path:
        """/proc's process tree, shared by the shadows' memory looks (ProcessTable)."""
        return self.root / "processes"

    def record(self, cluster: int) -> Path:
        """The queue record dir of one job."""
        return self.queue / str(cluster)

    def ensure(self) -> None:
        """Create the pool dir and its shared subdirs (safe to call as any user)."""
        if not self.root.is_dir():
            try:
                self.root.mkdir(parents=True, mode=0o755)
            except OSError as error:
                raise PoolError(
                    f"cannot create the pool dir {self.root}: {error}; "
                    "create it as root with `python -m jobwrapper.localpool init`"
                ) from None
        for shared in (self.queue, self.history, self.execute, self.negotiator, self.claims):
            if not shared.is_dir():
                try:
                    shared.mkdir(mode=0o1777)
                    os.chmod(shared, 0o1777)  # noqa: S103 - sticky, like /tmp
                except FileExistsError:
                    pass
                except OSError as error:
                    raise PoolError(f"cannot create {shared}: {error}") from None
        for shared_file in (self.counter, self.slot_lock):
            if not shared_file.exists():
                try:
                    fd = os.open(shared_file, os.O_WRONLY | os.O_CREAT, 0o666)
                    os.close(fd)
                    os.chmod(shared_file, 0o666)  # noqa: S103 - every user locks it
                except OSError as error:
                    raise PoolError(f"cannot create {shared_file}: {error}") from None
        if not self.process_table.exists():  # optional: without it each look reads /proc
            with contextlib.suppress(OSError):
                os.close(os.open(self.process_table, os.O_WRONLY | os.O_CREAT, 0o666))
                os.chmod(self.process_table, 0o666)  # noqa: S103 - every shadow writes it


def resolve_pool_dir(explicit: str | None) -> Path:
    """The pool dir: the baked-in/explicit one, else $JOBWRAPPER_LOCALPOOL_DIR, else default."""
    return Path(explicit or os.environ.get(POOL_DIR_ENV) or DEFAULT_POOL_DIR).absolute()
