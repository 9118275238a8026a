"""The connect-to-job command: a background process that forwards a hub port to the job.

One `Tunnel` is one process (by default `condor_ssh_to_job -ssh "ssh -N -L ..."`),
owned by one spawner instance. It is started with a startup check (if it exits within
the check, it failed, and its stderr says why), watched by `poll()`, and ended by
`stop()`. The process gets SIGTERM when the hub process dies (Linux parent-death
signal), so a restarted hub finds the hub-side port free again and can re-create the
tunnel on the same port, where the proxy's route still points.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import re
import shlex
import signal
import socket
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence

STDERR_LINES_KEPT = 20
READY_POLL = 0.05  # seconds between checks of a starting forward
_PR_SET_PDEATHSIG = 1

# What ssh prints when the hub-side port is taken (bind-then-close race, or a restart).
PORT_TAKEN = re.compile(
    r"Address already in use|cannot listen to port|Could not request local forwarding",
    re.IGNORECASE,
)
# What condor_ssh_to_job prints for the first seconds of a job, and for idle jobs; and
# when the schedd (or the startd it asks) is too busy to answer in time: HTCondor 25
# with hundreds of jobs starting at once (bench/README.md, 1,000 users on HTCondor).
NOT_READY = re.compile(
    r"-auto-retry|Can't connect to schedd|Failed to send GET_JOB_CONNECT_INFO to schedd",
    re.IGNORECASE,
)


class TunnelError(Exception):
    """The connection to the job failed; the message is for the user."""


class CommandTemplateError(ValueError):
    """A command template (exec_prefix, a batch command, connect_to_job_cmd) is wrong."""


class TunnelExited(Exception):
    """The command exited during its startup check."""

    def __init__(self, returncode: int | None, stderr: str) -> None:
        super().__init__(f"exit code {returncode}: {stderr}")
        self.returncode = returncode
        self.stderr = stderr

    @property
    def port_taken(self) -> bool:
        """ssh could not listen on the hub-side port."""
        return bool(PORT_TAKEN.search(self.stderr))

    @property
    def not_ready(self) -> bool:
        """condor_ssh_to_job cannot reach the job yet (it has just started)."""
        return bool(NOT_READY.search(self.stderr))


def uses_rport(template: str) -> bool:
    """`{rport}` in the command means `{port}` is a hub-side port forwarded to it."""
    return "{rport}" in template


def format_command(template: str, fields: Mapping[str, object]) -> list[str]:
    """Split `template` like a shell would, then fill `{field}`s inside each word.

    Values never pass through a shell, so a field value cannot add words or commands.
    """
    try:
        return [word.format(**fields) for word in shlex.split(template)]
    except KeyError as error:
        raise CommandTemplateError(f"command {template!r} uses an unknown field {error}") from None
    except ValueError as error:
        raise CommandTemplateError(f"command {template!r} cannot be read: {error}") from None


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now (another program may still take it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a listener could bind `host:port` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def forward_accepts(port: int, hub_socket: str = "") -> bool:
    """Whether the hub side of a forward (`hub_socket`, else 127.0.0.1:`port`) accepts a
    connection now. The probe connection is closed at once; through ssh it reaches the
    server in the job, which sees a client leave without a request."""
    family, address = ((socket.AF_UNIX, hub_socket) if hub_socket
                       else (socket.AF_INET, ("127.0.0.1", port)))
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        try:
            sock.connect(address)
        except OSError:
            return False
        return True


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every non-empty secret replaced by `[secret]`."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[secret]")
    return text


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the hub process dies (Linux only)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class Tunnel:
    """One connect-to-job process; its stderr is kept (first lines) for the user."""

    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        log: logging.Logger | logging.LoggerAdapter,
        secrets: Iterable[str] = (),
    ) -> None:
        self.argv = list(argv)
        self._env = dict(env)
        self._log = log
        self._secrets = [secret for secret in secrets if secret]
        self._process: asyncio.subprocess.Process | None = None
        self._stderr_lines: list[str] = []
        self._reader: asyncio.Task | None = None

    @property
    def pid(self) -> int | None:
        """The process id, once started."""
        return self._process.pid if self._process else None

    @property
    def returncode(self) -> int | None:
        """None while running."""
        return self._process.returncode if self._process else None

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self._process is not None and self._process.returncode is None

    def _messages(self, lines: int) -> str:
        """The first non-empty lines of stderr, secrets removed, joined; "" if none."""
        kept = [line for line in self._stderr_lines if line.strip()][:lines]
        return redact(" / ".join(kept), self._secrets)

    def stderr_excerpt(self, lines: int = 5) -> str:
        """The first lines of stderr, secrets removed, joined for a one-line message."""
        return self._messages(lines) or "(no error output)"

    def end_description(self) -> str:
        """How the process ended, for the user: its messages, else its exit code."""
        said = self._messages(5)
        if said:
            return said
        code = self.returncode
        return (f"{self.argv[0].rsplit('/', 1)[-1]} exited with code {code} and no message"
                if code is not None else "it ended without a message")

    async def _read_stderr(self) -> None:
        assert self._process is not None and self._process.stderr is not None
        while True:
            line = await self._process.stderr.readline()
            if not line:
                return
            if len(self._stderr_lines) < STDERR_LINES_KEPT:
                self._stderr_lines.append(line.decode(errors="replace").rstrip())

    async def start(
        self,
        startup_check: float,
        ready: Callable[[], bool] | None = None,
        ready_wait: float = 30.0,
    ) -> None:
        """Start the process; raise TunnelExited if it ends before it counts as started.

        Without `ready` it counts as started when it still runs after `startup_check` s.
        With `ready` (the hub side of its forward accepts connections, which ssh allows
        only once it is logged in to the job) it counts as started as soon as that is
        true, mostly well before `startup_check`; a slow login is waited for up to
        `ready_wait` s, after which it counts as started as without a check.
        """
        self._log.info("Starting connect-to-job command: %s", shlex.join(self.argv))
        try:
            self._process = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                env=self._env,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        except OSError as error:
            raise TunnelExited(None, f"cannot run {self.argv[0]}: {error.strerror}") from None
        self._reader = asyncio.ensure_future(self._read_stderr())
        if not await self._exits_before_started(startup_check, ready, ready_wait):
            return
        await self._drain_reader()
        raise TunnelExited(self._process.returncode, self.stderr_excerpt())

    async def _exits_before_started(
        self, startup_check: float, ready: Callable[[], bool] | None, ready_wait: float
    ) -> bool:
        """Whether the process ends before it counts as started (see start())."""
        assert self._process is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (startup_check if ready is None
                                  else max(startup_check, ready_wait))
        exited = asyncio.ensure_future(self._process.wait())
        try:
            while not exited.done():
                if ready is not None and ready():
                    return False
                remaining = deadline - loop.time()
                if remaining <= 0:
                    if ready is not None:
                        self._log.warning("connect-to-job command %s runs, but its forward "
                                          "did not accept connections within %g s",
                                          self._process.pid, ready_wait)
                    return False
                await asyncio.wait({exited}, timeout=min(remaining, READY_POLL)
                                   if ready is not None else remaining)
            return True
        finally:
            exited.cancel()

    async def _drain_reader(self) -> None:
        if self._reader is not None:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._reader, 2)

    async def wait(self) -> int:
        """Wait for the process to end; its exit code."""
        assert self._process is not None
        code = await self._process.wait()
        await self._drain_reader()
        return code

    async def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM to the process group, SIGKILL after `timeout` s."""
        process = self._process
        if process is None or process.returncode is not None:
            await self._drain_reader()
            return
        self._signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except asyncio.TimeoutError:
            self._log.warning("connect-to-job command %s ignored SIGTERM; killing it", process.pid)
            self._signal(signal.SIGKILL)
            await process.wait()
        await self._drain_reader()

    def _signal(self, signum: int) -> None:
        assert self._process is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, signum)
        # os.kill, not send_signal: Popen.send_signal polls first and may reap a command
        # that already ended before asyncio's child watcher does (exit code 255)
        with contextlib.suppress(ProcessLookupError):
            os.kill(self._process.pid, signum)


def _stat_fields(pid: int | str) -> list[str]:
    """/proc/PID/stat after the command name: state, ppid, pgrp, ...; [] if gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def process_gone(pid: int) -> bool:
    """True when `pid` has exited (a zombie nobody reaped counts as gone)."""
    fields = _stat_fields(pid)
    return not fields or fields[0] in ("Z", "X")


def group_members(pgid: int) -> list[int]:
    """Running processes of process group `pgid` (zombies left out)."""
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(entry)
            if fields and fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
                members.append(int(entry))
    return members


def _command_line(pid: int) -> list[str]:
    """The words of /proc/PID/cmdline ([] if it cannot be read)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().decode(errors="replace").split("\0")
    except OSError:
        return []


def _forwards(words: list[str], port: int, hub_socket: str) -> bool:
    """Whether a command line names the hub-side socket or port of the tunnel."""
    if hub_socket:
        return any(hub_socket in word for word in words)
    port_pattern = re.compile(rf"(?<!\d){port}(?!\d)")
    return not port or any(port_pattern.search(word) for word in words)


def tunnel_still_running(pid: int, port: int, job_id: str, hub_socket: str = "") -> bool:
    """Whether `pid` still runs a connect-to-job command for this hub port (or, in
    socket mode, hub socket) and job; or, once it has gone, a process it left in its
    process group still forwards that port or socket (condor_ssh_to_job's ssh outlives
    a condor_ssh_to_job that got a signal).

    The command line is checked, so a reused pid is never taken for a tunnel.
    """
    if not process_gone(pid):
        words = _command_line(pid)
        names_job = any(word == job_id or word.endswith(f"={job_id}") for word in words)
        return names_job and _forwards(words, port, hub_socket)  # Slurm: --jobid=N
    member_lines = (_command_line(member) for member in group_members(pid))
    return any(words and _forwards(words, port, hub_socket) for words in member_lines)


class AdoptedTunnel:
    """A previous hub process's tunnel that is still forwarding, taken over after a restart.

    With `sudo` as exec prefix the parent-death signal does not reach the tunnel (sudo
    changes credentials, which clears it), so the tunnel outlives a hub restart. Then
    the restarted hub adopts it: it is not our child, so it is watched by pid.
    """

    def __init__(self, pid: int, log: logging.Logger | logging.LoggerAdapter) -> None:
        self._pid = pid
        self._log = log

    @property
    def pid(self) -> int:
        """The adopted process's id."""
        return self._pid

    def alive(self) -> bool:
        """Whether the process, or a process it left in its group, is still running."""
        return not process_gone(self._pid) or bool(group_members(self._pid))

    def end_description(self) -> str:
        """How it ended: unknown here, its messages went to the hub process that started
        it (before a restart)."""
        return "it was started before the hub's last restart, so its messages are not known"

    async def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after `timeout` s."""
        for signum in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if group_members(self._pid):  # we started it as a group leader
                    os.killpg(self._pid, signum)
                if not process_gone(self._pid):
                    os.kill(self._pid, signum)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while loop.time() < deadline and self.alive():
                await asyncio.sleep(0.1)
            if not self.alive():
                return
