"""A private single-node Slurm cluster (Debian 12's Slurm 22.05) in one directory, for
the tests and the demo: its own munge key and munged, its own slurm.conf with free
ports, slurmctld and slurmd in the foreground as children of this process.

    cluster = start_cluster(Path("/tmp/jwslurm"))      # as root; returns when idle
    cluster.run("sbatch", "--wrap", "hostname", user="jwtest-alice", cwd=workdir)
    cluster.env()        # os.environ + SLURM_CONF + PATH, for subprocesses of your own
    cluster.stop()       # cancels the jobs, stops the daemons, no process left

Clients find the cluster through SLURM_CONF only: slurm.conf names our munge socket
(`AuthInfo=socket=...`), which every Slurm command and slurmstepd passes to libmunge.
libmunge itself reads no environment variable (MUNGE_SOCKET does nothing), so a plain
`munge` or `unmunge` needs `--socket` (`cluster.munge_socket`).

Normal users (`runuser -u USER`) can use the cluster when they can traverse the
directory's parents: the directory itself is made 0755, the munge key stays 0700.
Standard library only, so that the demo can import it (`tests/slurm/cluster.py`).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

PARTITION = "debug"
CPUS = 4
MEMORY_MB = 4096
KILL_WAIT = 5
DEFAULT_PORTS = {6817, 6818, 6819}
RUNUSER = shutil.which("runuser") or "/usr/sbin/runuser"
CLIENTS = ("sbatch", "srun", "squeue", "scancel", "scontrol", "sinfo")
DAEMONS = ("slurmctld", "slurmd", "munged")


# The epilog docs/slurm.md recommends: jobwrapper's private dir of the ended job goes
# (Slurm removes nothing in a /tmp shared by jobs).
EPILOG = """#!/bin/sh
rm -rf -- "/tmp/jobwrapper-${SLURM_JOB_UID}-${SLURM_JOB_ID}"
"""


class ClusterError(RuntimeError):
    """The cluster did not start (the message names the log to read)."""


def _which(name: str) -> Optional[str]:
    return shutil.which(name, path=os.pathsep.join(
        [os.environ.get("PATH", ""), "/usr/sbin", "/usr/bin", "/sbin"]))


def missing_binaries() -> list[str]:
    """The Slurm and munge programs that are not installed (scripts/setup installs them)."""
    return [name for name in (*CLIENTS, *DAEMONS) if _which(name) is None]


def free_ports(count: int) -> list[int]:
    """`count` distinct free TCP ports, none of Slurm's defaults (slurmctld binds all
    addresses, so they are probed on all addresses). Two clusters coexist."""
    sockets: list[socket.socket] = []
    ports: list[int] = []
    try:
        while len(ports) < count:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.bind(("", 0))
            port = sock.getsockname()[1]
            if port not in DEFAULT_PORTS:
                ports.append(port)
    finally:
        for sock in sockets:
            sock.close()
    return ports


def node_name() -> str:
    """The node's name: the short real hostname (slurmd is started with -N anyway)."""
    return socket.gethostname().split(".")[0] or "localhost"


def render_conf(directory: Path, ctld_port: int, slurmd_port: int, node: str,
                extra: Optional[dict[str, str]] = None) -> str:
    """slurm.conf for one node with CPUS cores and MEMORY_MB MB (more than the machine
    may have: SlurmdParameters=config_overrides), no cgroups, no accounting."""
    settings = {
        "ClusterName": "jwtest",
        "SlurmctldHost": "localhost",
        "SlurmctldPort": str(ctld_port),
        "SlurmdPort": str(slurmd_port),
        "SlurmUser": "root",
        "SlurmdUser": "root",
        "AuthType": "auth/munge",
        "AuthInfo": f"socket={directory / 'munge' / 'munge.socket'}",
        "CredType": "cred/munge",
        "StateSaveLocation": str(directory / "state"),
        "SlurmdSpoolDir": str(directory / "spool"),
        "SlurmctldPidFile": str(directory / "run" / "slurmctld.pid"),
        "SlurmdPidFile": str(directory / "run" / "slurmd.pid"),
        "SlurmctldLogFile": str(directory / "log" / "slurmctld.log"),
        "SlurmdLogFile": str(directory / "log" / "slurmd.log"),
        "ProctrackType": "proctrack/linuxproc",
        "TaskPlugin": "task/none",
        "JobAcctGatherType": "jobacct_gather/none",
        "AccountingStorageType": "accounting_storage/none",
        "JobCompType": "jobcomp/none",
        "SelectType": "select/cons_tres",
        "SelectTypeParameters": "CR_Core_Memory",
        # Without it a job that asks for no memory gets the whole node's.
        "DefMemPerCPU": str(MEMORY_MB // CPUS),
        "SlurmdParameters": "config_overrides",
        "MpiDefault": "none",
        "MailProg": "/bin/true",
        "ReturnToService": "2",
        "KillWait": str(KILL_WAIT),
        "SlurmctldDebug": "info",
        "SlurmdDebug": "info",
    }
    settings.update(extra or {})
    lines = [f"# written by tests/slurm/cluster.py for {directory}"]
    lines += [f"{key}={value}" for key, value in settings.items() if value != ""]
    lines.append(f"NodeName={node} NodeHostname={socket.gethostname()} NodeAddr=127.0.0.1 "
                 f"CPUs={CPUS} RealMemory={MEMORY_MB} State=UNKNOWN")
    lines.append(f"PartitionName={PARTITION} Nodes={node} Default=YES MaxTime=INFINITE "
                 "State=UP")
    return "\n".join(lines) + "\n"


@dataclass
class Cluster:
    """A running private cluster. `run` calls a Slurm command as root or as a user."""

    directory: Path
    node: str
    ctld_port: int
    slurmd_port: int
    bin_dir: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def conf(self) -> Path:
        return self.directory / "slurm.conf"

    @property
    def munge_socket(self) -> Path:
        return self.directory / "munge" / "munge.socket"

    @property
    def environ(self) -> dict[str, str]:
        """What a caller adds to its environment: SLURM_CONF and PATH (Slurm's first)."""
        path = os.environ.get("PATH", os.defpath)
        return {"SLURM_CONF": str(self.conf), "PATH": f"{self.bin_dir}{os.pathsep}{path}"}

    def env(self, **more: str) -> dict[str, str]:
        """os.environ with `environ` and `more` on top."""
        return {**os.environ, **self.environ, **more}

    def argv(self, command: str, *args: str, user: Optional[str] = None) -> list[str]:
        """The argv that runs a Slurm command against this cluster, as `user` (through
        `runuser -u USER -- env SLURM_CONF=... PATH=...`) or as the caller: it works
        with any environment."""
        setting = [f"{key}={value}" for key, value in self.environ.items()]
        command_argv = ["env", *setting, command, *args]
        return [RUNUSER, "-u", user, "--", *command_argv] if user else command_argv

    def run(self, command: str, *args: str, user: Optional[str] = None,
            cwd: Optional[Path] = None, stdin: Optional[str] = None,
            env: Optional[dict[str, str]] = None, timeout: float = 30,
            check: bool = False) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(command, *args, user=user), input=stdin, capture_output=True,
            text=True, cwd=cwd, env=env, timeout=timeout, check=check)

    def sbatch(self, *args: str, user: Optional[str] = None, cwd: Optional[Path] = None,
               script: Optional[str] = None, env: Optional[dict[str, str]] = None) -> int:
        """Submit (a script on stdin, or `--wrap` in args); the job id."""
        result = self.run("sbatch", "--parsable", *args, user=user, cwd=cwd, stdin=script,
                          env=env)
        if result.returncode != 0:
            raise ClusterError(f"sbatch {' '.join(args)}: {result.stderr.strip()}")
        return int(result.stdout.strip().split(";")[0])

    def job_field(self, job_id: int, name: str) -> Optional[str]:
        """One field of `scontrol show job` (JobState, Reason, BatchHost, ...), or None
        once slurmctld has forgotten the job."""
        result = self.run("scontrol", "-o", "show", "job", str(job_id))
        if result.returncode != 0:
            return None
        for word in result.stdout.split():
            key, _, value = word.partition("=")
            if key == name:
                return value
        return None

    def wait_state(self, job_id: int, *states: str, timeout: float = 30) -> str:
        """Wait until the job's JobState is one of `states`; the state."""
        deadline = time.monotonic() + timeout
        state = None
        while time.monotonic() < deadline:
            state = self.job_field(job_id, "JobState")
            if state in states:
                return state
            time.sleep(0.1)
        raise TimeoutError(f"job {job_id} is {state}, not {'/'.join(states)}, "
                           f"after {timeout:g} s")

    def workdir(self, user: str, name: str = "") -> Path:
        """A fresh directory under the cluster's `work/` owned by `user` (mode 0700)."""
        account = pwd.getpwnam(user)
        base = self.directory / "work"
        base.mkdir(exist_ok=True)
        base.chmod(0o755)
        path = base / f"{user}{'-' + name if name else ''}-{time.monotonic_ns()}"
        path.mkdir(mode=0o700)
        os.chown(path, account.pw_uid, account.pw_gid)
        return path

    def reconfigure(self, **settings: str) -> None:
        """Rewrite slurm.conf with `settings` added (an empty value removes one) and
        tell the daemons (`scontrol reconfigure`), e.g. reconfigure(PrivateData="jobs")."""
        self.extra.update(settings)
        self.conf.write_text(render_conf(self.directory, self.ctld_port, self.slurmd_port,
                                         self.node, self.extra))
        self.run("scontrol", "reconfigure", check=True)
        # slurmd re-reads asynchronously; wait until the node answers again.
        _wait_idle(self, timeout=30, states=("idle", "mixed", "allocated"))

    # -- stopping ----------------------------------------------------------------------

    def cancel_all(self, timeout: float = KILL_WAIT + 10) -> None:
        """Cancel every job and wait until slurmctld has none left running."""
        if not self._alive("slurmctld"):
            return
        jobs = self.run("squeue", "-h", "-o", "%i").stdout.split()
        if jobs:
            self.run("scancel", *jobs)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = self.run("squeue", "-h", "-o", "%T").stdout.split()
            if not states:
                return
            time.sleep(0.1)

    def stop(self) -> None:
        """Cancel the jobs, stop slurmd, slurmctld and munged, and kill any slurmstepd
        of this cluster that is still there (and its processes). Idempotent."""
        with contextlib.suppress(Exception):
            self.cancel_all()
        for name in ("slurmd", "slurmctld"):
            _terminate(self.processes.get(name))
        _kill_steps(self.directory)
        _terminate(self.processes.get("munged"))
        self.processes.clear()

    def _alive(self, name: str) -> bool:
        process = self.processes.get(name)
        return process is not None and process.poll() is None

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _terminate(process: Optional[subprocess.Popen], grace: float = 10) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _process_table() -> dict[int, int]:
    """pid -> ppid of every process."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        table[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    return table


def _kill_steps(directory: Path) -> None:
    """SIGKILL the slurmstepd processes left by this cluster's slurmd and everything
    below them. slurmstepd daemonizes and clears its environment, but it keeps slurmd's
    working directory, which is the cluster's spool directory."""
    spool = (directory / "spool").resolve()
    table = _process_table()
    steps = []
    for pid in table:
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
            cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
        except OSError:
            continue
        if comm == "slurmstepd" and cwd == spool:
            steps.append(pid)
    doomed: list[int] = []
    todo = list(steps)
    while todo:
        pid = todo.pop()
        doomed.append(pid)
        todo += [child for child, parent in table.items() if parent == pid]
    for pid in doomed:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"({path} missing)"


def _wait_idle(cluster: Cluster, timeout: float, states: tuple[str, ...] = ("idle",)
               ) -> None:
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        for name, process in cluster.processes.items():
            if process.poll() is not None:
                log = cluster.directory / "log" / f"{name}.out"
                raise ClusterError(f"{name} exited with {process.returncode}; "
                                   f"{log}:\n{_tail(log)}")
        result = cluster.run("sinfo", "-h", "-N", "-n", cluster.node, "-o", "%T",
                             timeout=10)
        state = result.stdout.strip() or result.stderr.strip()
        if state in states:
            return
        time.sleep(0.1)
    raise ClusterError(f"node {cluster.node} is not idle after {timeout:g} s ({state}); "
                       f"see {cluster.directory / 'log'}")


def _write_munge_key(path: Path) -> None:
    if path.exists():
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
    with os.fdopen(fd, "wb") as key:
        key.write(os.urandom(1024))


def start_cluster(directory: Path, extra: Optional[dict[str, str]] = None,
                  timeout: float = 60) -> Cluster:
    """Start munged, slurmctld and slurmd for a cluster in `directory` (created; as
    root) and return once its node is idle. `extra`: more slurm.conf settings, e.g.
    {"PrivateData": "jobs"}. A directory used before keeps its munge key and Slurm's
    state (jobs it remembers), but gets new ports."""
    if os.geteuid() != 0:
        raise ClusterError("the private Slurm cluster runs its daemons as root")
    missing = missing_binaries()
    if missing:
        raise ClusterError(f"not installed: {' '.join(missing)} (run scripts/setup)")
    directory = Path(directory).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o755)  # slurm.conf and the munge socket are for every user
    for name, mode in (("munge", 0o755), ("state", 0o700), ("spool", 0o755),
                       ("run", 0o755), ("log", 0o755), ("munge-key", 0o700)):
        (directory / name).mkdir(exist_ok=True)
        (directory / name).chmod(mode)
    _write_munge_key(directory / "munge-key" / "munge.key")
    node = node_name()
    ctld_port, slurmd_port = free_ports(2)
    epilog = directory / "epilog"
    epilog.write_text(EPILOG)
    epilog.chmod(0o755)
    # Job ids from a random start: ids of an earlier cluster's jobs (their private dirs
    # in /tmp, if no epilog removed them) never come back.
    defaults = {"FirstJobId": str(secrets.randbelow(8_000_000) + 1_000_000),
                "Epilog": str(epilog)}
    cluster = Cluster(directory, node, ctld_port, slurmd_port,
                      bin_dir=Path(_which("sbatch") or "/usr/bin").parent,
                      extra={**defaults, **(extra or {})})
    cluster.conf.write_text(render_conf(directory, ctld_port, slurmd_port, node,
                                        cluster.extra))
    cluster.conf.chmod(0o644)
    log = directory / "log"
    key_dir = directory / "munge-key"
    commands = {
        "munged": [_which("munged") or "munged", "--foreground",
                   f"--socket={cluster.munge_socket}",
                   f"--key-file={key_dir / 'munge.key'}",
                   f"--pid-file={key_dir / 'munged.pid'}",
                   f"--log-file={log / 'munged.log'}",
                   f"--seed-file={key_dir / 'munged.seed'}"],
        "slurmctld": [_which("slurmctld") or "slurmctld", "-D", "-f", str(cluster.conf)],
        "slurmd": [_which("slurmd") or "slurmd", "-D", "-f", str(cluster.conf),
                   "-N", node],
    }
    env = {**os.environ, "SLURM_CONF": str(cluster.conf)}
    try:
        for name, argv in commands.items():
            with open(log / f"{name}.out", "ab") as out:
                # slurmd's working directory is inherited by every slurmstepd: stop()
                # finds this cluster's steps by it.
                cluster.processes[name] = subprocess.Popen(
                    argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    cwd=directory / "spool", env=env, start_new_session=True)
            if name == "munged":
                _wait_for_path(cluster.munge_socket, cluster.processes[name], log, 10)
        _wait_idle(cluster, timeout)
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _wait_for_path(path: Path, process: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise ClusterError(f"munged did not create {path}; {log / 'munged.out'}:\n"
                               f"{_tail(log / 'munged.out')}")
        time.sleep(0.05)
