"""Site specifics of the job's environment and its login shells ([login], issue 16 part 6).

What the sites' own profile.d scripts did, each off unless the site config turns it
on (the time zone is on by default, docs/profile.d.md says why):

- the user's data directory on the site's storage in a variable (``DATA``), from a
  path template, set only when the directory exists;
- an OS-specific rc file of the user's (``~/.bashrc.d/Rocky9``), named in
  ``JOBWRAPPER_LOGIN_RC`` / ``JOBWRAPPER_LOGIN_CSHRC`` and sourced by the profile.d
  scripts in interactive shells only, after their own checks (owner, mode);
- ``TZ`` named after the zone the node's /etc/localtime or /etc/timezone names.

``read_login`` is the read (it looks at the file system, never writes); the plan adds
its ``env`` to the job's environment, so ``jobwrapper env``, ``run``, the notebook
and login shells all get the same values. The user name is the read stage's
(``JobContext.owner``, checked there), never the environment's.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import re
from dataclasses import dataclass, field
from typing import Optional

from jobwrapper.config import TIMEZONE_NAME
from jobwrapper.job.context import JobContext
from jobwrapper.pathtemplate import fill

RC_VARIABLES = {"rc_pattern": "JOBWRAPPER_LOGIN_RC", "csh_rc_pattern": "JOBWRAPPER_LOGIN_CSHRC"}
ZONEINFO = "usr/share/zoneinfo"  # below the root
_SAFE_GROUP = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,31}\Z")
_TZIF_MAGIC = b"TZif"
_MAX_ZONE_FILE = 1 << 20


@dataclass(frozen=True)
class LoginSetup:
    """What [login] adds to the plan: variables, and why something was left out."""

    env: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # one line each, for `jobwrapper plan` and doctor


def placeholder_values(context: JobContext, uid: int) -> dict[str, Optional[str]]:
    """The values of the path templates' placeholders; None where unknown."""
    owner = context.owner
    home = group = None
    with contextlib.suppress(KeyError):  # no passwd or group entry in this container
        home = pwd.getpwuid(uid).pw_dir
    with contextlib.suppress(KeyError):
        group = grp.getgrgid(os.getgid()).gr_name
    return {
        "user": owner,
        "initial": owner[0] if owner else None,
        "group": group if group and _SAFE_GROUP.match(group) else None,
        "home": home if home and home.startswith("/") and "\n" not in home else None,
        "container": context.container_label,
    }


def read_login(context: JobContext, uid: int, root: str = "/") -> LoginSetup:
    """The [login] variables for this job; reads the file system, writes nothing.

    ``root``: where /etc and /usr/share/zoneinfo are (tests use a fake tree).
    """
    settings = context.config.login
    values = placeholder_values(context, uid)
    env: dict[str, str] = {}
    notes: list[str] = []
    if settings.data_dir_variable and settings.data_dir_pattern:
        _data_dir(settings.data_dir_variable, settings.data_dir_pattern, values, context,
                  env, notes)
    for key, variable in RC_VARIABLES.items():
        pattern = getattr(settings, key)
        if not pattern:
            continue
        path = fill(pattern, values)
        if path is None:
            notes.append(f"login.{key}: {_unfilled(pattern, values)}; no rc file is sourced")
        else:
            env[variable] = path
    if settings.timezone:
        zone, problem = (read_host_timezone(root) if settings.timezone == "host"
                         else check_zone(settings.timezone, root, "login.timezone"))
        current = context.environ.get("TZ")
        if current is not None and current != zone:
            notes.append(f"TZ is set already ({current!r}); left as it is")
        elif zone:
            env["TZ"] = zone
        else:
            notes.append(f"{problem}; TZ is not set")
    return LoginSetup(env, tuple(notes))


def _data_dir(variable: str, pattern: str, values: dict[str, Optional[str]],
              context: JobContext, env: dict[str, str], notes: list[str]) -> None:
    if variable in context.user_environment:
        notes.append(f"{variable} is set in the job's environment; left as the user set it")
        return
    path = fill(pattern, values)
    if path is None:
        notes.append(f"login.data_dir_pattern: {_unfilled(pattern, values)}; "
                     f"{variable} is not set")
    elif not os.path.isdir(path):
        notes.append(f"data directory {path} does not exist (login.data_dir_pattern); "
                     f"{variable} is not set")
    else:
        env[variable] = path


def _unfilled(pattern: str, values: dict[str, Optional[str]]) -> str:
    missing = [f"{{{name}}}" for name, value in values.items()
               if not value and f"{{{name}}}" in pattern]
    if missing:
        return f"{', '.join(missing)} unknown in this job"
    return f"{pattern!r} gives no absolute path"


# ----- the time zone ----------------------------------------------------------------------
def read_host_timezone(root: str = "/") -> tuple[Optional[str], str]:
    """(zone name, "") from the node's /etc/localtime symlink, else /etc/timezone; or
    (None, why). A name is used only when it is a valid zone here and agrees with what
    /etc/localtime holds, so TZ names the zone the node shows and changes no clock."""
    localtime = os.path.join(root, "etc", "localtime")
    try:
        target = os.readlink(localtime)
    except OSError:
        target = None
    if target is not None:
        if "zoneinfo/" not in target:
            return None, f"/etc/localtime points to {target}, not into a zoneinfo directory"
        return check_zone(target.rsplit("zoneinfo/", 1)[1], root, "/etc/localtime")
    try:
        with open(os.path.join(root, "etc", "timezone"), encoding="utf-8",
                  errors="replace") as handle:
            name = handle.readline(200).strip()
    except OSError:
        return None, "neither /etc/localtime (a symlink) nor /etc/timezone names a zone"
    zone, problem = check_zone(name, root, "/etc/timezone")
    # A copied or bind-mounted /etc/localtime rules; /etc/timezone may be stale.
    if zone and os.path.lexists(localtime) and (
            _read_small(localtime) != _read_small(_zone_file(zone, root))):
        return None, f"/etc/timezone names {zone}, but /etc/localtime holds another zone"
    return zone, problem


def check_zone(name: str, root: str = "/", source: str = "") -> tuple[Optional[str], str]:
    """(name, "") if ``name`` is a tz database name with its file in this container's
    /usr/share/zoneinfo, else (None, why)."""
    where = f"{source}: " if source else ""
    if not TIMEZONE_NAME.match(name):
        return None, f"{where}{name[:80]!r} is not a time zone name"
    data = _read_small(_zone_file(name, root))
    if not data or not data.startswith(_TZIF_MAGIC):
        return None, (f"{where}{name} is not in /{ZONEINFO} here (install tzdata in the "
                      "container)")
    return name, ""


def _zone_file(name: str, root: str) -> str:
    return os.path.join(root, ZONEINFO, name)


def _read_small(path: str) -> Optional[bytes]:
    try:
        with open(path, "rb") as handle:
            return handle.read(_MAX_ZONE_FILE)
    except OSError:
        return None
