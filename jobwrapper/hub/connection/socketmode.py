"""Socket mode on the hub (a mixin of JobwrapperSpawner): no TCP listener on either end.

The job's server listens on a unix socket in its scratch dir and reports the path
(api.py checks it). The spawner forwards a hub-side socket to it with
`ssh -L HUB.sock:JOB.sock` and start() returns `http+unix://<percent-encoded HUB.sock>`.

Ownership (docs/socket-mode.md): `socket_dir` belongs to the hub's user, mode 0711;
each user gets `socket_dir/<user>/`, mode 0700, owned by that user when the hub runs
as root, because ssh runs as the user (exec_prefix: sudo) and creates the socket
there, 0600 and owned by the user. The proxy, running as root, connects; other local
users cannot even reach the directory.

JupyterHub stores port 80 for an `http+unix` URL and would route to `…sock:80`; the
`server` property below pins the server's connect URL to the bare socket URL, also
for the Server object a restarted hub builds from its database.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import pwd
import re
import shutil
import subprocess
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import jupyterhub
from jupyterhub.spawner import Spawner
from traitlets import CaselessStrEnum, List, TraitError, Unicode, default, validate
from traitlets.config import LoggingConfigurable

from jobwrapper.protocol import hub_socket_problem

from ..jobcontrol import SpawnFailed

if TYPE_CHECKING:  # the class that hosts this part (hub/host.py)
    from ..host import SpawnerHost

MIN_PROXY = (5, 3, 0)  # 5.1 mangles paths, 5.2 knows only unix+http
MIN_JUPYTERHUB = (6, 1, 1)  # the first version socket mode was tested with
# A name used as it is; others become "_" + a hash, which no such name can start with.
_SAFE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,31}$")


def version_tuple(text: str) -> tuple[int, ...]:
    """(5, 3, 0) from '5.3.0' or 'v5.3.0\\n'; () if there is no version in it."""
    found = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    return tuple(int(part) for part in found.groups() if part is not None) if found else ()


@functools.lru_cache(maxsize=8)
def proxy_version(command: tuple[str, ...]) -> tuple[int, ...]:
    """The proxy's version from `command` (run once per hub process); () if unknown."""
    if not command or not shutil.which(command[0]):
        return ()
    try:
        result = subprocess.run(list(command), capture_output=True, text=True, timeout=20,
                                check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    return version_tuple(result.stdout) if result.returncode == 0 else ()


def decide_mode(setting: str, proxy: tuple[int, ...], hub_version: tuple[int, ...],
                hub_is_root: bool) -> tuple[str, str]:
    """("socket" or "tcp", why) for JobwrapperSpawner.server_mode = `setting`."""
    if setting == "tcp":
        return "tcp", "JobwrapperSpawner.server_mode = 'tcp'"
    if setting == "socket":
        return "socket", "JobwrapperSpawner.server_mode = 'socket'"
    shown = ".".join(map(str, proxy)) or "unknown"
    if proxy < MIN_PROXY:
        return "tcp", (f"configurable-http-proxy {shown} is older than "
                       f"{'.'.join(map(str, MIN_PROXY))} (or not configurable-http-proxy)")
    if hub_version < MIN_JUPYTERHUB:
        return "tcp", (f"JupyterHub {'.'.join(map(str, hub_version))} is older than "
                       f"{'.'.join(map(str, MIN_JUPYTERHUB))}")
    if not hub_is_root:
        return "tcp", ("the hub does not run as root, so it cannot give each user a "
                       "socket directory the proxy may enter (docs/socket-mode.md)")
    return "socket", (f"configurable-http-proxy {shown} and JupyterHub "
                      f"{jupyterhub.__version__} support it")


@functools.lru_cache(maxsize=8)
def _log_decision_once(log: logging.Logger | logging.LoggerAdapter, mode: str, why: str) -> None:
    log.info("JobwrapperSpawner: %s mode: %s", "socket" if mode == "socket" else "TCP", why)


def socket_url(path: str) -> str:
    """`http+unix://` and the percent-encoded path, lower-case as the URL library makes it."""
    return "http+unix://" + quote(path, safe="").lower()


def name_part(name: str) -> str:
    """`name` if it is lower-case and short, else `_` and 16 hex digits of its hash."""
    if _SAFE_NAME.match(name):
        return name
    return "_" + hashlib.sha256(name.encode()).hexdigest()[:16]


def _check_searchable(directory: str) -> None:
    """Every user's ssh must pass through `directory` and its parents (o+x)."""
    while True:
        if not os.stat(directory).st_mode & 0o001:
            raise SpawnFailed(f"Socket mode cannot be used: {directory} (above "
                              "JobwrapperSpawner.socket_dir) is not searchable by other "
                              "users, so your tunnel cannot create its socket; chmod o+x it "
                              "or choose another socket_dir")
        parent = os.path.dirname(directory)
        if parent == directory:
            return
        directory = parent


class SocketMode(LoggingConfigurable):
    """Traits and steps of socket mode (mixed into JobwrapperSpawner; configured as
    ``c.JobwrapperSpawner.server_mode`` etc.)."""

    server_mode = CaselessStrEnum(
        ["auto", "socket", "tcp"],
        "auto",
        help="""'socket': the notebook server listens on a unix socket in the job and the
        proxy reaches it through a forwarded unix socket on the hub: no TCP listener on
        either end. 'tcp': a port on 127.0.0.1 at both ends. 'auto' (default): socket
        mode where configurable-http-proxy >= 5.3.0 and JupyterHub >= 6.1.1 run and the
        hub runs as root; else TCP, and the hub's log says why.""",
    ).tag(config=True)

    socket_dir = Unicode(
        "/run/jobwrapper-hub",
        help="""Directory of the hub-side sockets (socket mode): absolute, lower-case,
        short. Created 0711 for the hub; each user gets a 0700 subdirectory of their own.""",
    ).tag(config=True)

    connect_to_job_socket_cmd = Unicode(
        'condor_ssh_to_job -ssh "ssh -N -oExitOnForwardFailure=yes '
        '-oStreamLocalBindUnlink=yes -L {hub_socket}:{job_socket}" {job_id}',
        help="""The connect-to-job command in socket mode. Fields as for
        connect_to_job_cmd, plus {hub_socket} (the socket the proxy connects to) and
        {job_socket} (the path the job reported). Split like a shell would; no shell.""",
    ).tag(config=True)

    proxy_version_cmd = List(
        Unicode(),
        help="""Command that prints the proxy's version, run once when the mode is
        decided (server_mode = 'auto'). Default: the proxy's own command with --version
        when the proxy is configurable-http-proxy; else empty (TCP mode).""",
    ).tag(config=True)

    socket_hub_id = Unicode(
        help="""This hub's part of the hub-side socket paths (socket_dir/h-<id>/...), so
        that hubs on one machine never share a socket. Default: 8 hex digits of a hash
        of the hub's database URL. Lower-case letters and digits, at most 16.""",
    ).tag(config=True)

    @validate("socket_hub_id")
    def _check_socket_hub_id(self: SpawnerHost, proposal: Any) -> str:
        if not re.fullmatch(r"[a-z0-9]{1,16}", proposal.value):
            raise TraitError(f"JobwrapperSpawner.socket_hub_id = {proposal.value!r}: use 1 to "
                             "16 lower-case letters and digits")
        return proposal.value

    @default("socket_hub_id")
    def _socket_hub_id_default(self: SpawnerHost) -> str:
        db: Any = (getattr(self.user, "settings", None) or {}).get("db")
        try:
            identity = db.get_bind().url.render_as_string(hide_password=True)
        except AttributeError:  # no hub database (unit tests): the hub's API URL
            identity = str(getattr(self.hub, "api_url", ""))
        return hashlib.sha256(identity.encode()).hexdigest()[:8]

    @default("proxy_version_cmd")
    def _proxy_version_cmd_default(self: SpawnerHost) -> list[str]:
        proxy = (getattr(self.user, "settings", None) or {}).get("proxy")
        command = list(getattr(proxy, "command", None) or [])
        if type(proxy).__name__ != "ConfigurableHTTPProxy" or not command:
            return []
        return [*command, "--version"]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Decided (and logged) when the hub creates its first spawner: at start-up for
        # every running server, else at the first login.
        self.mode_decision()  # type: ignore[misc]  # (self is the host, hub/host.py)

    # ---- the mode ------------------------------------------------------------------

    def mode_decision(self: SpawnerHost) -> tuple[str, str]:
        """("socket" or "tcp", why); logged once per hub process."""
        if not self.tunnelled:
            mode, why = "tcp", "connect_to_job_cmd is empty (direct mode)"
            _log_decision_once(self.log, mode, why)
            return mode, why
        proxy = (proxy_version(tuple(self.proxy_version_cmd))
                 if self.server_mode == "auto" else ())
        mode, why = decide_mode(self.server_mode, proxy, version_tuple(jupyterhub.__version__),
                                os.geteuid() == 0)
        _log_decision_once(self.log, mode, why)
        return mode, why

    @property
    def socket_mode(self: SpawnerHost) -> bool:
        """Whether this server runs (or is started) in socket mode."""
        if self.hub_socket:
            return True
        return self.mode_decision()[0] == "socket"

    def server_mode_env(self: SpawnerHost) -> str:
        """JOBWRAPPER_SERVER_MODE for the job: the hub's side must match the job's."""
        return "socket" if self.socket_mode else "tcp"

    # ---- the report (api.py) ---------------------------------------------------------

    def receive_socket(self: SpawnerHost, path: str) -> bool:
        """Called by the API handler with a checked path; False when none is expected now.

        ValueError when this server expects a port (TCP mode).
        """
        if not self.socket_mode:
            raise ValueError("this server runs in TCP mode and expects a port")
        if not self._starting or self.job_socket or self.remote_port:
            return False
        self.job_socket = path
        if self._port_reported is not None:
            self._port_reported.set()
        return True

    # ---- the hub-side socket ------------------------------------------------------------

    def hub_socket_path(self: SpawnerHost) -> str:
        """`socket_dir/h-<hub>/<user>/<server>.sock`; SpawnFailed if unusable in a URL.

        `<hub>` tells hubs on one machine apart (a test hub beside production), so
        one never replaces another's socket for the same user and server name."""
        # the default server is "default.sock", a named one "named-<name>.sock": distinct
        server_part = f"named-{name_part(self.name)}" if self.name else "default"
        path = os.path.join(self.socket_dir, f"h-{self.socket_hub_id}",
                            name_part(self.user.name), f"{server_part}.sock")
        problem = hub_socket_problem(path)
        if problem:
            raise SpawnFailed(f"Socket mode cannot be used: {problem}; fix "
                              "JobwrapperSpawner.socket_dir")
        return path

    def prepare_socket_dir(self: SpawnerHost, path: str) -> None:
        """The 0711 base and hub dirs and the user's 0700 dir, owned so ssh-as-the-user
        can bind."""
        user_dir = os.path.dirname(path)
        hub_dir = os.path.dirname(user_dir)
        base = os.path.dirname(hub_dir)
        os.makedirs(base, mode=0o711, exist_ok=True)
        _check_searchable(os.path.dirname(base))
        for directory in (base, hub_dir):
            with contextlib.suppress(FileExistsError):
                os.mkdir(directory, 0o711)
            # 0711: users pass through to their own directory but cannot list the others
            os.chmod(directory, 0o711)  # noqa: S103
        with contextlib.suppress(FileExistsError):
            os.mkdir(user_dir, 0o700)
        info = os.lstat(user_dir)
        if os.path.islink(user_dir) or not os.path.isdir(user_dir):
            raise SpawnFailed(f"{user_dir} is not a directory; remove it")
        if os.geteuid() == 0:
            account = pwd.getpwnam(self.user.name)
            if (info.st_uid, info.st_gid) != (account.pw_uid, account.pw_gid):
                os.chown(user_dir, account.pw_uid, account.pw_gid)
        os.chmod(user_dir, 0o700)

    async def _start_socket_forward(self: SpawnerHost) -> str:
        """start()'s last steps in socket mode; the URL the proxy goes to."""
        self._event(60, "The notebook server listens on a unix socket in the job; "
                        "connecting to it.")
        await self.connect_socket()
        self._event(80, f"Tunnel up: the hub's socket {self.hub_socket} leads to the job.")
        return socket_url(self.hub_socket)

    async def connect_socket(self: SpawnerHost) -> None:
        """Start the socket forward (hub_socket -> job_socket), with its retries."""
        self.hub_socket = self.hub_socket or self.hub_socket_path()
        self.prepare_socket_dir(self.hub_socket)
        await self.connect(fixed_port=0)

    # ---- the server's URL ---------------------------------------------------------------

    @property
    def server(self: SpawnerHost) -> Any:
        """JupyterHub's Server, its connect URL pinned to the bare socket URL (no `:80`)."""
        server = Spawner.server.fget(self)
        hub_socket = getattr(self, "hub_socket", "")  # unset while Spawner.__init__ runs
        if server is not None and hub_socket:
            url = socket_url(hub_socket)
            if server.host != url:
                server.connect_url = url
        return server

    @server.setter
    def server(self: SpawnerHost, value: Any) -> None:
        Spawner.server.fset(self, value)
