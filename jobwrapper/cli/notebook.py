"""Commands that start a notebook server: singleuser (for the hub) and lab (for a person)."""

from __future__ import annotations

import os

import click

from jobwrapper.cli.serve import start as _start
from jobwrapper.job.pipeline import read
from jobwrapper.job.plan import plan
from jobwrapper.notebook.plan import plan_notebook, read_notebook


@click.command("singleuser", context_settings={"ignore_unknown_options": True})
@click.argument("server_args", nargs=-1, type=click.UNPROCESSED)
def singleuser_command(server_args: tuple[str, ...]) -> None:
    """Start the hub's single-user server in this job (the hub's submit template runs it).

    Loads the job's environment, writes kernels and the jupyter config into the job's
    private directory, reads the hub's secrets file, then replaces itself with
    jupyterhub-singleuser listening on 127.0.0.1 (in direct mode, asked by the hub with
    JOBWRAPPER_SERVER_BIND=direct: on the execute host's own address) and reports the
    port to the hub.
    SERVER_ARGS (after --) are passed to the server.
    """
    _start("singleuser", server_args)


@click.command("lab", context_settings={"ignore_unknown_options": True})
@click.argument("server_args", nargs=-1, type=click.UNPROCESSED)
def lab_command(server_args: tuple[str, ...]) -> None:
    """Start JupyterLab in an interactive job (condor_submit -interactive).

    Listens on a free port on 127.0.0.1 with a fresh token and prints the
    condor_ssh_to_job command to run on your own machine. The token is stored in
    a file only you can read and shown only on a terminal, never in the job's logs.
    """
    _start("lab", server_args)


@click.command("notebook-plan")
@click.option("--kind", type=click.Choice(["singleuser", "lab"]), default="lab",
              show_default=True)
def notebook_plan_command(kind: str) -> None:
    """Show what singleuser/lab would do (modules, kernels, server), changing nothing."""
    context = read()
    inputs = read_notebook(context)
    setup, notebook = plan_notebook(context, plan(context, os.getuid()), inputs, kind)
    click.echo(str(setup))
    click.echo(str(notebook))
