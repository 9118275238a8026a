"""`python -m jobwrapper.localpool COMMAND`: set up, inspect and stop a local pool.

Commands: init, install-bin, status, shutdown, and the condor tools themselves
(`python -m jobwrapper.localpool condor_q ...`). Errors are one line, exit 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from jobwrapper.localpool.admin import init_pool, shutdown, status_lines
from jobwrapper.localpool.commands.dispatch import TOOLS, run_tool
from jobwrapper.localpool.config import PoolError, PoolLayout, config_fields, resolve_pool_dir
from jobwrapper.localpool.install import install_bin


def _settings(pairs: list[str]) -> dict[str, str]:
    settings = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in config_fields():
            raise PoolError(f"--set {pair}: use KEY=VALUE with KEY one of {config_fields()}")
        settings[key] = value
    return settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m jobwrapper.localpool")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("init", "create the pool dir and write pool.json"),
        ("install-bin", "write condor_* shims into DIR"),
        ("status", "list the jobs in the queue"),
        ("shutdown", "remove every job at once (no grace) and clean the queue"),
    ):
        command = commands.add_parser(name, help=text)
        if name == "install-bin":
            command.add_argument("bin_dir", metavar="DIR")
            command.add_argument("--python", help="the shims' interpreter (default: this one "
                                 "if every user can run it, else /usr/bin/python3)")
        command.add_argument("--pool-dir", help="the pool dir (default $JOBWRAPPER_LOCALPOOL_DIR)")
        if name in ("init", "install-bin"):
            command.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                                 help=f"a pool setting: {', '.join(config_fields())}")
        if name == "shutdown":
            command.add_argument("--purge", action="store_true", help="also delete the pool dir")
    return parser


def main(argv: list[str]) -> int:
    if argv and argv[0] in TOOLS:
        return run_tool(argv[0], argv[1:])
    arguments = _parser().parse_args(argv)
    layout = PoolLayout(resolve_pool_dir(arguments.pool_dir))
    try:
        if arguments.command in ("init", "install-bin"):
            init_pool(layout, _settings(arguments.set))
        if arguments.command == "install-bin":
            for path in install_bin(Path(arguments.bin_dir), layout.root, arguments.python):
                print(path)
        elif arguments.command == "status":
            print("\n".join(status_lines(layout)))
        elif arguments.command == "shutdown":
            count = shutdown(layout, purge=arguments.purge)
            print(f"removed {count} job(s) from {layout.root}")
    except (PoolError, ValueError, OSError) as error:
        print(f"localpool: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
