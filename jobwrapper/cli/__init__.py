"""The command line: thin click wrappers, loaded lazily so `jobwrapper env` starts fast.

Each command lives in the module named in COMMANDS ("module:attribute"). The edge
turns JobwrapperError into one line on stderr and its exit code; nothing else here
should need to know about errors.
"""

from __future__ import annotations

import importlib
import sys

import click

from jobwrapper import __version__
from jobwrapper.errors import JobwrapperError

COMMANDS: dict[str, str] = {
    "env": "jobwrapper.cli.job:env_command",
    "health": "jobwrapper.cli.health:health_command",
    "doctor": "jobwrapper.cli.job:doctor_command",
    "info": "jobwrapper.cli.job:info_command",
    "lab": "jobwrapper.cli.notebook:lab_command",
    "notebook-plan": "jobwrapper.cli.notebook:notebook_plan_command",
    "plan": "jobwrapper.cli.job:plan_command",
    "run": "jobwrapper.cli.job:run_command",
    "singleuser": "jobwrapper.cli.notebook:singleuser_command",
}


def warn(warnings: tuple[str, ...]) -> None:
    """The plan's warnings on stderr, one line each (stdout may be eval'd)."""
    for warning in warnings:
        click.echo(f"jobwrapper: warning: {warning}", err=True)


class LazyGroup(click.Group):
    """A click group that imports a command's module only when it is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        return getattr(importlib.import_module(module_name), attribute)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="jobwrapper")
def cli() -> None:
    """Set up Jupyter, login shells and batch jobs inside HTCondor jobs.

    Exit codes: 0 success, 1 failure, 2 usage, 3 site config, 4 job ads or
    scratch dir, 5 Lmod/CVMFS environment or kernels, 6 server, 126/127 for
    `run` when the command cannot be executed / is not found.
    """


def main() -> None:
    """Entry point: run the CLI and turn our errors into one line each."""
    try:
        result = cli.main(standalone_mode=False)
    except JobwrapperError as error:
        click.echo(f"jobwrapper: {error}", err=True)
        sys.exit(error.exit_code)
    except click.exceptions.Abort:
        click.echo("jobwrapper: aborted", err=True)
        sys.exit(1)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(result if isinstance(result, int) else 0)
