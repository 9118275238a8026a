"""The apply stage: the only place that writes. It carries out a Setup.

- directories are created with mode 0700 and must belong to us (a pre-made
  directory or a symlink planted by someone else in a shared /tmp is refused);
- the environment is cached in the private directory for the profile.d scripts
  (``env.sh``, ``env.csh``, ``env.json``, ``message.txt``, ``message.sh``,
  ``message.csh``), each file written to a temporary name and renamed, so a login
  never sources a half-written file.
"""

from __future__ import annotations

import os
import stat

from jobwrapper.errors import JobError
from jobwrapper.job.plan import Setup
from jobwrapper.job.shells import render, render_message_csh, render_message_sh

CACHE_FILES = {"sh": "env.sh", "csh": "env.csh", "json": "env.json"}
MESSAGE_FILE = "message.txt"
# The message as builtins (printf, echo), so a login prints it without a process start.
MESSAGE_SCRIPTS = {"message.sh": render_message_sh, "message.csh": render_message_csh}


def make_private_dir(path: str) -> None:
    """Create ``path`` (and parents) with mode 0700; refuse one that is not ours."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        info = os.lstat(path)
    except OSError as error:
        raise JobError(f"{path}: cannot create the directory ({error.strerror})") from None
    if not stat.S_ISDIR(info.st_mode):
        raise JobError(f"{path}: exists and is not a directory; remove it")
    if info.st_uid != os.getuid():
        raise JobError(f"{path}: belongs to another user; remove it or set TMPDIR")
    if stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(path, 0o700)


def write_private_file(path: str, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600, atomically."""
    temporary = f"{path}.{os.getpid()}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        # surrogateescape: a variable that held non-UTF-8 bytes is written back as those bytes
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def apply_setup(setup: Setup, write_cache: bool = True) -> None:
    """Create the directories and write the environment cache."""
    for directory in setup.directories:
        make_private_dir(directory)
    if not write_cache:
        return
    try:
        for shell, name in CACHE_FILES.items():
            text = render(shell, setup.env, setup.unset)
            write_private_file(os.path.join(setup.private_dir, name), text)
        write_private_file(os.path.join(setup.private_dir, MESSAGE_FILE), setup.message + "\n")
        for name, render_message in MESSAGE_SCRIPTS.items():
            write_private_file(os.path.join(setup.private_dir, name),
                               render_message(setup.message))
    except OSError as error:
        raise JobError(
            f"{setup.private_dir}: cannot write the environment cache ({error.strerror})"
        ) from None
