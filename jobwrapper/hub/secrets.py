"""The hub side of the secrets channel: which variables are secret, and the 0600 file.

The job gets no secret through its submit description, its job ad or its arguments:
every user of the schedd can read those. Instead the hub writes the secret variables
into `~/.jupyterhub-condor/<server>/.jobwrapper-hub-secrets.json` (0600, owned by the
user, in a 0700 directory), HTCondor transfers it into the job's scratch dir, and
`jobwrapper singleuser` reads it into the server's environment and deletes it.
docs/security.md describes the channel and its threat model.

Writing runs *as the user* (`python -m jobwrapper.hub.secrets prepare`, through the
spawner's exec_prefix, the JSON on stdin), so a root hub never follows a symlink the
user planted in their home directory.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pwd
import stat
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

SECRETS_FILE_NAME = ".jobwrapper-hub-secrets.json"
SECRETS_ENV = "JOBWRAPPER_HUB_SECRETS"
"""Tells the job the secrets file's name, relative to its scratch dir."""
JOB_DIRS_ROOT = ".jupyterhub-condor"
NOTEBOOK_DIR = "jupyter"

# Variables that are secret whatever their value (the token under its old and new names).
SECRET_NAMES = frozenset({"JUPYTERHUB_API_TOKEN", "JPY_API_TOKEN", "JUPYTERHUB_CLIENT_SECRET"})


SYSTEM_PYTHON = "/usr/bin/python3"


def everyone_can_run(path: str) -> bool:
    """Whether every user can execute `path` (each dir on its real path searchable)."""
    real = Path(os.path.realpath(path))
    try:
        if not real.stat().st_mode & stat.S_IXOTH:
            return False
        return all(parent.stat().st_mode & stat.S_IXOTH for parent in real.parents)
    except OSError:
        return False


def helper_command() -> list[str]:
    """How to run this file as the user: stdlib only, `-I` so nothing shadows a module."""
    python = sys.executable if everyone_can_run(sys.executable) else SYSTEM_PYTHON
    return [python, "-I", os.path.abspath(__file__)]


def job_dir_for(server_name: str, root: str = JOB_DIRS_ROOT) -> str:
    """The per-server directory, relative to the home dir: `.jupyterhub-condor/<server>`
    (`root`: `.jupyterhub-slurm` for Slurm jobs)."""
    return f"{root}/server-{server_name}" if server_name else f"{root}/default"


def split_environment(
    environment: Mapping[str, str], secret_values: Iterable[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """(public, secret): a variable is secret by name or if its value holds a secret value."""
    needles = [value for value in secret_values if value]
    public: dict[str, str] = {}
    secret: dict[str, str] = {}
    for name, value in environment.items():
        if name in SECRET_NAMES or any(needle in value for needle in needles):
            secret[name] = value
        else:
            public[name] = value
    return public, secret


def allowed(environment: Mapping[str, str], allow: Iterable[str]) -> dict[str, str]:
    """Only the variables named in `allow` (a trailing `*` matches a prefix)."""
    exact = {name for name in allow if not name.endswith("*")}
    prefixes = tuple(name[:-1] for name in allow if name.endswith("*"))
    return {
        name: value
        for name, value in environment.items()
        if name in exact or (prefixes and name.startswith(prefixes))
    }


# ---- what runs as the user ---------------------------------------------------------


def _ensure_private_dir(path: Path) -> None:
    """Create `path` 0700, or make an existing real directory of ours 0700."""
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise SystemExit(f"{path} is not a directory owned by you; move it away and retry")
    os.chmod(path, 0o700)


def prepare(home: Path, job_dir: str, secrets: Mapping[str, str]) -> Path:
    """Create ~/jupyter (0700, first spawn only), the 0700 job dir, and the 0600 file."""
    notebook_dir = home / NOTEBOOK_DIR
    if not notebook_dir.exists() and not notebook_dir.is_symlink():
        notebook_dir.mkdir(mode=0o700)
    for parent in reversed(Path(job_dir).parents[:-1]):  # .jupyterhub-condor (or -slurm)
        _ensure_private_dir(home / parent)
    directory = home / job_dir
    _ensure_private_dir(directory)
    target = directory / SECRETS_FILE_NAME
    temporary = directory / f".{SECRETS_FILE_NAME}.{os.getpid()}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(temporary, flags, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(dict(secrets), handle)
    os.replace(temporary, target)
    return target


def remove(home: Path, job_dir: str) -> None:
    """Delete the secrets file (at stop; the job deletes its own copy when it starts)."""
    with contextlib.suppress(FileNotFoundError):
        (home / job_dir / SECRETS_FILE_NAME).unlink()


def main(argv: list[str] | None = None) -> int:
    """`python -m jobwrapper.hub.secrets prepare|remove JOB_DIR` (run as the user)."""
    parser = argparse.ArgumentParser(prog="python -m jobwrapper.hub.secrets")
    parser.add_argument("action", choices=("prepare", "remove"))
    parser.add_argument("job_dir", help="relative to the home dir, e.g. .jupyterhub-condor/default")
    args = parser.parse_args(argv)
    if args.job_dir.startswith("/") or ".." in Path(args.job_dir).parts:
        parser.error("job_dir must be relative and stay inside the home dir")
    home = Path(pwd.getpwuid(os.getuid()).pw_dir)
    os.umask(0o077)
    if args.action == "remove":
        remove(home, args.job_dir)
        return 0
    secrets = json.load(sys.stdin)
    if not isinstance(secrets, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in secrets.items()
    ):
        parser.error("stdin must hold a JSON object of strings")
    prepare(home, args.job_dir, secrets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
