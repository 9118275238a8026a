"""Dask workers as HTCondor jobs from a notebook: ``cluster(workers=3)`` (docs/dask.md).

``jobwrapper.dask.submit`` and ``jobwrapper.dask.workers`` need no dask; ``cluster``
imports dask-jobqueue when it is first used.
"""

from __future__ import annotations

from typing import Any


def cluster(workers: int = 0, **options: Any) -> Any:
    """A dask-jobqueue HTCondorCluster of ``workers`` worker jobs in this notebook's
    container and environment; see jobwrapper.dask.jobqueue.cluster."""
    from jobwrapper.dask.jobqueue import cluster as make_cluster

    return make_cluster(workers, **options)


__all__ = ["cluster"]
