"""Commands that start a notebook server: singleuser (for the hub) and lab (for a person)."""

from __future__ import annotations

import os
import secrets as token_source
from typing import Optional

import click

from jobwrapper.cli import warn
from jobwrapper.errors import ServerError
from jobwrapper.job.apply import apply_setup
from jobwrapper.job.pipeline import apply_planned, read
from jobwrapper.job.plan import Setup, plan
from jobwrapper.notebook.launch import apply_notebook, exec_server
from jobwrapper.notebook.plan import NotebookPlan, plan_notebook, read_notebook
from jobwrapper.notebook.secrets import read_hub_secrets, secrets_path


def _start(kind: str, user_args: tuple[str, ...]) -> None:
    """read -> plan -> apply -> exec, each once (job/pipeline.py)."""
    context = read()
    hub_secrets = {}
    if kind == "singleuser":
        path = secrets_path(context.scratch_dir, context.environ)
        hub_secrets = read_hub_secrets(path) if path else {}
    inputs = read_notebook(context, hub_secrets)
    token = token_source.token_urlsafe(32) if kind == "lab" else None
    uid = os.getuid()

    def planned(private_dir: Optional[str] = None) -> tuple[Setup, NotebookPlan]:
        return plan_notebook(context, plan(context, uid, private_dir=private_dir), inputs,
                             kind, user_args, token)

    first = planned()
    if kind == "lab" and os.geteuid() == 0 and "--allow-root" not in user_args:
        # jupyter would refuse only after we told the person it is starting
        raise ServerError("JupyterLab does not run as root: run jobwrapper lab as the "
                          "job's user (or add -- --allow-root if you really mean it)")
    setup, notebook = apply_planned(context, first, planned, _apply,
                                    lambda both: both[0].private_dir)
    warn(setup.warnings)
    exec_server(setup, notebook, hub_secrets, token)


def _apply(both: tuple[Setup, NotebookPlan]) -> None:
    """The apply stage of the notebook commands: the job's dirs and caches (the env cache
    then holds the modules and venv too: login shells get the same), the server's files."""
    setup, notebook = both
    apply_setup(setup)
    apply_notebook(notebook)


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
