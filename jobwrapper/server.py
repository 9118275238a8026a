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

import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any, Optional

from jobwrapper import socketpath
from jobwrapper.config import SiteConfig
from jobwrapper.errors import ServerError

# Our server extensions: the port hand-over/report, and the desktop developer's
# lifecycle extension (SIGTERM, process-tree cleanup, runtime-limit warnings).
SERVER_EXTENSIONS = {
    "jobwrapper.hubreport": True,
    "jobwrapper.lifecycle": True,
    "jupyter_server_proxy": True,
    "jupyter_resource_usage": True,
}
LOOPBACK = "127.0.0.1"
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - only with server.bind = "direct"
# Set by the hub (JobwrapperSpawner) in the job's environment; wins over server.mode,
# because the hub's side of the connection (port or socket forward) must match.
SERVER_MODE_ENV = "JOBWRAPPER_SERVER_MODE"
SERVER_MODES = ("tcp", "socket")
IPC_KERNEL_MANAGER = "jobwrapper.ipckernels.IpcKernelManager"
IPC_DIR_NAME = "k"  # short: ipc socket paths must fit in 107 bytes
# In socket mode JUPYTERHUB_SERVICE_URL keeps ServerApp's default port, only a label:
# ServerApp refuses --sock together with any other port.
SOCKET_MODE_PORT_LABEL = 8888


def server_mode(config: SiteConfig, environ: Mapping[str, str]) -> tuple[str, str]:
    """(mode, why): "tcp" or "socket" and the reason, for the plan and for doctor."""
    asked = environ.get(SERVER_MODE_ENV, "")
    if asked:
        if asked not in SERVER_MODES:
            raise ServerError(f"{SERVER_MODE_ENV}={asked!r} in the job's environment is not "
                              "'tcp' or 'socket'; check the hub's JobwrapperSpawner.server_mode")
        mode, why = asked, f"asked by the hub ({SERVER_MODE_ENV})"
    else:
        mode, why = config.get("server", "mode"), "server.mode in the site config"
    if mode == "socket" and config.get("server", "bind") == "direct":
        raise ServerError(f"{config.path or 'site config'}: server.bind = \"direct\" cannot "
                          "be used in socket mode; set server.bind = \"loopback\"")
    return mode, why


def socket_path(private_dir: str) -> str:
    """The server's unix socket in socket mode; ServerError if the hub would refuse it."""
    path = socketpath.job_socket_path(private_dir)
    problem = socketpath.job_socket_problem(path)
    if problem:
        raise ServerError(f"{path}: cannot be the server's socket ({problem}); socket mode "
                          "needs a short, lower-case scratch dir, else use server.mode = "
                          "\"tcp\"")
    return path


def bind_address(config: SiteConfig) -> str:
    """127.0.0.1 (the tunnel reaches it) unless the site chose classic direct mode."""
    return ALL_INTERFACES if config.get("server", "bind") == "direct" else LOOPBACK


def notebook_dir(scratch_dir: Optional[str], config: SiteConfig, environ: Mapping[str, str]
                 ) -> str:
    """``$_CONDOR_SCRATCH_DIR/jupyter`` (the transferred ~/jupyter); outside a job, ./jupyter."""
    base = scratch_dir or environ.get("PWD") or os.getcwd()
    return os.path.join(base, config.get("server", "notebook_dir"))


def disabled_extensions(config: SiteConfig, container_os: Optional[str]) -> list[str]:
    """JupyterLab extensions to disable in this container OS (and in every OS: '*')."""
    table = config.get("jupyterlab", "disabled_extensions")
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
        "allow_remote_access": ip != LOOPBACK,
    }
    if lab:
        server_app["default_url"] = config.get("server", "default_url")
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
    return {NOTIFICATION_PLUGIN: {"fetchNews": FETCH_NEWS[config.get("jupyterlab", "news")]}}


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
    return urlunparse(parsed._replace(netloc=f"{ip}:{port}"))
