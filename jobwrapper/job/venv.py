"""CVMFS virtualenvs: activate one the way ``bin/activate`` does, without a shell.

Activation is three changes: ``VIRTUAL_ENV`` names it, its ``bin`` goes first on
``PATH``, and ``PYTHONHOME`` is unset (a leftover one would make the venv's python
load another installation's standard library).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from jobwrapper.errors import EnvironmentSetupError


@dataclass(frozen=True)
class VenvActivation:
    """The variables that activate a virtualenv."""

    path: str
    env: dict[str, str]
    unset: tuple[str, ...] = ("PYTHONHOME",)


def venv_python(path: str) -> str:
    """The venv's python executable."""
    return os.path.join(path, "bin", "python")


def is_venv(path: str) -> bool:
    """True if ``path`` looks like a usable virtualenv (pyvenv.cfg and bin/python)."""
    python = venv_python(path)
    return (os.path.isfile(os.path.join(path, "pyvenv.cfg"))
            and os.path.exists(python) and os.access(python, os.X_OK))


def activate_venv(path: str, environment: str, container_os: str, current_path: str,
                  known: Iterable[str] = ()) -> VenvActivation:
    """The changes that activate ``path``; raises EnvironmentSetupError if it is missing."""
    if not is_venv(path):
        others = ", ".join(sorted(known)) or "none"
        raise EnvironmentSetupError(
            f"virtualenv {path} (environment {environment!r}, container OS {container_os!r}) "
            f"does not exist or has no bin/python; is CVMFS mounted? "
            f"environments for this OS: {others}")
    bin_dir = os.path.join(path, "bin")
    parts = [p for p in current_path.split(os.pathsep) if p and p != bin_dir]
    return VenvActivation(path, {"VIRTUAL_ENV": path,
                                 "PATH": os.pathsep.join([bin_dir, *parts])})


def environments_for(environments: Mapping[str, Mapping[str, object]],
                     container_os: str) -> list[str]:
    """Names of the environments defined for ``container_os`` (or for every OS)."""
    return sorted(name for name, per_os in environments.items()
                  if container_os in per_os or "default" in per_os)
