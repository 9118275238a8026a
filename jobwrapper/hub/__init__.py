"""The hub half of jobwrapper: JupyterHub's spawner for HTCondor, and an emulated pool.

Kept import-free: `jobwrapper.hub.localpool` must not pull in JupyterHub. The spawner
is `jobwrapper.hub.spawner.JobwrapperSpawner` (docs/hub.md).
"""
