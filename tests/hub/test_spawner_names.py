"""The spawner's names: `jobwrapper` (entry point), `jobwrapper.hub.JobwrapperSpawner`
and the module path, all the same class; the package itself stays import-free."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

from traitlets.utils.importstring import import_item


def test_the_entry_point_names_the_spawner():
    from jobwrapper.hub.spawner import JobwrapperSpawner

    (found,) = [ep for ep in entry_points(group="jupyterhub.spawners") if ep.name == "jobwrapper"]
    assert found.load() is JobwrapperSpawner


def test_the_short_path_imports_as_jupyterhub_resolves_it():
    from jobwrapper.hub.spawner import JobwrapperSpawner

    assert import_item("jobwrapper.hub.JobwrapperSpawner") is JobwrapperSpawner


def test_importing_the_local_pool_pulls_in_no_jupyterhub():
    code = ("import sys, jobwrapper.hub, jobwrapper.localpool.commands.ssh_to_job; "
            "print('jupyterhub' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"
