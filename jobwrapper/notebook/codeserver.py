"""VS Code in the browser (code-server): whether it can be offered, and how it runs.

Pure decisions, read by ``jobwrapper doctor`` and by the jupyter-server-proxy entry in
``jobwrapper.inserver.codeserver`` (which makes the directories and registers it):
the executable, the one-line reason when it cannot be offered, and code-server's argv.

code-server listens only on a unix socket (mode 0600) in a fresh 0700 directory, with
``--auth none``: the only way in is jupyter-server-proxy, which requires the notebook's
own login (token or hub cookie) like every other server URL. No password exists, so
none can leak through URLs, argv, code-server's config file or logs. See docs/vscode.md.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Optional

from jobwrapper.config import SiteConfig

ENTRY_NAME = "code-server"  # the jupyter-server-proxy entry: URL path /code-server/
SOCKET_NAME = "vscode.sock"  # short: DIR/vscode.sock within desktop_dir's 100-byte budget
CONFIG_NAME = "config.yaml"
# Written instead of code-server's default config file, which holds a random password
# (and would be written to ~/.config/code-server/config.yaml, mode 0644).
CONFIG_TEXT = "# written by jobwrapper: the options are on the command line\nauth: none\n"
_VARIABLE = re.compile(r"\$(?:([A-Za-z_][A-Za-z0-9_]*)|\{([A-Za-z_][A-Za-z0-9_]*)\})")
INSTALL_HINT = "npm package code-server 4.100.3 for Node 20; see docs/vscode.md"

# Options that would open a network port, set a password or a certificate, or move
# what jobwrapper places: refused in code_server.extra_args.
FORBIDDEN_OPTIONS = (
    "--bind-addr", "--port", "--host", "--socket", "--socket-mode", "--auth", "--password",
    "--hashed-password", "--cert", "--cert-host", "--cert-key", "--config", "--link",
    "--user-data-dir", "--extensions-dir", "--proxy-domain", "--trusted-origins",
    "--skip-auth-preflight", "--github-auth", "--open",
)


def find_code_server(site: SiteConfig, environ: Optional[dict[str, str]] = None
                     ) -> Optional[str]:
    """The code-server executable: ``code_server.path``, else code-server on PATH; None
    when there is none (or the configured one is not an executable file)."""
    configured = site.code_server.path
    if configured:
        ok = os.path.isabs(configured) and os.path.isfile(configured) and os.access(
            configured, os.X_OK)
        return configured if ok else None
    path = (os.environ if environ is None else environ).get("PATH", os.defpath)
    return shutil.which("code-server", path=path)


def forbidden_option(args: list[str]) -> str:
    """The first of ``args`` that FORBIDDEN_OPTIONS refuses, or ""."""
    for word in args:
        name = word.split("=", 1)[0]
        if name in FORBIDDEN_OPTIONS:
            return word
    return ""


OFFERED, TURNED_OFF, NOT_INSTALLED, MISCONFIGURED = "offered", "off", "missing", "config"


def availability(site: SiteConfig, environ: Optional[dict[str, str]] = None
                 ) -> tuple[str, str]:
    """(OFFERED, the executable) or (TURNED_OFF / NOT_INSTALLED / MISCONFIGURED, one line
    saying why VS Code cannot be offered)."""
    settings = site.code_server
    if not settings.enabled:
        return TURNED_OFF, ("jobwrapper: VS Code (code-server) is turned off in the site "
                            "config (code_server.enabled)")
    bad = forbidden_option(list(settings.extra_args))
    if bad:
        return MISCONFIGURED, (f"jobwrapper: code_server.extra_args may not contain {bad!r}: "
                               "jobwrapper sets the socket, the authentication and the "
                               "directories itself")
    for key in ("user_data_dir", "extensions_dir"):
        value = getattr(settings, key)
        if value and not os.path.isabs(expand(value, environ)):
            return MISCONFIGURED, (f"jobwrapper: code_server.{key} = {value!r} is not an "
                                   "absolute path (after ~ and $VARIABLE expansion)")
    executable = find_code_server(site, environ)
    if executable is None and settings.path:
        return MISCONFIGURED, (f"jobwrapper: VS Code needs code-server, and code_server.path "
                               f"= {settings.path!r} is not an executable file")
    if executable is None:
        return NOT_INSTALLED, ("jobwrapper: VS Code needs code-server, which is not "
                               f"installed in this container ({INSTALL_HINT})")
    return OFFERED, executable


def unavailable_reason(site: SiteConfig, environ: Optional[dict[str, str]] = None) -> str:
    """One line saying why VS Code cannot be offered, or "" when it can."""
    state, detail = availability(site, environ)
    return "" if state == OFFERED else detail


def expand(value: str, environ: Optional[dict[str, str]] = None) -> str:
    """``~`` and ``$VARIABLE`` / ``${VARIABLE}`` expanded with ``environ`` (default: this
    process's); an unset variable stays as written."""
    env = os.environ if environ is None else environ
    if value == "~" or value.startswith("~/"):
        value = (env.get("HOME") or os.path.expanduser("~")) + value[1:]
    return _VARIABLE.sub(lambda m: env.get(m.group(1) or m.group(2), m.group(0)), value)


def data_dirs(site: SiteConfig, socket_dir: Path, environ: Optional[dict[str, str]] = None
              ) -> tuple[Path, Path]:
    """code-server's user-data and extensions dirs.

    The site's ``code_server.user_data_dir`` / ``extensions_dir`` when set; otherwise
    ``$JOBWRAPPER_PRIVATE_DIR/code-server/`` (the job's private dir: gone with the job,
    never in the transferred ~/jupyter), else inside the socket's own 0700 dir.
    """
    env = os.environ if environ is None else environ
    private = env.get("JOBWRAPPER_PRIVATE_DIR", "")
    base = Path(private) / "code-server" if private and os.path.isdir(private) else socket_dir
    settings = site.code_server
    user_data = Path(expand(settings.user_data_dir, env)) if settings.user_data_dir else (
        base / "user-data")
    extensions = Path(expand(settings.extensions_dir, env)) if settings.extensions_dir else (
        base / "extensions")
    return user_data, extensions


def code_server_command(executable: str, socket_dir: Path, user_data: Path, extensions: Path,
                        folder: str, extra_args: list[str]) -> list[str]:
    """code-server's argv: the unix socket only, no TCP, no password, no telemetry."""
    return [
        executable,
        "--socket", str(socket_dir / SOCKET_NAME),
        "--socket-mode", "600",
        "--auth", "none",
        "--config", str(socket_dir / CONFIG_NAME),
        "--user-data-dir", str(user_data),
        "--extensions-dir", str(extensions),
        "--disable-telemetry",
        "--disable-update-check",
        "--disable-getting-started-override",
        "--disable-proxy",  # its /proxy/PORT/: jupyter-server-proxy's /proxy/PORT/ is there
        *extra_args,
        folder,
    ]
