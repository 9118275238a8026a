"""Every place where jobwrapper's hub side reaches into another package's internals.

Each patch names the versions it was written for and checks, when applied, that the
internals it relies on are still there; tests/hub/test_compat.py fails when an
upgrade changes them, instead of the hub misbehaving quietly.

- JupyterHub's API handler list: batchspawner registers `/api/batchspawner` with a
  handler that lets a job set any spawner attribute (issue 5); ours replaces it.
- JupyterHub's start: the check that refuses batchspawner settings the spawner would
  ignore runs before the spawners and the proxy start (inherited.py).
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import jupyterhub
from jupyterhub import apihandlers
from jupyterhub.app import JupyterHub

TESTED_JUPYTERHUB = ((5, 0), (6, 99))  # inclusive range of major.minor


class UpstreamChanged(RuntimeError):
    """An internal this module patches is not where it was; upgrade jobwrapper."""


def jupyterhub_version() -> tuple[int, int]:
    major, minor = jupyterhub.__version__.split(".")[:2]
    return int(major), int("".join(ch for ch in minor if ch.isdigit()) or 0)


def _check_version() -> None:
    low, high = TESTED_JUPYTERHUB
    if not low <= jupyterhub_version() <= high:
        raise UpstreamChanged(
            f"JupyterHub {jupyterhub.__version__} is outside the versions jobwrapper's hub "
            f"side was tested with ({low[0]}.{low[1]} to {high[0]}.x): install a matching "
            "jobwrapper release")


def replace_api_route(route: str, handler: type, handlers: list | None = None) -> None:
    """Make `handler` the only one for `route` in JupyterHub's API handler list."""
    _check_version()
    if handlers is None:
        handlers = getattr(apihandlers, "default_handlers", None)
        if not isinstance(handlers, list):
            raise UpstreamChanged("jupyterhub.apihandlers.default_handlers is not a list")
    handlers[:] = [entry for entry in handlers if entry[0] != route]
    handlers.append((route, handler))


_START_CHECKS: list[Callable[[Any], None]] = []


def run_before_spawners(check: Callable[[Any], None]) -> None:
    """Call `check(app)` when JupyterHub has loaded its config, before it creates any
    spawner or starts the proxy (wraps JupyterHub.init_spawners, once)."""
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
