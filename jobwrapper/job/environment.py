"""The job's software environment: Lmod modules and the CVMFS virtualenv of its
container OS and environment name (read stage), and what they add to a Setup.

Every command that needs them goes through here: ``env`` and ``run`` (login shells and
batch jobs), the notebook commands, and ``doctor``.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field, replace
from typing import Optional

from jobwrapper.errors import EnvironmentSetupError
from jobwrapper.job.context import JobContext
from jobwrapper.job.modules import find_lmod, load_modules, module_environ
from jobwrapper.job.plan import Setup
from jobwrapper.job.venv import activate_venv, environments_for, venv_python


@dataclass(frozen=True)
class EnvironmentChanges:
    """What the job's software environment (modules, virtualenv) changes."""

    name: str
    description: str = ""
    modules: tuple[str, ...] = ()
    venv: str = ""
    env: dict[str, str] = field(default_factory=dict)
    unset: tuple[str, ...] = ()
    python: str = ""  # the environment's python: the kernel's interpreter


def read_environment(context: JobContext) -> EnvironmentChanges:
    """Resolve the job's environment for its container OS: load modules, find the venv."""
    config, environ = context.config, context.environ
    os_name = context.container_os or "default"
    name = context.environment_name
    spec = config.environment(name, context.container_os)
    if spec is None and config.environments:
        known = environments_for(config.environments, os_name)
        raise EnvironmentSetupError(
            f"environment {name!r} is not defined for container OS {os_name!r} in "
            f"{config.path or 'the site config'}; environments for this OS: "
            f"{', '.join(known) or 'none'}")
    modules = spec.modules if spec else ()
    lmod_cmd = find_lmod(environ, config.lmod.lmod_cmd)
    modulepath = config.lmod.modulepath
    env: dict[str, str] = {}
    unset: list[str] = []
    if modules:
        if lmod_cmd is None:
            raise EnvironmentSetupError(
                f"environment {name!r} needs Lmod modules ({', '.join(modules)}) but Lmod was "
                "not found: set lmod.lmod_cmd in the site config or LMOD_CMD")
        loaded = load_modules(lmod_cmd, modules, environ, modulepath)
        env.update(loaded.env)
        unset.extend(loaded.unset)
    elif lmod_cmd is not None:
        # Initialise Lmod for terminals and login shells: `module load` works there.
        initial = module_environ(environ, lmod_cmd, modulepath)
        env.update({"LMOD_CMD": lmod_cmd, "MODULEPATH": initial["MODULEPATH"]})
    python = ""
    if spec and spec.venv:
        current_path = env.get("PATH", environ.get("PATH", os.defpath))
        known = [n for n in environments_for(config.environments, os_name)]
        activation = activate_venv(spec.venv, name, os_name, current_path, known)
        env.update(activation.env)
        unset.extend(activation.unset)
        python = venv_python(spec.venv)
    elif modules and "PATH" in env:
        python = shutil.which("python3", path=env["PATH"]) or ""
    return EnvironmentChanges(name, spec.description if spec else "", modules,
                              spec.venv if spec else "", env,
                              tuple(u for u in dict.fromkeys(unset) if u not in env),
                              python or sys.executable)


def load_environment(context: JobContext, strict: bool = True
                     ) -> tuple[Optional[EnvironmentChanges], Optional[str]]:
    """The job's modules and virtualenv (runs Lmod), or None and the one-line reason.

    With ``strict=False`` (login shells) a broken environment is not fatal: the
    reason comes back, to be shown as a warning; with ``strict=True`` it is raised.
    """
    try:
        return read_environment(context), None
    except EnvironmentSetupError as error:
        if strict:
            raise
        return None, str(error)


def add_environment(setup: Setup, environment: EnvironmentChanges) -> Setup:
    """``setup`` with the environment's variables (they win over the plan's)."""
    unset = tuple(n for n in dict.fromkeys((*setup.unset, *environment.unset))
                  if n not in environment.env)
    return replace(setup, env={**setup.env, **environment.env}, unset=unset)
