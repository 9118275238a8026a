"""Module paths that are a contract: named in jupyter config, entry points, `python -m`
commands and the docs. Each must import (or exist) under the name given out."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from traitlets.utils.importstring import import_item

from jobwrapper.notebook import server

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", sorted(server.SERVER_EXTENSIONS))
def test_each_server_extension_named_in_the_jupyter_config_imports(name):
    module = import_item(name)
    assert hasattr(module, "_jupyter_server_extension_points") or \
        hasattr(module, "_load_jupyter_server_extension")


def test_the_ipc_kernel_manager_class_imports():
    assert import_item(server.IPC_KERNEL_MANAGER).__name__ == "IpcKernelManager"


@pytest.mark.parametrize(("group", "name"), [("jupyter_serverproxy_servers", "desktop"),
                                             ("jupyterhub.spawners", "jobwrapper"),
                                             ("console_scripts", "jobwrapper")])
def test_each_entry_point_loads(group, name):
    (found,) = [ep for ep in entry_points(group=group) if ep.name == name]
    assert callable(found.load())


def test_the_extension_points_name_their_own_modules():
    from jobwrapper.inserver import hubreport, lifecycle

    named = [point["module"] for module in (hubreport, lifecycle)
             for point in module._jupyter_server_extension_points()]
    for name in named:
        import_item(name)


@pytest.mark.parametrize("argv", [
    ["-m", "jobwrapper", "--version"],
    ["-m", "jobwrapper.localpool", "--help"],
])
def test_python_dash_m_entry_points_run(argv):
    result = subprocess.run([sys.executable, *argv], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr


def test_every_module_path_in_the_docs_exists():
    texts = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    missing = []
    for path in texts:
        for found in re.findall(r"jobwrapper/[\w/.-]+\.(?:py|sub|html|svg)", path.read_text()):
            if not (REPO / found).exists():
                missing.append(f"{path.name}: {found}")
    assert missing == []


def test_no_package_holds_more_than_fifteen_modules_side_by_side():
    crowded = {}
    for package in (REPO / "jobwrapper").rglob("__init__.py"):
        modules = [p for p in package.parent.glob("*.py") if p.name != "__init__.py"]
        if len(modules) > 15:
            crowded[str(package.parent.relative_to(REPO))] = len(modules)
    assert crowded == {}


# What each package may import from jobwrapper (the stages run in this order; the hub
# and the job meet only in protocol.py).
# Standard-library-only modules at the top level serve several stages: pathtemplate
# (the site config's path templates), stepbridge (both ends of the Slurm tunnel),
# signalflag (a stop flag that signal handlers may set).
ALLOWED = {
    "job": {"job", "config", "errors", "protocol", "pathtemplate"},
    "notebook": {"job", "notebook", "config", "errors", "protocol"},
    # dask.workers: the server's end removes the Dask worker jobs its kernels left;
    # notebook.codeserver: code-server's entry, decided as doctor decides it
    "inserver": {"inserver", "config", "errors", "protocol", "compat", "dask", "notebook",
                 "signalflag"},
    "hub": {"hub", "protocol", "compat", "stepbridge"},
    "dask": {"dask", "config", "errors", "job"},  # a library for the job's kernels
    # job.threads: HTCondor's list of thread variables
    "localpool": {"localpool", "job", "signalflag"},
    "health": {"health", "config", "errors"},
}


def _imported_packages(path: Path) -> set[str]:
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "jobwrapper" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_each_stage_imports_only_what_comes_before_it(package):
    wrong = {}
    for path in (REPO / "jobwrapper" / package).rglob("*.py"):
        extra = _imported_packages(path) - ALLOWED[package] - {"__version__"}
        if extra:
            wrong[str(path.relative_to(REPO))] = sorted(extra)
    assert wrong == {}
