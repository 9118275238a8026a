"""Every place where jobwrapper reaches into another package's internals, in one module.

Each patch names the versions it was written for; tests/test_compat.py fails when an
upgrade moves what a patch relies on, before a hub or a server misbehaves quietly.
Imports are lazy: the hub's patches need JupyterHub, the server's need
jupyter-server-proxy, and neither side loads the other's.

The hub:
- JupyterHub's API handler list: batchspawner registers `/api/batchspawner` with a
  handler that lets a job set any spawner attribute (issue 5); ours replaces it.
- JupyterHub's start: the check that refuses batchspawner settings the spawner would
  ignore runs before the spawners and the proxy start (hub/inherited.py).

Inside the Jupyter server:
- simpervisor (jupyter-server-proxy's process supervisor) installs a SIGTERM handler
  that calls sys.exit() inside the IO loop, and restarts what exits non-zero: the
  lifecycle takes SIGTERM over and ends simpervisor's processes itself.
- jupyter-server-proxy looks up its `jupyter_serverproxy_servers` entry points through
  `jupyter_server_proxy.config.entry_points`: the desktop guard filters out the entries
  jobwrapper's desktop replaces.
"""

from __future__ import annotations

import functools
import signal
from typing import Any, Callable

# ---- the hub ------------------------------------------------------------------------------

TESTED_JUPYTERHUB = ((5, 0), (6, 99))  # inclusive range of major.minor


class UpstreamChanged(RuntimeError):
    """An internal this module patches is not where it was; upgrade jobwrapper."""


def jupyterhub_version() -> tuple[int, int]:
    """JupyterHub's (major, minor)."""
    import jupyterhub

    major, minor = jupyterhub.__version__.split(".")[:2]
    return int(major), int("".join(ch for ch in minor if ch.isdigit()) or 0)


def _check_version() -> None:
    low, high = TESTED_JUPYTERHUB
    if not low <= jupyterhub_version() <= high:
        raise UpstreamChanged(
            f"JupyterHub {'.'.join(map(str, jupyterhub_version()))} is outside the versions "
            f"jobwrapper's hub side was tested with ({low[0]}.{low[1]} to {high[0]}.x): "
            "install a matching jobwrapper release")


def replace_api_route(route: str, handler: type, handlers: list | None = None) -> None:
    """Make `handler` the only one for `route` in JupyterHub's API handler list."""
    _check_version()
    if handlers is None:
        from jupyterhub import apihandlers

        handlers = getattr(apihandlers, "default_handlers", None)
        if not isinstance(handlers, list):
            raise UpstreamChanged("jupyterhub.apihandlers.default_handlers is not a list")
    handlers[:] = [entry for entry in handlers if entry[0] != route]
    handlers.append((route, handler))


_START_CHECKS: list[Callable[[Any], None]] = []


def run_before_spawners(check: Callable[[Any], None]) -> None:
    """Call `check(app)` when JupyterHub has loaded its config, before it creates any
    spawner or starts the proxy (wraps JupyterHub.init_spawners, once)."""
    from jupyterhub.app import JupyterHub

    _check_version()
    original = getattr(JupyterHub, "init_spawners", None)
    if original is None:
        raise UpstreamChanged("JupyterHub.init_spawners is gone")
    if check not in _START_CHECKS:
        _START_CHECKS.append(check)
    if getattr(original, "_jobwrapper_wrapped", False):
        return

    @functools.wraps(original)
    async def init_spawners(self: Any, *args: Any, **kwargs: Any) -> Any:
        for each in _START_CHECKS:
            each(self)
        return await original(self, *args, **kwargs)

    init_spawners._jobwrapper_wrapped = True  # type: ignore[attr-defined]
    JupyterHub.init_spawners = init_spawners  # type: ignore[method-assign]


# ---- inside the Jupyter server ----------------------------------------------------------

TESTED_IN_SERVER = {"simpervisor": ((1, 0), (1, 99)), "jupyter-server-proxy": ((4, 2), (4, 99))}


def _simpervisor() -> Any:
    try:
        from simpervisor import atexitasync
    except ImportError:
        return None
    return atexitasync


def keep_simpervisor_off_sigterm() -> bool:
    """Tell simpervisor its SIGTERM handler is installed already (it then installs
    none); False when simpervisor is absent."""
    atexitasync = _simpervisor()
    if atexitasync is None:
        return False
    atexitasync.signal_handler_set = True
    return True


def stop_supervised_processes() -> None:
    """Do what simpervisor does on SIGTERM, without its sys.exit(): signal each process it
    supervises and mark it killed, so that it does not restart what we end (it restarts
    a process that exits with a non-zero code, e.g. xpra after SIGTERM)."""
    atexitasync = _simpervisor()
    if atexitasync is None:
        return
    for handler in list(getattr(atexitasync, "_handlers", [])):
        try:
            handler(signal.SIGTERM)
        except Exception:  # noqa: S112 - a process that is already gone
            continue


def filter_proxy_entry_points(keep: Callable[[Any], bool], group: str) -> bool:
    """Make jupyter-server-proxy see only the entry points of `group` that `keep`
    accepts (once); False when jupyter-server-proxy is absent."""
    try:
        from jupyter_server_proxy import config as proxy_config
    except ImportError:
        return False
    lookup = proxy_config.entry_points
    if getattr(lookup, "jobwrapper_filtered", False):
        return True

    def filtered(*args: Any, **kwargs: Any) -> Any:
        found = lookup(*args, **kwargs)
        if kwargs.get("group") != group:
            return found
        return [entry for entry in found if keep(entry)]

    filtered.jobwrapper_filtered = True  # type: ignore[attr-defined]
    proxy_config.entry_points = filtered
    return True
