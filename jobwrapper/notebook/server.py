"""The single-user server's configuration, as data: pure functions, no I/O.

The jupyter config is written as JSON (``jupyter_server_config.json``) into the
job's private config dir, which is first in ``JUPYTER_CONFIG_PATH``; our extensions
are enabled in ``jupyter_server_config.d/jobwrapper.json`` (the place
``jupyter server extension enable`` writes to, so it merges with other extensions);
JupyterLab extensions are disabled in ``labconfig/page_config.json`` (what
``jupyter labextension disable`` writes), and JupyterLab's setting defaults are changed
in ``labconfig/default_setting_overrides.json`` (jupyterlab_server layers it over the
environment's ``share/jupyter/lab/settings/overrides.json``; a user's own settings
still win). Nothing is written into the (shared, read-only) environment.
"""

from __future__ import annotations

import ipaddress
import os
import pwd
import socket
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Callable, Optional

from jobwrapper import protocol
from jobwrapper.config import SiteConfig
from jobwrapper.errors import ServerError
from jobwrapper.job.classad import Ad

# Our server extensions: the port hand-over/report, and the desktop developer's
# lifecycle extension (SIGTERM, process-tree cleanup, runtime-limit warnings).
SERVER_EXTENSIONS = {
    "jobwrapper.inserver.hubreport": True,
    "jobwrapper.inserver.lifecycle": True,
    "jupyter_server_proxy": True,
    "jupyter_resource_usage": True,
}
LOOPBACK = "127.0.0.1"
# Set by the hub (JobwrapperSpawner) in the job's environment; wins over server.bind:
# "direct" when the hub's connect_to_job_cmd is empty (its proxy connects to the
# execute host), else "loopback" (it tunnels to 127.0.0.1).
SERVER_BIND_ENV = protocol.SERVER_BIND_ENV
SERVER_BINDS = ("loopback", "direct")
# Set by the hub (JobwrapperSpawner) in the job's environment; wins over server.mode,
# because the hub's side of the connection (port or socket forward) must match.
SERVER_MODE_ENV = protocol.SERVER_MODE_ENV
SERVER_MODES = ("tcp", "socket")
IPC_KERNEL_MANAGER = "jobwrapper.inserver.ipckernels.IpcKernelManager"
IPC_DIR_NAME = "k"  # short: ipc socket paths must fit in 107 bytes
# In socket mode JUPYTERHUB_SERVICE_URL keeps ServerApp's default port, only a label:
# ServerApp refuses --sock together with any other port.
SOCKET_MODE_PORT_LABEL = 8888


def server_bind(config: SiteConfig, environ: Mapping[str, str]) -> tuple[str, str]:
    """(bind, why): "loopback" or "direct" and the reason, for the plan and for doctor."""
    asked = environ.get(SERVER_BIND_ENV, "")
    if asked:
        if asked not in SERVER_BINDS:
            raise ServerError(f"{SERVER_BIND_ENV}={asked!r} in the job's environment is not "
                              "'loopback' or 'direct'; check the hub's JobwrapperSpawner "
                              "(it sets it from connect_to_job_cmd)")
        return asked, f"asked by the hub ({SERVER_BIND_ENV})"
    return config.server.bind, setting_origin(config, "server", "bind")


def setting_origin(config: SiteConfig, section: str, key: str) -> str:
    """Where a site config value came from, in words: the file that sets it, or the
    default (and why: no file, or the file does not set the key)."""
    name = f"{section}.{key}"
    if not config.path:
        return f"{name}'s default; there is no site config"
    if key in (config.raw.get(section) or {}):
        return f"{name} in {config.path}"
    return f"{name}'s default; {config.path} does not set it"


def server_mode(config: SiteConfig, environ: Mapping[str, str]) -> tuple[str, str]:
    """(mode, why): "tcp" or "socket" and the reason, for the plan and for doctor."""
    asked = environ.get(SERVER_MODE_ENV, "")
    if asked:
        if asked not in SERVER_MODES:
            raise ServerError(f"{SERVER_MODE_ENV}={asked!r} in the job's environment is not "
                              "'tcp' or 'socket'; check the hub's JobwrapperSpawner.server_mode")
        mode, why = asked, f"asked by the hub ({SERVER_MODE_ENV})"
    else:
        mode, why = config.server.mode, setting_origin(config, "server", "mode")
    if mode == "socket":
        bind, bind_why = server_bind(config, environ)
        if bind == "direct":
            where = f"{config.path or 'site config'}: "
            if bind_why.startswith("server.bind"):
                fix = "set server.bind = \"loopback\""
            elif why.startswith("server.mode"):
                fix = "set server.mode = \"tcp\""
            else:
                where, fix = "", "check the hub's connect_to_job_cmd and server_mode"
            raise ServerError(f"{where}direct mode ({bind_why}) cannot be used in socket "
                              f"mode ({why}); {fix}")
    return mode, why


def socket_path(private_dir: str) -> str:
    """The server's unix socket in socket mode; ServerError if the hub would refuse it."""
    path = protocol.job_socket_path(private_dir)
    problem = protocol.job_socket_problem(path)
    if problem:
        raise ServerError(f"{path}: cannot be the server's socket ({problem}); socket mode "
                          "needs a short, lower-case scratch dir, else use server.mode = "
                          "\"tcp\"")
    return path


Resolver = Callable[[str], Sequence[str]]


def resolve_host(name: str) -> list[str]:
    """The addresses ``name`` resolves to on this host, in getaddrinfo's order."""
    return [str(info[4][0]) for info in socket.getaddrinfo(name, None,
                                                           type=socket.SOCK_STREAM)]


@dataclass(frozen=True)
class Bind:
    """Where the server listens in TCP mode, and why."""

    choice: str  # "loopback" or "direct"
    reason: str  # who chose it: the hub (JOBWRAPPER_SERVER_BIND) or the site config
    address: str  # the IP literal the server listens on
    source: str = ""  # direct mode: where the address comes from

    def __str__(self) -> str:
        if self.choice == "loopback":
            return f"loopback ({self.reason}): {self.address}, reached through the tunnel"
        return (f"direct ({self.reason}): {self.address} ({self.source}), where the hub's "
                "proxy connects")


def execute_host_name(machine_ad: Ad) -> tuple[str, str]:
    """The name the hub connects to in direct mode (RemoteHost ``slot1@NAME``), and its
    source: the machine ad's ``Machine``, else this host's fully qualified name."""
    name = machine_ad.get("Machine")
    if isinstance(name, str) and name.strip():
        return name.strip(), "the machine ad's Machine"
    return socket.getfqdn(), "this host's name; the machine ad has no Machine"


def direct_address(config: SiteConfig, machine_ad: Ad, resolve: Resolver = resolve_host
                   ) -> tuple[str, str]:
    """(address, source): server.direct_address, else the first address the execute
    host's name resolves to that is not unspecified (0.0.0.0, ::)."""
    explicit = config.server.direct_address
    if explicit:
        return explicit, "server.direct_address"
    name, source = execute_host_name(machine_ad)
    fix = "set server.direct_address to the address the hub reaches"
    try:
        found = list(resolve(name))
    except (OSError, ValueError) as error:  # ValueError: UnicodeError, a NUL in the name
        reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        raise ServerError(f"cannot resolve the execute host's name {name!r} ({source}) for "
                          f"direct mode: {reason}; {fix}") from None
    for address in found:
        try:
            unspecified = ipaddress.ip_address(address).is_unspecified
        except ValueError:
            continue
        if not unspecified:
            return address, f"{name} resolved, {source}"
    raise ServerError(f"the execute host's name {name!r} ({source}) resolves to no usable "
                      f"address for direct mode ({', '.join(found) or 'none'}); {fix}")


def bind_address(config: SiteConfig, environ: Mapping[str, str], machine_ad: Ad,
                 resolve: Resolver = resolve_host) -> Bind:
    """127.0.0.1 (the tunnel reaches it) unless the hub or the site chose direct mode:
    then the execute host's own address, the one the hub's proxy connects to. Never
    all interfaces."""
    choice, reason = server_bind(config, environ)
    if choice != "direct":
        return Bind(choice, reason, LOOPBACK)
    address, source = direct_address(config, machine_ad, resolve)
    return Bind(choice, reason, address, source)


def describe_bind(config: SiteConfig, environ: Mapping[str, str], machine_ad: Ad,
                  resolve: Resolver = resolve_host) -> str:
    """One line for ``jobwrapper plan``: where the notebook server would listen, and why;
    a problem is shown, not raised (plan only shows)."""
    try:
        mode, why = server_mode(config, environ)
        if mode == "socket":
            return f"Notebook server: socket mode ({why}), no TCP port"
        return f"Notebook server bind: {bind_address(config, environ, machine_ad, resolve)}"
    except ServerError as error:
        return f"Notebook server bind: cannot be decided: {error}"


def host_port(ip: str, port: int) -> str:
    """``ip:port``, with an IPv6 address in brackets (``[fd00::2]:8888``)."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


NO_LOGIN_SHELLS = ("nologin", "false", "sync", "halt", "shutdown")


def login_shell(uid: int) -> str:
    """The user's login shell from the passwd database; "" if it is none to log in with."""
    try:
        shell = pwd.getpwuid(uid).pw_shell
    except KeyError:
        return ""
    if not shell or os.path.basename(shell) in NO_LOGIN_SHELLS or not os.access(shell, os.X_OK):
        return ""
    return shell


def terminal_shell(config: SiteConfig, environ: Mapping[str, str], passwd_shell: str
                   ) -> dict[str, str]:
    """SHELL for the server, so that JupyterLab's terminals start the user's shell:
    HTCondor sets none, and terminado then falls back to `sh`. The site's
    server.terminal_shell wins, then a SHELL the job already has, then the passwd
    database's login shell, then /bin/bash."""
    chosen = (config.server.terminal_shell or environ.get("SHELL")
              or passwd_shell or "/bin/bash")
    return {"SHELL": chosen}


def notebook_dir(scratch_dir: Optional[str], config: SiteConfig, environ: Mapping[str, str]
                 ) -> str:
    """``$_CONDOR_SCRATCH_DIR/jupyter`` (the transferred ~/jupyter); outside a job, ./jupyter."""
    base = scratch_dir or environ.get("PWD") or os.getcwd()
    return os.path.join(base, config.server.notebook_dir)


def disabled_extensions(config: SiteConfig, container_os: Optional[str]) -> list[str]:
    """JupyterLab extensions to disable in this container OS (and in every OS: '*')."""
    table = config.jupyterlab.disabled_extensions
    names = [*table.get("*", []), *(table.get(container_os, []) if container_os else [])]
    return list(dict.fromkeys(names))


def proxy_servers(config: SiteConfig) -> dict[str, dict[str, Any]]:
    """The site's extra jupyter-server-proxy entries, as ``ServerProxy.servers``."""
    servers = {}
    for name, entry in config.proxies.items():
        server: dict[str, Any] = {
            "command": list(entry.get("command", [])),
            "timeout": entry.get("timeout", 30),
            "environment": dict(entry.get("environment", {})),
            "unix_socket": entry.get("unix_socket", True),
            "absolute_url": False,
        }
        server["launcher_entry"] = {"enabled": True, "title": entry.get("title") or name}
        servers[name] = server
    return servers


def resource_usage(memory_bytes: Optional[int], cores: int, scratch_dir: Optional[str]
                   ) -> dict[str, Any]:
    """jupyter-resource-usage: the job's limits, never the whole host's usage."""
    settings: dict[str, Any] = {
        "cpu_limit": float(cores),
        "track_cpu_percent": True,
        "show_host_usage": False,
        "enable_prometheus_metrics": False,
    }
    if memory_bytes:
        settings["mem_limit"] = memory_bytes
    if scratch_dir:
        settings["track_disk_usage"] = True
        settings["disk_path"] = scratch_dir
    return settings


def jupyter_config(*, config: SiteConfig, root_dir: str, ip: str, memory_bytes: Optional[int],
                   cores: int, scratch_dir: Optional[str], token: Optional[str] = None,
                   lab: bool = False, sock: str = "", ipc_dir: str = "") -> dict[str, Any]:
    """The content of ``jupyter_server_config.json`` for this job.

    With ``sock`` (socket mode) the server listens on that unix socket (0600) and
    kernels talk to it over ipc files in ``ipc_dir`` instead of TCP ports.
    """
    server_app: dict[str, Any] = {
        "ip": ip,
        "port_retries": 0,
        "open_browser": False,
        "root_dir": root_dir,
        "allow_remote_access": not is_loopback(ip),
    }
    if lab:
        server_app["default_url"] = config.server.default_url
    result: dict[str, Any] = {
        "ServerApp": server_app,
        "ResourceUseDisplay": resource_usage(memory_bytes, cores, scratch_dir),
        "ServerProxy": {"servers": proxy_servers(config)},
    }
    if sock:
        server_app.update(sock=sock, sock_mode="0600")
        result["KernelManager"] = {"transport": "ipc"}
        result["MappingKernelManager"] = {"kernel_manager_class": IPC_KERNEL_MANAGER}
        result["IpcKernelManager"] = {"ipc_dir": ipc_dir}
    if token is not None:
        result["IdentityProvider"] = {"token": token}
    return result


def is_loopback(ip: str) -> bool:
    """Whether `ip` (an address, or the name localhost) is a loopback address."""
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return ip == "localhost"


def extension_config() -> dict[str, Any]:
    """``jupyter_server_config.d/jobwrapper.json``: our extensions, enabled."""
    return {"ServerApp": {"jpserver_extensions": dict(SERVER_EXTENSIONS)}}


def page_config(disabled: Sequence[str]) -> dict[str, Any]:
    """``labconfig/page_config.json``: the JupyterLab extensions disabled here."""
    return {"disabledExtensions": {name: True for name in disabled}}


# jupyterlab.news -> the fetchNews setting of JupyterLab's notification plugin
# (a string in its schema: "true" Always, "false" Never, "none" Ask).
NOTIFICATION_PLUGIN = "@jupyterlab/apputils-extension:notification"
FETCH_NEWS = {"never": "false", "ask": "none", "always": "true"}


def setting_overrides(config: SiteConfig) -> dict[str, Any]:
    """``labconfig/default_setting_overrides.json``: JupyterLab defaults for this site.

    JupyterLab would ask every user in every fresh job whether to fetch news from
    jupyter.org, which most workers cannot reach: ``jupyterlab.news`` says "never"
    by default."""
    return {NOTIFICATION_PLUGIN: {"fetchNews": FETCH_NEWS[config.jupyterlab.news]}}


def server_program(kind: str) -> str:
    """The server to exec: the hub's single-user server, or JupyterLab for a person."""
    name = "jupyterhub-singleuser" if kind == "singleuser" else "jupyter-lab"
    beside = os.path.join(os.path.dirname(sys.executable), name)
    return beside if os.path.exists(beside) else name


def server_argv(kind: str, ip: str, root_dir: str, user_args: Sequence[str] = (),
                sock: str = "") -> list[str]:
    """The server's argv: nothing secret, and the settings a user's ~/.jupyter must
    not override (the bind address, or the socket and the kernels' transport)."""
    where = ([f"--ServerApp.sock={sock}", "--KernelManager.transport=ipc"] if sock
             else [f"--ServerApp.ip={ip}"])
    return [server_program(kind), *where, f"--ServerApp.root_dir={root_dir}", *user_args]


def service_url(current: str, ip: str, port: int) -> str:
    """``JUPYTERHUB_SERVICE_URL`` with our address, as jupyterhub-singleuser reads it."""
    from urllib.parse import urlparse, urlunparse

    parsed = urlparse(current or "http://127.0.0.1:8888/")
    return urlunparse(parsed._replace(netloc=host_port(ip, port)))
