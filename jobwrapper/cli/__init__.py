"""The command line: thin click wrappers, loaded lazily so `jobwrapper env` starts fast.

Each command lives in the module named in COMMANDS ("module:attribute"); the click
group is cli/group.py. The server commands (lab, singleuser) take a fast path that
does not load click at all when their command line needs nothing from it
(cli/fast.py): the same behaviour, ~20 ms sooner. Help, --version, usage errors and
every other command go through click.
"""

from __future__ import annotations

import sys
from typing import Any

COMMANDS: dict[str, str] = {
    "bridge": "jobwrapper.cli.bridge:bridge_command",
    "env": "jobwrapper.cli.job:env_command",
    "health": "jobwrapper.cli.health:health_command",
    "doctor": "jobwrapper.cli.job:doctor_command",
    "info": "jobwrapper.cli.job:info_command",
    "kernel": "jobwrapper.cli.kernel:kernel_command",
    "lab": "jobwrapper.cli.notebook:lab_command",
    "notebook-plan": "jobwrapper.cli.notebook:notebook_plan_command",
    "plan": "jobwrapper.cli.job:plan_command",
    "run": "jobwrapper.cli.job:run_command",
    "singleuser": "jobwrapper.cli.notebook:singleuser_command",
    "ssh-config": "jobwrapper.cli.sshconfig:ssh_config_command",
}


def warn(warnings: tuple[str, ...]) -> None:
    """The plan's warnings on stderr, one line each (stdout may be eval'd)."""
    if not warnings:
        return
    import click  # only when there is something to say: the fast path has no click

    for warning in warnings:
        click.echo(f"jobwrapper: warning: {warning}", err=True)


def main() -> None:
    """Entry point: the fast path for a server command, else the click group."""
    from jobwrapper.job.timestamps import stamp

    stamp("main")
    from jobwrapper.cli.fast import run_server, server_command

    found = server_command(sys.argv[1:])
    if found is not None:
        run_server(*found)
    from jobwrapper.cli.group import click_main

    click_main()


def __getattr__(name: str) -> Any:
    """``cli`` and ``LazyGroup`` (the click group) load click only when asked for."""
    if name in ("cli", "LazyGroup"):
        from jobwrapper.cli import group

        return getattr(group, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
