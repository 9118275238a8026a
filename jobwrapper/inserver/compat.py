"""Every place where code running inside the Jupyter server reaches into another
package's internals (the hub's are in jobwrapper/hub/compat.py).

- simpervisor (jupyter-server-proxy's process supervisor) installs a SIGTERM handler
  that calls sys.exit() inside the IO loop, and restarts what exits non-zero: the
  lifecycle takes SIGTERM over and ends simpervisor's processes itself.
- jupyter-server-proxy looks up its `jupyter_serverproxy_servers` entry points through
  `jupyter_server_proxy.config.entry_points`: the desktop guard filters out the entries
  jobwrapper's desktop replaces.

Each names the versions it was written for; tests/lifecycle/test_inserver_compat.py
fails when an upgrade moves what it relies on.
"""

from __future__ import annotations

import signal
from typing import Any, Callable

TESTED = {"simpervisor": ((1, 0), (1, 99)), "jupyter-server-proxy": ((4, 2), (4, 99))}


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
