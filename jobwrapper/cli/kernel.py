"""``jobwrapper kernel add PATH`` / ``remove NAME`` / ``list``: a user's own venv or conda
environment as a kernel in the next jobs (docs/kernels.md, "Users' own environments").

The list is ``~/jupyter/.jobwrapper-kernels.json`` (inside a job: the job's
``jupyter/``, merged back into ``~/jupyter``), so it travels with the notebooks.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Optional

import click

from jobwrapper.config import load_config
from jobwrapper.errors import EnvironmentSetupError
from jobwrapper.notebook import kernels_user


def jupyter_dir(environ: Mapping[str, str], notebook_dir: str) -> str:
    """The job's ``jupyter/`` inside a job, else ``~/jupyter``."""
    base = environ.get("_CONDOR_SCRATCH_DIR") or environ.get("HOME") or os.path.expanduser("~")
    return os.path.join(base, notebook_dir)


def _where() -> str:
    config = load_config()
    if not config.kernels.user_environments:
        raise EnvironmentSetupError("your site does not offer users' own environments as "
                                    "kernels (kernels.user_environments = false)")
    return jupyter_dir(os.environ, config.server.notebook_dir)


@click.group("kernel")
def kernel_command() -> None:
    """Your own venvs and conda environments as kernels in your jobs."""


@kernel_command.command("add")
@click.argument("path", type=click.Path(file_okay=False))
@click.option("--name", default=None, help="Kernel name (default: the directory's name).")
def add_command(path: str, name: Optional[str]) -> None:
    """Offer the environment at PATH (with ipykernel) as the kernel user-NAME."""
    where = _where()
    prefix = os.path.abspath(path)
    if not os.path.isdir(prefix):
        raise EnvironmentSetupError(f"{prefix}: no such directory; give the path of a venv "
                                    "or conda environment")
    template, reason = kernels_user.environment_template(prefix, "", name)
    if reason:
        raise EnvironmentSetupError(reason)
    registry = kernels_user.read_registry(where)
    registry[template.name[len(kernels_user.PREFIX):]] = prefix
    written = kernels_user.write_registry(where, registry)
    click.echo(f"{template.name}: {prefix} (in {written}; offered from the next start)")


@kernel_command.command("remove")
@click.argument("name")
def remove_command(name: str) -> None:
    """Stop offering the environment NAME (or user-NAME, or its path)."""
    where = _where()
    registry = kernels_user.read_registry(where)
    short = name[len(kernels_user.PREFIX):] if name.startswith(kernels_user.PREFIX) else name
    gone = [k for k, v in registry.items()
            if k == short or v == os.path.abspath(name)]
    if not gone:
        raise EnvironmentSetupError(f"{name}: not added with jobwrapper kernel add "
                                    f"(see jobwrapper kernel list)")
    for key in gone:
        del registry[key]
    kernels_user.write_registry(where, registry)
    click.echo(f"removed {', '.join(kernels_user.PREFIX + k for k in gone)}")


@kernel_command.command("list")
def list_command() -> None:
    """The environments added with jobwrapper kernel add."""
    for key, prefix in sorted(kernels_user.read_registry(_where()).items()):
        click.echo(f"{kernels_user.PREFIX}{key}\t{prefix}")
