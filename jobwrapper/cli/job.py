"""Commands that set up or check the job's environment: env, info, plan, run, doctor."""

from __future__ import annotations

import os
import sys

import click

from jobwrapper.cli import warn
from jobwrapper.errors import EXIT_FAILURE, EXIT_NOT_EXECUTABLE, EXIT_NOT_FOUND, JobwrapperError
from jobwrapper.job.message import login_message
from jobwrapper.job.pipeline import prepare, read
from jobwrapper.job.plan import plan
from jobwrapper.job.shells import SHELLS, render


@click.command("env")
@click.option("--shell", "shell", type=click.Choice(SHELLS), default="sh", show_default=True,
              help="Syntax of the output: sh (bash, dash, zsh), csh (tcsh) or json.")
def env_command(shell: str) -> None:
    """Print the job's environment for eval, e.g. eval "$(jobwrapper env)".

    Includes the Lmod modules and virtualenv of the job's environment (a broken
    one is a warning here, so logins still work). Creates the job's private
    directories and caches the result there, so that the profile.d scripts can
    source it without starting Python again.
    Warnings go to stderr; stdout holds only quoted assignments.
    """
    setup = prepare(read(), load_environment="warn")
    warn(setup.warnings)
    # As bytes: values taken from the environment may hold bytes that are not UTF-8.
    text = render(shell, setup.env, setup.unset)
    click.echo(text.encode("utf-8", errors="surrogateescape"), nl=False)


@click.command("info")
def info_command() -> None:
    """Print the login message: what the job requested and what the slot provides."""
    context = read()
    warn(context.warnings)
    click.echo(login_message(context))


@click.command("plan")
def plan_command() -> None:
    """Show what would be done for this job, without changing anything; also where the
    notebook server would listen (the bind and who chose it)."""
    from dataclasses import replace

    from jobwrapper.notebook.server import describe_bind

    context = read()
    setup = plan(context, os.getuid())
    server_line = describe_bind(context.config, context.environ, context.machine_ad)
    click.echo(str(replace(setup, notes=(*setup.notes, server_line))))


@click.command("run", context_settings={"ignore_unknown_options": True})
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def run_command(command: tuple[str, ...]) -> None:
    """Run COMMAND with the job's environment, the same one a login shell gets.

    Use `jobwrapper run -- CMD ARGS...` as a batch job's executable. jobwrapper
    replaces itself with COMMAND, so signals from HTCondor reach it directly and
    its exit code is the job's.
    """
    setup = prepare(read(), load_environment="strict")
    warn(setup.warnings)
    environment = setup.environment(dict(os.environ))
    sys.stdout.flush()
    try:
        os.execvpe(command[0], list(command), environment)  # noqa: S606 - exec is the point
    except FileNotFoundError:
        raise _RunError(f"{command[0]}: command not found", EXIT_NOT_FOUND) from None
    except PermissionError:
        raise _RunError(f"{command[0]}: permission denied (is it executable?)",
                        EXIT_NOT_EXECUTABLE) from None
    except OSError as error:
        raise _RunError(f"{command[0]}: cannot be executed ({error.strerror})",
                        EXIT_NOT_EXECUTABLE) from None


class _RunError(JobwrapperError):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.exit_code = code


@click.command("doctor")
def doctor_command() -> None:
    """Check this job's notebook setup: ads, directories, Lmod, environment, kernels,
    server, packages, desktop, thread variables, GPUs. Exits 1 if any check fails."""
    from jobwrapper.inserver.gpus import doctor_probe
    from jobwrapper.notebook.doctor import FAIL, format_table, run_checks

    rows = run_checks(read(), gpu_probe=doctor_probe)
    click.echo(format_table(rows))
    if any(r.status == FAIL for r in rows):
        raise click.exceptions.Exit(EXIT_FAILURE)
