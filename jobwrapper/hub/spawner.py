"""JobwrapperSpawner: batchspawner's CondorSpawner, reached through connect-to-job tunnels.

The lifecycle, stage by stage (docs/hub.md):
  prepare  (as the user) ~/jupyter on the first spawn, the 0700 job dir, the 0600 secrets file
  submit   the rendered templates/notebook.sub on condor_submit's stdin; no secret in it
  queue    condor_q until the job runs; its host
  port     the job POSTs {"port": N} to /hub/api/batchspawner (api.py, strict)
  tunnel   connect_to_job_cmd in the background, startup-checked; the proxy goes to it
  poll     the job must be in the queue and the tunnel alive; after a hub restart the
           tunnel is re-created on the same hub port
  stop     tunnel, condor_rm, wait for the job to leave the queue (~/jupyter comes back),
           remove the secrets file

Batch commands and the tunnel run as argv lists, never through a shell, with a small
environment that holds no token. Every per-user thing lives on the spawner instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import pwd
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from batchspawner import CondorSpawner, JobStatus
from traitlets import Float, Integer, List, Unicode, default

from jobwrapper import compat
from jobwrapper.protocol import END_REASONS, SERVER_BIND_ENV, SERVER_MODE_ENV, SYNC_ENV

from . import (
    api,  # noqa: F401  (installs the strict port handler)
    inherited,
)
from . import secrets as hub_secrets
from .connection.connect import ConnectToJob
from .connection.serverprobe import server_gone
from .connection.socketmode import SocketMode
from .connection.tunnel import AdoptedTunnel, Tunnel, TunnelError
from .formhooks import FormDefaults
from .hubprocess import (  # noqa: F401
    backlog,  # a listen queue for a thousand requests at once
    childwatch,  # no thread per child process, Python < 3.12
    fdlimit,  # raises the hub's open-file limit at start
    sqlitewal,  # the hub's SQLite in WAL mode
)
from .jobcontrol import JobControl, SpawnFailed
from .jupytersync import JupyterSync
from .site.readynotice import ReadyNotice
from .site.waiting import WaitReasons
from .stopreason import StopReasons
from .submit import (
    DEFAULT_TEMPLATE,
    NotebookJob,
    SubmitValueError,
    default_submit_lines,
    render_submit,
)

__all__ = ["JobwrapperSpawner", "SpawnFailed"]


class StartTimeout(TimeoutError):
    """start() ran out of Spawner.start_timeout; JupyterHub shows the text (its own
    timeout has none) and handles it as its own timeout (reason 'timeout')."""

    @property
    def jupyterhub_message(self) -> str:
        return str(self)


class JobwrapperSpawner(
    StopReasons, FormDefaults, SocketMode, ConnectToJob, JupyterSync, WaitReasons, ReadyNotice,
    JobControl, CondorSpawner
):
    """Runs `jobwrapper singleuser` as an HTCondor job and tunnels to it with connect-to-job."""

    batch_system_name = "the HTCondor pool"  # in progress messages (Slurm: hub/slurm/)
    pending_words = "is idle in the queue, waiting for a free slot"
    files_back_words = "Files saved in jupyter/ are back in ~/jupyter."
    end_words: ClassVar[Mapping[str, str]] = {}  # this batch system's words for END_REASONS keys

    connect_to_job_cmd = Unicode(
        'condor_ssh_to_job -ssh "ssh -N -oExitOnForwardFailure=yes -L {port}:localhost:{rport}" '
        "{job_id}",
        help="""Command run in the background once the job has reported its port.

        Fields: {job_id}, {host} (the execute host), {port}, {rport}, and the req_* traits
        without their prefix ({username}, {homedir}, ...). With {rport} in the command,
        {port} is a free port on the hub, {rport} the server's port in the job, and the
        proxy connects to 127.0.0.1:{port}. Without {rport}, {port} is the server's port.
        Empty: classic direct mode, the proxy connects to the execute host itself.
        The command is split like a shell would and each word filled in; no shell runs it.""",
    ).tag(config=True)

    connect_to_job_exec_prefix = Unicode(
        None,
        allow_none=True,
        help="""Prefix for the connect-to-job command; None means the same as exec_prefix.
        A hub that runs as root can leave no sudo process waiting beside each tunnel:
        "setpriv --reuid={uid} --regid={gid} --init-groups --pdeathsig keep --"
        (docs/hub.md, "The tunnel's exec prefix").""",
    ).tag(config=True)

    connect_to_job_startup_check = Float(
        1.0,
        help="""Seconds a connect-to-job command must keep running to count as started,
        for commands whose hub side cannot be checked. A forward to a hub port
        ({rport} in connect_to_job_cmd) or to a hub socket counts as started as soon as
        it accepts connections (ssh listens only once it is logged in to the job),
        which is sooner, and a slow login is waited for up to
        connect_to_job_ready_timeout.""",
    ).tag(config=True)

    connect_to_job_retry_interval = Float(
        0.5,
        help="""Seconds before the second connect-to-job attempt while condor_ssh_to_job
        cannot reach the job yet; each further wait is 1.5 times longer, up to 1 s. A
        failed attempt costs one condor_ssh_to_job run (a query to the schedd); the job
        becomes reachable when its starter first reports to the schedd
        (STARTER_INITIAL_UPDATE_INTERVAL, docs/hub.md "How long a spawn takes").""",
    ).tag(config=True)

    connect_to_job_ready_timeout = Float(
        60.0,
        help="""Seconds to keep retrying while condor_ssh_to_job cannot reach the job yet
        (it fails for 5-10 s after a job starts, asking for -auto-retry).""",
    ).tag(config=True)

    connect_to_job_port_attempts = Integer(
        5, help="New hub-side ports to try when the chosen one was taken meanwhile."
    ).tag(config=True)

    stop_timeout = Float(
        60.0,
        help="""Seconds stop() waits for the removed job to leave the queue, so that its
        ~/jupyter is transferred back before the server counts as stopped.""",
    ).tag(config=True)

    jobwrapper_path = Unicode(
        help="Absolute path of the `jobwrapper` command on the execute nodes.",
    ).tag(config=True)

    @default("jobwrapper_path")
    def _jobwrapper_path_default(self) -> str:
        return str(Path(sys.executable).parent / "jobwrapper")

    singleuser_args = List(
        Unicode(),
        ["singleuser"],
        help="""Arguments of jobwrapper in the job; Spawner.args follow after `--` and
        go to the server. Spawner.cmd is not used: jobwrapper starts the server.""",
    ).tag(config=True)

    submit_template = Unicode(
        str(DEFAULT_TEMPLATE), help="Path of the submit description template (notebook.sub)."
    ).tag(config=True)

    keep_claim_idle = Integer(
        0,
        min=0,
        help="""Seconds the schedd keeps a notebook's claim after the job ended
        (`+KeepClaimIdle`): the user's next notebook that fits into it starts there
        without waiting for a negotiation cycle (a restart: seconds sooner). The slot
        stays claimed and unused meanwhile. 0: no such line (HTCondor's default).
        docs/hub.md, "How long a spawn takes".""",
    ).tag(config=True)


    job_environment_allow = List(
        Unicode(),
        ["JUPYTERHUB_*", "MEM_LIMIT", "MEM_GUARANTEE", "CPU_LIMIT", "CPU_GUARANTEE"],
        help="""Variables of the server's environment passed in the submit description's
        `environment` (a trailing * matches a prefix), plus every key of
        Spawner.environment. Secret ones (the token, anything holding it) never are:
        they go into the 0600 secrets file.""",
    ).tag(config=True)

    batch_env_keep = List(
        Unicode(),
        ["PATH", "LANG", "LC_ALL", "CONDOR_CONFIG", "JOBWRAPPER_LOCALPOOL_DIR"],
        help="Variables of the hub's environment the batch commands and the tunnel get.",
    ).tag(config=True)

    secrets_helper_cmd = List(
        Unicode(),
        help="""Command run as the user (after exec_prefix) that writes and removes the
        secrets file: this package's secrets.py (standard library only) under the hub's
        python, or /usr/bin/python3 when other users cannot run the hub's python.""",
    ).tag(config=True)

    @default("secrets_helper_cmd")
    def _secrets_helper_cmd_default(self) -> list[str]:
        return hub_secrets.helper_command()

    req_uid = Unicode(
        help="""The user's numeric uid on the hub: the {uid} of command templates, e.g.
        connect_to_job_exec_prefix = "setpriv --reuid={uid} --regid={gid} --init-groups
        --pdeathsig keep --" (docs/hub.md). Empty when the hub has no such user.""",
    )

    req_gid = Unicode(help="The user's primary gid on the hub: the {gid} of command templates.")

    @default("req_uid")
    def _req_uid_default(self) -> str:
        with contextlib.suppress(KeyError):
            return str(pwd.getpwnam(self.user.name).pw_uid)
        return ""

    @default("req_gid")
    def _req_gid_default(self) -> str:
        with contextlib.suppress(KeyError):
            return str(pwd.getpwnam(self.user.name).pw_gid)
        return ""

    @default("req_memory")
    def _req_memory_default(self) -> str:
        return inherited.DEFAULT_MEMORY

    @default("req_nprocs")
    def _req_nprocs_default(self) -> str:
        return inherited.DEFAULT_NPROCS

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        problem = inherited.problem(self.config, self.resource_form, self.get_req_subvars_raw())
        if problem:
            raise SpawnFailed(problem)
        self.remote_port = self.local_port = 0
        self.job_socket = self.hub_socket = ""  # socket mode (socketmode.py)
        self.job_host = ""
        self.tunnel_pid = 0
        self._tunnel: Tunnel | AdoptedTunnel | None = None
        self._tunnel_failure = ""
        self._starting = False
        self._events: list[dict[str, Any]] = []
        self._events_changed: asyncio.Event | None = None
        self._port_reported: asyncio.Event | None = None
        self._server_end = ""  # a protocol.END_REASONS key, or "gone" (found by a probe)
        self._ending: asyncio.Future | None = None
        self._notify: asyncio.Future | None = None

    # ---- state -------------------------------------------------------------------

    def get_state(self) -> dict[str, Any]:
        """Job id (batchspawner), the server's port or socket in the job, the hub port or
        socket, the host, the tunnel's pid."""
        state = super().get_state()
        for key in ("remote_port", "local_port", "job_socket", "hub_socket", "job_host",
                    "tunnel_pid"):
            if getattr(self, key):
                state[key] = getattr(self, key)
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore after a hub restart; the tunnel is re-created by the next poll()."""
        super().load_state(state)
        self.remote_port = int(state.get("remote_port", 0))
        self.local_port = int(state.get("local_port", 0))
        self.job_host = str(state.get("job_host", ""))
        self.job_socket = str(state.get("job_socket", ""))
        self.hub_socket = str(state.get("hub_socket", ""))
        self.tunnel_pid = int(state.get("tunnel_pid", 0))

    def clear_state(self) -> None:
        """Forget the job (after stop)."""
        super().clear_state()
        self.remote_port = self.local_port = self.tunnel_pid = 0
        self.job_host = self.job_socket = self.hub_socket = ""
        self._tunnel = None
        self._tunnel_failure = ""
        self._server_end = ""
        self._ending = None

    # ---- progress ----------------------------------------------------------------

    def _event(self, progress: int, message: str) -> None:
        self.log.info("%s: %s", self._log_name, message)
        self._events.append({"progress": progress, "message": message})
        if self._events_changed is not None:
            self._events_changed.set()

    async def progress(self):
        """Yield the spawn's progress messages as start() records them."""
        sent = 0
        while True:
            while sent < len(self._events):
                yield self._events[sent]
                sent += 1
            if not (self._starting or self._spawn_pending):
                return
            if self._events_changed is None:
                self._events_changed = asyncio.Event()
            self._events_changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._events_changed.wait(), 1.0)

    # ---- the port report (api.py) -------------------------------------------------

    def receive_port(self, port: int) -> bool:
        """Called by the strict API handler; False when no port is expected now.

        ValueError in socket mode, where only a socket path is accepted."""
        if self.socket_mode:
            raise ValueError("this server runs in socket mode and expects a socket path")
        if not self._starting or self.remote_port:
            return False
        self.remote_port = port
        if self._port_reported is not None:
            self._port_reported.set()
        return True

    def receive_end(self, reason: str) -> bool:
        """Called by the API handler when the job says its server ends on purpose
        (`reason` is a protocol.END_REASONS key); False when no server is running.

        The tunnel is closed at once, so that HTCondor lets the job leave the queue
        (an open condor_ssh_to_job session keeps it Running), and JupyterHub learns
        of the end as soon as the job has left with its files. A "signal" report while
        the hub itself stops the server is what that stop caused: taken, nothing to do
        (refused, it would put a warning in the hub's log at every stop)."""
        if self._stop_pending and reason == "signal" and self.job_id:
            return True
        if self._starting or not self.job_id or self._server_end or self._stop_pending:
            return False
        self._server_end = reason
        self.log.info("%s: the job says its server ends: %s", self._log_name, reason)
        self._notify = asyncio.ensure_future(self.poll_and_notify())
        return True

    # ---- start ---------------------------------------------------------------------

    @property
    def tunnelled(self) -> bool:
        """Whether a connect-to-job command is configured (else direct mode)."""
        return bool(self.connect_to_job_cmd.strip())

    async def get_options_form(self) -> str:
        """The form, with the pool's free resources no older than pool_status_max_age
        (one cached condor_status for the hub, site/poolstatus.py)."""
        if self.resource_form:
            await self.pool_free(timeout=2.0)  # a slow condor_status: the last answer
        return await super().get_options_form()

    async def start(self) -> tuple[str, int] | str:
        """Prepare files, submit, wait for the job and its port or socket, connect;
        (ip, port), or in socket mode the `http+unix://` URL of the hub-side socket.
        A spawn that took long runs the site's ready_notify_cmd (site/readynotice.py)."""
        began = asyncio.get_running_loop().time()
        # Our own deadline, just before JupyterHub's: its asyncio.wait_for raises a
        # TimeoutError without text, and the spawn page said only "Spawn failed: ".
        limit = float(self.start_timeout)
        deadline = limit - min(1.0, limit / 10)
        try:
            result = await asyncio.wait_for(self._start_job(), deadline)
        except asyncio.TimeoutError:
            if asyncio.get_running_loop().time() - began < deadline:
                raise  # a timeout of a step inside, with its own message
            raise StartTimeout(self._timeout_message(limit)) from None
        self.notify_ready(asyncio.get_running_loop().time() - began)
        return result

    def _timeout_message(self, limit: float) -> str:
        """What the spawn page says when start_timeout ran out: where the start was."""
        last = self._events[-1]["message"] if getattr(self, "_events", None) else ""
        where = f" Its last step: {last}" if last else ""
        return (f"The notebook did not start within {limit:g} s (the hub's "
                f"Spawner.start_timeout).{where} The job is removed; start again, perhaps "
                "with fewer resources, or ask your admins.")

    async def _start_job(self) -> tuple[str, int] | str:
        self._events = []
        self._events_changed = asyncio.Event()
        self._port_reported = asyncio.Event()
        self.remote_port = self.local_port = self.tunnel_pid = 0
        self.job_socket = self.hub_socket = ""
        self._tunnel, self._tunnel_failure = None, ""
        self._starting = True
        if rest_spawn_without_options(getattr(self, "handler", None)):
            self.log.info("%s: REST spawn without options: the site's defaults", self._log_name)
            self.user_options = {}
            if self.orm_spawner is not None:
                self.orm_spawner.user_options = {}
        try:
            # Only seeds JUPYTERHUB_SERVICE_URL; the job puts its own address there
            # (loopback, or in direct mode the execute host's, JOBWRAPPER_SERVER_BIND).
            self.ip = "127.0.0.1"
            self.port = 0
            environment, secret = self._job_environment()
            await self.write_secrets(secret)
            await self.snapshot_jupyter()
            await self.submit_job(self._submit_description(environment))
            self._event(10, f"Submitted job {self.job_id} to {self.batch_system_name}.")
            self.job_host = await self._wait_until_running()
            self.stop_watch_wait()
            self._event(40, f"Job {self.job_id} is running on {self.job_host}.")
            await self._wait_for_port()
            if self.job_socket:
                return await self._start_socket_forward()
            if not self.tunnelled:
                return self.job_host, self.remote_port
            self._event(
                60,
                f"The notebook server listens on port {self.remote_port} in the job; "
                "connecting to it.",
            )
            await self.connect(fixed_port=0)
            self._event(80, f"Tunnel up: hub port {self.local_port} leads to the job.")
            return "127.0.0.1", self.local_port
        finally:
            self._starting = False
            self.stop_watch_wait()

    def _job_environment(self) -> tuple[dict[str, str], dict[str, str]]:
        """(public, secret) parts of the server's environment."""
        public, secret = hub_secrets.split_environment(self.get_env(), [self.api_token])
        allow = [*self.job_environment_allow, *self.environment]
        public = hub_secrets.allowed(public, allow)
        public[hub_secrets.SECRETS_ENV] = hub_secrets.SECRETS_FILE_NAME
        public[SERVER_MODE_ENV] = self.server_mode_env()
        public[SERVER_BIND_ENV] = "loopback" if self.tunnelled else "direct"
        public[SYNC_ENV] = "1"  # the job records what arrives and leaves (hub/sync.py)
        return public, secret

    @property
    def job_dir(self) -> str:
        """The per-server directory, relative to the home dir."""
        return hub_secrets.job_dir_for(self.name)

    def get_req_subvars_raw(self) -> dict[str, str]:
        """The req_* traits that are the site's defaults (inherited.HONOURED), by name."""
        return {name: getattr(self, name) for name in inherited.HONOURED}

    def submit_options(self) -> dict[str, Any]:
        """The user's options; without the form, over the site's defaults (req_*)."""
        options = dict(self.user_options or {})
        if self.resource_form or self.options_to_submit_lines is not default_submit_lines:
            return options
        return {**inherited.site_defaults(self.get_req_subvars_raw()), **options}

    def site_submit_lines(self) -> list[str]:
        """Submit lines from the site's spawner settings (after the user's options)."""
        return [f"+KeepClaimIdle = {self.keep_claim_idle}"] if self.keep_claim_idle else []

    def _submit_description(self, environment: Mapping[str, str]) -> str:
        try:
            option_lines = [*self.options_to_submit_lines(self.submit_options()),
                            *self.site_submit_lines()]
            job = NotebookJob(
                executable=self.jobwrapper_path,
                arguments=[*self.singleuser_args, *(["--", *self.args] if self.args else [])],
                home=pwd.getpwnam(self.user.name).pw_dir,
                job_dir=self.job_dir,
                secrets_file=f"{self.job_dir}/{hub_secrets.SECRETS_FILE_NAME}",
                environment=environment,
                hub_user=self.user.name,
                hub_server=self.name,
                option_lines=option_lines,
            )
            return render_submit(job, Path(self.submit_template).read_text())
        except (SubmitValueError, KeyError, inherited.InheritedSettingError) as error:
            raise SpawnFailed(f"Your notebook job could not be described: {error}") from None

    async def _wait_until_running(self) -> str:
        """Query until the job runs; the interval grows (x1.5, up to 5 s) for long queues.

        A port or socket reported meanwhile ends the wait at once: the job runs, and the
        next query, up to 5 s away in a long wait, would only say so later. Its host is
        then asked for only in direct mode, where the URL needs it."""
        said_idle = False
        interval = self.startup_poll_interval
        while True:
            status = await self.query_job_status()
            if status == JobStatus.RUNNING:
                return self.state_gethost() or "an execute node"
            if status == JobStatus.PENDING and not said_idle:
                self._event(20, f"Job {self.job_id} {self.pending_words}.")
                said_idle = True
                self.watch_wait()  # says why, if it stays idle (site/waiting.py)
            elif status == JobStatus.NOTFOUND:
                raise SpawnFailed(await self.explain_gone("before the notebook server started"))
            if await self._reported_within(interval):
                if not self.tunnelled:
                    await self.query_job_status()
                elif not self.state_isrunning():
                    # the queue has not said so yet, nor where: batchspawner's
                    # state_gethost would log an error for a status without a host
                    return "an execute node"
                return self.state_gethost() or "an execute node"
            interval = min(interval * 1.5, max(self.startup_poll_interval, 5.0))

    async def _reported_within(self, seconds: float) -> bool:
        """Wait up to `seconds` for the job's port or socket report; whether it came."""
        assert self._port_reported is not None
        try:
            await asyncio.wait_for(self._port_reported.wait(), seconds)
        except asyncio.TimeoutError:
            return False
        return True

    async def _wait_for_port(self) -> None:
        assert self._port_reported is not None
        self._event(50, "Waiting for the notebook server in the job to start.")
        while not (self.remote_port or self.job_socket):
            try:
                await asyncio.wait_for(self._port_reported.wait(), 2.0)
            except asyncio.TimeoutError:
                # a failed query (UNKNOWN) or an evicted, idle job may still report
                if await self.query_job_status() == JobStatus.NOTFOUND:
                    raise SpawnFailed(
                        await self.explain_gone("before the notebook server started")
                    ) from None

    # ---- poll and stop -----------------------------------------------------------------

    async def poll(self) -> int | None:
        """None while the job is queued or running and its tunnel alive; else an exit code.

        A dead tunnel removes the job (its data still comes back on exit) and says why
        in the log. After a hub restart the missing tunnel is re-created, not mourned.
        """
        if self._starting:
            return None
        if not self.job_id:
            return 0
        if self._tunnel_failure:
            return 1
        if self._server_end:
            return await self._after_server_end()
        status = await self.query_job_status()
        if status in (JobStatus.PENDING, JobStatus.UNKNOWN):
            return None
        if status != JobStatus.RUNNING:
            reason = await self.explain_gone("while running")
            self.log.warning("%s: %s", self._log_name, reason)
            self.record_stop_reason(reason)
            if self.job_status.startswith("5,"):  # held: still in the queue, holding a slot
                await self.remove_job_quietly()
                await self.wait_until_gone(self.stop_timeout)
            await self.end_tunnel()
            merged = await self.merge_jupyter()
            if merged:
                self.record_stop_reason(f"{reason} {merged}")
            await self.remove_secrets()
            self.clear_state()
            return 1
        if not self.tunnelled:
            return None
        if self._tunnel is None:
            try:
                await self.reconnect()
            except TunnelError as error:
                return await self._give_up(str(error))
        elif not self._tunnel.alive():
            return await self._give_up(
                f"The connection to job {self.job_id} ended "
                f"({self._tunnel.end_description()}); the job is being stopped."
            )
        elif await server_gone(self.local_port, self.hub_socket):
            self._server_end = "gone"
            return await self._after_server_end()
        return None

    async def _after_server_end(self) -> int:
        """The server ended while its job still runs (kept by our tunnel): close the
        tunnel, let the job leave the queue with its files (condor_rm if it does not
        within stop_timeout), say why. Shared by concurrent polls."""
        if self._ending is None:
            self._ending = asyncio.ensure_future(self._end_after_server())
        return await asyncio.shield(self._ending)

    async def _end_after_server(self) -> int:
        job_id, reason = self.job_id, self._server_end
        await self.end_tunnel()
        if not await self.wait_until_gone(self.stop_timeout):
            await self.remove_job_quietly()
            await self.wait_until_gone(self.stop_timeout)
        if reason in END_REASONS:
            from .site import sessiontime

            said = (sessiontime.idle_end_text(sessiontime.idle_minutes(self))
                    if reason == "idle" else self.end_words.get(reason, END_REASONS[reason]))
            message = f"Your notebook job {job_id} ended: {said}. {self.files_back_words}"
        else:
            message = (f"Your notebook job {job_id} ended: its notebook server exited "
                       "without saying why (a crash, or killed, for example for using more "
                       f"memory than requested). Its log is in ~/{self.job_dir}/ (job.err).")
        merged = await self.merge_jupyter()
        self.log.warning("%s: %s", self._log_name, message)
        self.record_stop_reason(f"{message} {merged}".strip())
        await self.remove_secrets()
        self.clear_state()
        return 0 if reason in END_REASONS else 1

    async def _give_up(self, reason: str) -> int:
        self._tunnel_failure = reason
        self.log.warning("%s: %s", self._log_name, reason)
        self.record_stop_reason(reason)
        await self.end_tunnel()
        await self.remove_job_quietly()
        return 1

    async def stop(self, now: bool = False) -> None:
        """End the tunnel, remove the job, wait for it to leave the queue (unless now)."""
        self._starting = False
        await self.end_tunnel()
        if self.job_id:
            self.log.info("%s: stopping job %s", self._log_name, self.job_id)
            await self.remove_job_quietly()
            if not now:
                await self.wait_until_gone(self.stop_timeout)
                merged = await self.merge_jupyter()
                if merged:
                    self.record_stop_reason(f"Your notebook job {self.job_id} was stopped. "
                                            f"{merged}")
        await self.remove_secrets()

    def save_state(self) -> None:
        """Write get_state() to the hub's database now (after a re-created tunnel)."""
        if self.orm_spawner is None:
            return
        from sqlalchemy.orm import object_session

        session = object_session(self.orm_spawner)
        self.orm_spawner.state = self.get_state()
        if session is not None:
            session.commit()

    def secrets_json(self, secret: Mapping[str, str]) -> str:
        """The secrets file's content (for write_secrets)."""
        return json.dumps(dict(secret))


def rest_spawn_without_options(handler: Any) -> bool:
    """Whether this spawn is a REST request that named no options (JupyterHub would
    reuse the previous spawn's; REST clients get the site's defaults, docs/hub.md)."""
    request = getattr(handler, "request", None)
    if request is None or "/hub/api/" not in getattr(request, "path", ""):
        return False
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return False
    if not isinstance(body, dict):
        return False
    if "user_options" in body or "display_name" in body:
        return not body.get("user_options")
    return not body


def refuse_inherited_settings(app: Any) -> None:
    """At hub start (compat.run_before_spawners): a batchspawner setting that would be
    ignored stops the hub with one line (inherited.py). Not for a hub whose spawner is
    another one (stock batchspawner, whose settings they are)."""
    spawner_class = getattr(app, "spawner_class", None)
    if not (isinstance(spawner_class, type) and issubclass(spawner_class, JobwrapperSpawner)):
        return
    config = app.config
    values: dict[str, Any] = {}
    for section in reversed(inherited.SECTIONS):
        if section in config:
            values.update(config[section])
    problem = inherited.problem(config, bool(values.get("resource_form", False)),
                                {k: str(v) for k, v in values.items() if k.startswith("req_")})
    if problem:
        app.log.critical(problem)
        raise SystemExit(1)


compat.run_before_spawners(refuse_inherited_settings)
