"""Socket mode's paths, shared by the job (which makes them) and the hub (which checks them).

In socket mode the notebook server listens on ``<scratch>/.jobwrapper/sockets/server.sock``
and reports that path to the hub. The hub cannot know the scratch dir of a job on a
real pool in advance, so it accepts a path only if it has exactly this shape: absolute,
normalized, made of lower-case letters, digits and ``/_.-`` only, ending in the private
dir's ``sockets/server.sock``, and short enough for a unix socket address. The hub never
opens that path itself: it is only the remote end of ``ssh -L HUB.sock:JOB.sock``.

Lower-case only, because the URL library lower-cases the host part of
``http+unix://<percent-encoded path>`` (docs/socket-mode.md).
"""

from __future__ import annotations

import os
import re

PRIVATE_DIR_NAME = ".jobwrapper"  # plan.PRIVATE_DIR_NAME; the job's private dir
SOCKET_DIR = "sockets"
SOCKET_FILE = "server.sock"
JOB_SOCKET_SUFFIX = f"/{PRIVATE_DIR_NAME}/{SOCKET_DIR}/{SOCKET_FILE}"
# sun_path holds 108 bytes on Linux, one of them the terminating NUL.
MAX_SOCKET_PATH = 107
JOB_SOCKET_PATTERN = re.compile(r"^/[a-z0-9/_.-]+/\.jobwrapper/sockets/server\.sock$")
HUB_SOCKET_PATTERN = re.compile(r"^/[a-z0-9/_.-]+\.sock$")


def job_socket_path(private_dir: str) -> str:
    """Where the server listens in socket mode: the private dir's sockets/server.sock."""
    return os.path.join(private_dir, SOCKET_DIR, SOCKET_FILE)


def job_socket_problem(path: object) -> str | None:
    """Why `path` is not acceptable as a job's server socket; None when it is."""
    if not isinstance(path, str):
        return "socket must be a string"
    if len(path.encode()) > MAX_SOCKET_PATH:
        return f"socket path is longer than {MAX_SOCKET_PATH} bytes"
    if not path.startswith("/"):
        return "socket path must be absolute"
    if os.path.normpath(path) != path or "/../" in path or "/./" in path:
        return "socket path must be normalized (no '..', '.', '//')"
    if not JOB_SOCKET_PATTERN.match(path):
        return (f"socket path must be lower-case [a-z0-9/_.-] and end in "
                f"{JOB_SOCKET_SUFFIX}")
    return None


def hub_socket_problem(path: str) -> str | None:
    """Why `path` cannot be the hub-side socket (URL-safe, lower-case, short); None if fine."""
    if len(path.encode()) > MAX_SOCKET_PATH:
        return f"{path} is longer than {MAX_SOCKET_PATH} bytes"
    if os.path.normpath(path) != path or not HUB_SOCKET_PATTERN.match(path):
        return f"{path} must be absolute, normalized and lower-case [a-z0-9/_.-]"
    return None
