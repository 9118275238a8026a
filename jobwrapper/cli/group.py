"""The click group: every command, its help and its usage errors.

Commands are loaded lazily (COMMANDS in cli/__init__.py names their modules). The edge
turns JobwrapperError into one line on stderr and its exit code; nothing else here
should need to know about errors.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, Callable, NoReturn

import click

from jobwrapper import __version__
from jobwrapper.cli import COMMANDS
from jobwrapper.errors import JobwrapperError


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


def run_edge(run: Callable[[], Any]) -> NoReturn:
    """Run ``run`` (click's main, non-standalone) and turn our errors into one line each."""
    try:
        result = run()
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


def click_main() -> NoReturn:
    """The CLI through click, for every command line the fast path leaves to it."""
    run_edge(lambda: cli.main(standalone_mode=False))


def fail(error: BaseException) -> NoReturn:
    """Exit as the click path would on ``error`` raised by a command (cli/fast.py).

    The error goes through click's own main, raised by a command's callback, and then
    through our edge: the same lines on stderr (^C's blank line, a broken pipe's
    silence) and the same exit codes, whatever click's version does.
    """

    def reraise() -> None:
        raise error

    command = click.Command("jobwrapper", callback=reraise)
    run_edge(lambda: command.main(args=[], prog_name="jobwrapper", standalone_mode=False))
