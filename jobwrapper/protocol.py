"""The hub<->job contract: every name, format and rule both halves must agree on.

Standard library only: the hub imports this module and nothing else from the job side,
and the job side imports it before it execs the server. A hub and the worker images
are upgraded at different times, so the job sends its protocol version with every
report and the hub refuses, in one line, a version it does not speak.

What crosses the line:

1. Hub -> job, in the submit description's `environment` (public, visible in the job
   ad): `SERVER_BIND_ENV`, `SERVER_MODE_ENV`, `SECRETS_ENV`; JupyterHub's own
   JUPYTERHUB_* variables. Secrets go in the 0600 file `SECRETS_FILE_NAME`
   (a JSON object of strings, at most `SECRETS_MAX_SIZE` bytes) transferred into the
   scratch dir, read and deleted by the job before the server starts. A Slurm job has
   no scratch dir and no transfer (the home is shared): there `SECRETS_ENV` holds the
   file's absolute path in the user's home.
2. jobwrapper -> the server it execs (same process, across exec): `LISTEN_FD`,
   `REPORT`, `REPORT_TIMEOUT`.
3. Job -> hub, `POST $JUPYTERHUB_API_URL/batchspawner` with the server's own token
   and the header `PROTOCOL_HEADER: VERSION`: exactly `{"port": N}` or
   `{"socket": PATH}` when the server serves, and `{"ended": REASON}` when it ends on
   purpose. Version 1 (before 2026-12) sent no header and no end report; the version
   travels in a header so that a hub of version 1 still takes a newer job's port.
"""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass
from typing import Union

PROTOCOL_VERSION = 2
SUPPORTED_VERSIONS = (1, 2)  # what this hub accepts; 1 = a report without the header
PROTOCOL_HEADER = "X-Jobwrapper-Protocol"
REPORT_PATH = "/batchspawner"  # under JUPYTERHUB_API_URL

# -- hub -> job (submit description) ----------------------------------------------------
SERVER_BIND_ENV = "JOBWRAPPER_SERVER_BIND"  # "loopback" (tunnelled) or "direct"
SERVER_MODE_ENV = "JOBWRAPPER_SERVER_MODE"  # "tcp" or "socket"
SECRETS_ENV = "JOBWRAPPER_HUB_SECRETS"  # the secrets file's name in the scratch dir
SECRETS_FILE_NAME = ".jobwrapper-hub-secrets.json"
SECRETS_MAX_SIZE = 64 * 1024

# -- jobwrapper -> the server it execs ----------------------------------------------------
LISTEN_FD = "JOBWRAPPER_LISTEN_FD"
REPORT = "JOBWRAPPER_HUB_REPORT"
REPORT_TIMEOUT = "JOBWRAPPER_REPORT_TIMEOUT"

# -- a bench or a person -> jobwrapper (bench/launch_overhead) ---------------------------
# When set, jobwrapper appends "STAGE MONOTONIC_NS CPU_NS PID" lines to this file as it
# starts (job/timestamps.py); never passed on to the server it execs.
TIMESTAMPS_ENV = "JOBWRAPPER_TIMESTAMPS"

# -- names: user-chosen words that reach submit files, prompts and kernel names ---------
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}\Z")


def is_safe_name(value: object) -> bool:
    """A container OS, environment or similar name: 1-64 of [A-Za-z0-9._+-], not
    starting with punctuation (so never an option, a path or a shell word)."""
    return isinstance(value, str) and bool(SAFE_NAME.match(value))


# -- socket mode's paths ------------------------------------------------------------------
PRIVATE_DIR_NAME = ".jobwrapper"
SOCKET_DIR = "sockets"
SOCKET_FILE = "server.sock"
JOB_SOCKET_SUFFIX = f"/{PRIVATE_DIR_NAME}/{SOCKET_DIR}/{SOCKET_FILE}"
MAX_SOCKET_PATH = 107  # sun_path holds 108 bytes on Linux, one of them the NUL
# The private dir: SCRATCH/.jobwrapper (HTCondor), or TEMP/jobwrapper-UID-JOBID in a
# job without a scratch dir (Slurm; job/plan.py private_root).
JOB_SOCKET_PATTERN = re.compile(
    r"^/[a-z0-9/_.-]+/(\.jobwrapper|jobwrapper-[0-9]+-[0-9_]+)/sockets/server\.sock$")
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
                f"{JOB_SOCKET_SUFFIX} (or /jobwrapper-UID-JOBID/sockets/server.sock)")
    return None


def hub_socket_problem(path: str) -> str | None:
    """Why `path` cannot be the hub-side socket (URL-safe, lower-case, short); None if fine."""
    if len(path.encode()) > MAX_SOCKET_PATH:
        return f"{path} is longer than {MAX_SOCKET_PATH} bytes"
    if os.path.normpath(path) != path or not HUB_SOCKET_PATTERN.match(path):
        return f"{path} must be absolute, normalized and lower-case [a-z0-9/_.-]"
    return None


# -- job -> hub reports ---------------------------------------------------------------------
# Why a server ended on purpose. The hub shows its own words for each, never the job's.
END_REASONS = {
    "shutdown": "the notebook server was shut down (File > Shut Down in JupyterLab, "
                "or a shutdown request to its API)",
    "runtime-limit": "the notebook server ended itself before the job's runtime limit",
    "idle": "the notebook server ended itself after a time without activity",
    "signal": "the notebook server was told to stop by HTCondor (removal or eviction)",
}


class ReportError(ValueError):
    """A report that is not exactly one of the accepted shapes; the message says why."""


@dataclass(frozen=True)
class Ended:
    """`{"ended": REASON}`: the server is ending on purpose."""

    reason: str


Report = Union[int, str, Ended]  # a port, a socket path, or an end


def report_body(report: Report) -> dict[str, object]:
    """The JSON body the job sends for a port, a socket path or an end."""
    if isinstance(report, Ended):
        return {"ended": report.reason}
    if isinstance(report, str):
        return {"socket": report}
    return {"port": report}


def report_headers(token: str) -> dict[str, str]:
    """The headers of a report: the server's own token and the protocol version."""
    return {"Authorization": f"token {token}", "Content-Type": "application/json",
            PROTOCOL_HEADER: str(PROTOCOL_VERSION)}


def parse_version(header: str | None) -> int:
    """The job's protocol version from its header (none: 1), or ReportError in one line."""
    if header is None or header == "":
        return 1
    if not header.isdigit() or len(header) > 4:
        raise ReportError(f"{PROTOCOL_HEADER} must be a number")
    version = int(header)
    if version not in SUPPORTED_VERSIONS:
        raise ReportError(
            f"the job speaks jobwrapper protocol {version}, this hub "
            f"{SUPPORTED_VERSIONS[0]} to {SUPPORTED_VERSIONS[-1]}: install the same "
            "jobwrapper release on the hub and in the worker images")
    return version


def parse_report(body: object, version: int = 1) -> Report:
    """The port (int), socket path (str) or `Ended` from a job's report, or ReportError.

    Exactly one field: `port`, `socket`, or (from version 2 on) `ended`."""
    if not isinstance(body, dict):
        raise ReportError('the body must be a JSON object: {"port": N}')
    known = set(body) & {"port", "socket", "ended"}
    if len(known) > 1:
        raise ReportError("exactly one of 'port', 'socket' or 'ended' is accepted")
    extra = sorted(str(key) for key in set(body) - {"port", "socket", "ended"})
    if extra or not known:
        raise ReportError(f"only the field 'port' is accepted; refused: "
                          f"{', '.join(extra) or 'none'}")
    kind = known.pop()
    value = body[kind]
    if kind == "socket":
        problem = job_socket_problem(value)
        if problem:
            raise ReportError(problem)
        return str(value)
    if kind == "ended":
        if version < 2 or not isinstance(value, str) or value not in END_REASONS:
            raise ReportError(f"ended must be one of {', '.join(sorted(END_REASONS))} "
                              "(protocol 2)")
        return Ended(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ReportError("port must be an integer from 1 to 65535")
    return value


# -- ~/jupyter's sync: the manifests the job writes and the hub's merge reads -----------
# The job writes <root>/SYNC_DIR/in.json (what arrived, before the server starts) and
# out.json (what leaves, when the server ends); both travel back with jupyter/. A dot
# dir: JupyterLab does not show it. Entries: relative path -> [type, size, mtime_ns,
# mode], type "f" (file), "d" (dir), "l" (symlink; size = target length).
SYNC_ENV = "JOBWRAPPER_SYNC"  # "1": the hub merges ~/jupyter (docs/sync.md)
SYNC_DIR = ".jobwrapper-sync"
MANIFEST_IN = "in.json"
MANIFEST_OUT = "out.json"
MANIFEST_VERSION = 1

Entry = list  # [type, size, mtime_ns, mode]


def scan_tree(root: str) -> dict[str, Entry]:
    """Every file, dir and symlink under `root` (never followed), by relative path;
    SYNC_DIR is left out. Unreadable dirs are skipped (their entries are unknown)."""
    found: dict[str, Entry] = {}
    stack = [""]
    while stack:
        relative = stack.pop()
        try:
            entries = list(os.scandir(os.path.join(root, relative) if relative else root))
        except OSError:
            continue
        for entry in entries:
            path = os.path.join(relative, entry.name) if relative else entry.name
            if path == SYNC_DIR:
                continue
            try:
                described = _entry(entry.stat(follow_symlinks=False))
            except OSError:
                continue
            if described is None:
                continue
            found[path] = described
            if described[0] == "d":
                stack.append(path)
    return found


def entry_of(path: str) -> Entry | None:
    """The manifest entry of one path (not followed), or None when there is nothing."""
    try:
        return _entry(os.lstat(path))
    except OSError:
        return None


def _entry(info: os.stat_result) -> Entry | None:
    """A manifest entry from an lstat result; None for what is not a file, dir or link."""
    mode = info.st_mode
    if stat.S_ISLNK(mode):
        return ["l", info.st_size, info.st_mtime_ns, mode & 0o7777]
    if stat.S_ISDIR(mode):
        return ["d", 0, 0, mode & 0o7777]
    if stat.S_ISREG(mode):
        return ["f", info.st_size, info.st_mtime_ns, mode & 0o7777]
    return None


def manifest_text(entries: dict[str, Entry], complete: bool) -> str:
    """A manifest as JSON: names that are not UTF-8 keep their bytes (surrogateescape)."""
    return json.dumps({"version": MANIFEST_VERSION, "complete": complete, "entries": entries},
                      ensure_ascii=True, sort_keys=True)


def parse_manifest(text: str) -> tuple[dict[str, Entry], bool]:
    """(entries, complete) from a manifest's JSON; ValueError if it is not one."""
    data = json.loads(text)
    if not isinstance(data, dict) or data.get("version") != MANIFEST_VERSION:
        raise ValueError("not a jobwrapper manifest of version 1")
    entries = data.get("entries")
    if not isinstance(entries, dict):
        raise ValueError("a manifest's entries must be an object")
    return entries, bool(data.get("complete"))


def write_manifest(root: str, name: str, complete: bool = True) -> str:
    """Scan `root` and write SYNC_DIR/`name` in it (0600, atomically); its path."""
    directory = os.path.join(root, SYNC_DIR)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    text = manifest_text(scan_tree(root), complete)
    path = os.path.join(directory, name)
    temporary = f"{path}.{os.getpid()}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(temporary, path)
    return path


# -- idle end and more time (docs/shutdown.md) -----------------------------------------
# hub -> job: minutes without activity after which the server ends itself (a whole
# number; wins over the site config's idle.server_minutes; 0: never).
IDLE_MINUTES_ENV = "JOBWRAPPER_IDLE_MINUTES"
# job -> hub: `POST RUNTIME_PATH` under JUPYTERHUB_API_URL with exactly
# `{"runtime_hours": N}` (the job's new total runtime, whole hours), authenticated by
# the server's own API token; the hub answers `{"runtime_seconds": S}`.
RUNTIME_PATH = "/jobwrapper/runtime"
MAX_RUNTIME_HOURS = 10_000  # no request is larger, whatever a site allows


def parse_runtime_request(body: object) -> int:
    """The hours of `{"runtime_hours": N}`, N a whole number from 1 to
    MAX_RUNTIME_HOURS; ReportError for anything else (another field, a string, 1.5)."""
    if not isinstance(body, dict) or set(body) != {"runtime_hours"}:
        raise ReportError("the body must be exactly {\"runtime_hours\": N}")
    hours = body["runtime_hours"]
    if isinstance(hours, bool) or not isinstance(hours, int) \
            or not 1 <= hours <= MAX_RUNTIME_HOURS:
        raise ReportError(f"runtime_hours must be a whole number from 1 to "
                          f"{MAX_RUNTIME_HOURS}")
    return hours
