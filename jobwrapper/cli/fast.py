"""The fast path of the server commands: ``lab`` and ``singleuser`` without click.

Loading click and building the group costs ~20 ms of every server start, and their
command line needs nothing from it: the arguments are passed on to the server. So
``jobwrapper lab|singleuser [ARGS...]`` is read here when it is one that click reads
in exactly one way: no help option, nothing a short option could be made of, no
shell completion asked for. Everything else (``-h``, ``--help``, ``-x``, ``--version``,
other commands) is left to click (cli/group.py), and a failure is reported through
click's and our edge exactly as there (``group.fail``). tests/test_cli_fast.py checks
that both read every command line alike.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from typing import NoReturn, Optional

SERVER_COMMANDS = ("lab", "singleuser")
_HELP_OPTIONS = ("-h", "--help")  # the group's help_option_names (cli/group.py)


def server_args(tokens: Sequence[str]) -> Optional[tuple[str, ...]]:
    """The server arguments click would pass for ``tokens``, or None to leave them to click.

    Click passes ``--`` on only after the first one; an unknown long option
    (``--name`` or ``--name=value``) and a plain word go on as they are. Short options
    (``-x``, which could hold ``h``) and the help option are click's to read.
    """
    passed: list[str] = []
    for index, word in enumerate(tokens):
        if word == "--":
            return (*passed, *tokens[index + 1:])
        option = word.startswith("-") and len(word) > 1
        if option and (not word.startswith("--") or word.split("=", 1)[0] in _HELP_OPTIONS):
            return None
        passed.append(word)
    return tuple(passed)


def server_command(argv: Sequence[str], environ: Optional[Mapping[str, str]] = None
                   ) -> Optional[tuple[str, tuple[str, ...]]]:
    """(command, server arguments) for a fast start, or None: click reads ``argv``."""
    environ = os.environ if environ is None else environ
    if not argv or argv[0] not in SERVER_COMMANDS:
        return None
    # click's shell completion (_JOBWRAPPER_COMPLETE and the like) answers instead
    if any(name.endswith("_COMPLETE") for name in environ):
        return None
    passed = server_args(argv[1:])
    return None if passed is None else (argv[0], passed)


def run_server(kind: str, user_args: tuple[str, ...]) -> NoReturn:
    """Start the server (this never returns: exec, or exit with the error's line)."""
    from jobwrapper.errors import JobwrapperError

    try:
        from jobwrapper.cli.serve import start

        start(kind, user_args)
    except (JobwrapperError, EOFError, KeyboardInterrupt, OSError) as error:
        from jobwrapper.cli.group import fail

        fail(error)
    sys.exit(0)
