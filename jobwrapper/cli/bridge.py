"""``jobwrapper bridge``: the job's end of the hub's tunnel to a Slurm job.

The hub starts it as a step of the job (``srun --jobid=ID --overlap ... jobwrapper
bridge --port N``) and carries the proxy's connections over the step's stdin and
stdout (jobwrapper/stepbridge.py); each one is connected here to the notebook server
on loopback or on its unix socket. Not for people: stdout is a binary stream.
"""

from __future__ import annotations

import sys
from typing import Optional

import click

from jobwrapper.errors import ServerError
from jobwrapper.protocol import job_socket_problem


@click.command("bridge")
@click.option("--port", type=click.IntRange(1, 65535), help="The server's port on loopback.")
@click.option("--socket", "path", help="The server's unix socket (socket mode).")
def bridge_command(port: Optional[int], path: Optional[str]) -> None:
    """Carry the hub's connections to this job's notebook server (used by the hub's
    Slurm tunnel: stdin and stdout are a binary stream)."""
    if (port is None) == (path is None):
        raise click.UsageError("give exactly one of --port and --socket")
    if path is not None:
        problem = job_socket_problem(path)
        if problem:
            raise ServerError(f"--socket {path!r}: {problem}")
    from jobwrapper import stepbridge

    sys.exit(stepbridge.main(["job", *(["--port", str(port)] if port else ["--socket", path])]))
