"""Users' own environments as kernels: each venv or conda environment in ``~/jupyter/envs``.

``<notebook dir>/envs/<name>`` (the transferred ``~/jupyter/envs``) with a
``bin/python`` becomes the kernel ``user-<name>``, "Python 3 (<name> · <label>)",
when ipykernel is installed in it (a file test, no interpreter started). Its
kernel.json gets the job's thread variables and limits like the site's kernels, plus
the environment's ``bin`` in front of the job's PATH and ``VIRTUAL_ENV`` or
``CONDA_PREFIX``. An environment that cannot be a kernel is one line naming it.
The site switches this off with ``kernels.user_environments = false``.
"""

from __future__ import annotations

import glob
import json
import os
import re
from collections.abc import Mapping
from typing import Optional

from jobwrapper.notebook.kernels import KernelTemplate

ENVS_DIR = "envs"
REGISTRY = ".jobwrapper-kernels.json"  # in ~/jupyter: {"environments": {name: path}}
PREFIX = "user-"
_UNSAFE = re.compile(r"[^a-z0-9._-]+")


def kernel_name(directory: str, name: Optional[str] = None) -> str:
    """``user-<name>``: the name (default: the environment's directory name) in
    kernel-name letters."""
    base = name if name else os.path.basename(directory.rstrip("/"))
    return PREFIX + (_UNSAFE.sub("-", base.lower()).strip("-") or "env")


def read_registry(jupyter_dir: str) -> dict[str, str]:
    """The environments added with ``jobwrapper kernel add``: ``{name: path}``."""
    try:
        with open(os.path.join(jupyter_dir, REGISTRY), encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {}
    envs = data.get("environments") if isinstance(data, dict) else None
    if not isinstance(envs, dict):
        return {}
    return {str(k): str(v) for k, v in envs.items() if isinstance(v, str)}


def write_registry(jupyter_dir: str, environments: Mapping[str, str]) -> str:
    """Write the registry (the caller's ~/jupyter); returns its path."""
    os.makedirs(jupyter_dir, exist_ok=True)
    path = os.path.join(jupyter_dir, REGISTRY)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump({"environments": dict(sorted(environments.items()))}, handle, indent=1)
        handle.write("\n")
    os.replace(tmp, path)
    return path


def has_ipykernel(prefix: str) -> bool:
    """ipykernel in the environment's site-packages (venv and conda layout)."""
    pattern = os.path.join(glob.escape(prefix), "lib", "python*", "site-packages",
                           "ipykernel", "__init__.py")
    return bool(glob.glob(pattern))


def environment_template(prefix: str, search_path: str, name: Optional[str] = None
                         ) -> tuple[KernelTemplate, Optional[str]]:
    """The kernel template for one environment and, if it cannot be offered, why."""
    label = name or os.path.basename(prefix.rstrip("/"))
    name = kernel_name(prefix, name)
    python = os.path.join(prefix, "bin", "python")
    conda = os.path.isdir(os.path.join(prefix, "conda-meta"))
    env = {"CONDA_PREFIX" if conda else "VIRTUAL_ENV": prefix,
           "PATH": os.pathsep.join(p for p in (os.path.join(prefix, "bin"), search_path) if p)}
    spec = {"argv": [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": f"Python 3 ({label} · {{label}})", "language": "python",
            "interrupt_mode": "signal", "env": env}
    template = KernelTemplate(name, spec, prefix, builtin=False, user=True)
    if not os.path.isdir(prefix):
        return template, (f"your environment {prefix} does not exist on this node; "
                          f"jobwrapper kernel remove {label} if it is gone")
    if not (os.path.isfile(python) and os.access(python, os.X_OK)):
        return template, (f"your environment {prefix} has no bin/python "
                          "(not a venv or conda environment); remove it or recreate it")
    if not has_ipykernel(prefix):
        return template, (f"your environment {prefix} has no ipykernel; install it with "
                          f"{python} -m pip install ipykernel")
    return template, None


def read_user_environments(notebook_dir: str, search_path: str
                           ) -> tuple[list[KernelTemplate], dict[str, str], dict[str, str]]:
    """Templates, programs and ``{kernel: why not}`` for ``<notebook_dir>/envs/*`` and
    the environments added with ``jobwrapper kernel add`` (the registry wins a name)."""
    envs = os.path.join(notebook_dir, ENVS_DIR)
    templates: list[KernelTemplate] = []
    programs: dict[str, str] = {}
    reasons: dict[str, str] = {}
    try:
        names = sorted(os.listdir(envs))
    except OSError:
        names = []
    found: dict[str, tuple[str, Optional[str]]] = {}
    for entry in names:
        prefix = os.path.join(envs, entry)
        if not entry.startswith(".") and os.path.isdir(prefix):
            found[kernel_name(prefix)] = (prefix, None)
    for name, prefix in sorted(read_registry(notebook_dir).items()):
        found[kernel_name(prefix, name)] = (prefix, name)
    for prefix, name in found.values():
        template, reason = environment_template(prefix, search_path, name)
        templates.append(template)
        if reason:
            reasons[template.name] = reason
        else:
            python = template.spec["argv"][0]
            programs[python] = python
    return templates, programs, reasons

