"""The edge of the condor tools: exit codes and one-line messages, never a traceback."""

from __future__ import annotations

import sys

from jobwrapper.localpool.commands.query import QueryUsageError
from jobwrapper.localpool.commands.submit_file import SubmitError
from jobwrapper.localpool.config import (
    PoolConfig,
    PoolError,
    PoolLayout,
    load_config,
    resolve_pool_dir,
)

TOOLS = ("condor_submit", "condor_q", "condor_rm", "condor_ssh_to_job", "condor_reschedule",
         "condor_status", "condor_qedit", "condor_chirp")


def _dispatch(name: str, argv: list[str], layout: PoolLayout) -> int:
    config = load_config(layout.root)
    if name == "condor_submit":
        from jobwrapper.localpool.commands.submit import submit

        return submit(argv, layout, config)
    if name == "condor_q":
        from jobwrapper.localpool.commands.query import query

        return query(argv, layout)
    if name == "condor_rm":
        from jobwrapper.localpool.commands.remove import remove

        return remove(argv, layout)
    if name == "condor_ssh_to_job":
        from jobwrapper.localpool.commands.ssh_to_job import ssh_to_job

        return ssh_to_job(argv, layout, config)
    if name == "condor_reschedule":
        return reschedule(argv, layout, config)
    if name == "condor_status":
        from jobwrapper.localpool.commands.status import status

        return status(argv, layout, config)
    if name in ("condor_qedit", "condor_chirp"):
        from jobwrapper.localpool.commands import qedit

        return (qedit.qedit if name == "condor_qedit" else qedit.chirp)(argv, layout)
    raise PoolError(f"unknown tool {name}; known: {', '.join(TOOLS)}")


def reschedule(argv: list[str], layout: PoolLayout, config: PoolConfig) -> int:
    """`condor_reschedule` (no targets: the local schedd): ask for a negotiation cycle."""
    if argv:
        raise PoolError(f'invalid argument "{argv[0]}"; the local pool takes no targets')
    if config.negotiator_interval > 0:
        from jobwrapper.localpool.execute import negotiator

        negotiator.request_cycle(layout)
    print('Sent "Reschedule" command to local schedd')
    return 0


def run_tool(name: str, argv: list[str], pool_dir: str | None = None) -> int:
    """Run one condor tool against the pool; returns the exit code."""
    layout = PoolLayout(resolve_pool_dir(pool_dir))
    try:
        return _dispatch(name, argv, layout)
    except SubmitError as error:
        sys.stdout.flush()
        sys.stderr.write(error.text)
        return 1
    except (PoolError, QueryUsageError) as error:
        print(f"{name}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # the edge: a person gets one line, not a traceback
        print(f"{name}: internal error in the local pool: {type(error).__name__}: {error}",
              file=sys.stderr)
        return 1
