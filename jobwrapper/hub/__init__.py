"""The hub half of jobwrapper: JupyterHub's spawner for HTCondor, and an emulated pool.

Kept import-free: `jobwrapper.localpool` must not pull in JupyterHub. The spawner
is `jobwrapper.hub.JobwrapperSpawner` (imported on first use), also registered as the
`jupyterhub.spawners` entry point `jobwrapper` (docs/hub.md).
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    """`jobwrapper.hub.JobwrapperSpawner`, imported only when asked for (PEP 562)."""
    if name == "JobwrapperSpawner":
        from .spawner import JobwrapperSpawner

        return JobwrapperSpawner
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
