"""The desktop: X11 applications in the browser, through xpra behind jupyter-server-proxy.

Debian's xpra (3.1) serves its HTML5 client and websocket on a unix socket, so xpra
listens on nothing but ``xpra.sock`` in a fresh 0700 directory; jupyter-server-proxy
(which authenticates every request with the server's token or hub cookie) is the
only way in. No password exists, so none can leak through URLs, argv or logs.
With ``desktop.dbus_session`` the start command runs under ``dbus-run-session`` with
a bus config whose only listener is a unix socket in that same directory.

jupyter-xprahtml5-proxy 0.3.5 registers an entry ``xprahtml5`` that listens on TCP
0.0.0.0 with a ``random.choice`` password in the URL. This module is also a
jupyter-server extension (loaded with ``jobwrapper.inserver.lifecycle``, before
jupyter-server-proxy): it removes that entry before jupyter-server-proxy reads its
entry points, and answers its URL path with a 404 should anything re-add it.
See docs/desktop.md.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Optional
from xml.sax.saxutils import escape

from jobwrapper.config import SiteConfig, load_config

ENTRY_POINT_GROUP = "jupyter_serverproxy_servers"
# Other packages' entries and the one of ours that replaces each: jupyter-xprahtml5-proxy's
# (TCP, password in the URL) and jupyter-vscode-proxy's (code-server on TCP without any
# password; docs/vscode.md).
REPLACED_ENTRIES = {"xprahtml5": "desktop", "vscode": "code-server"}
MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes; keep a margin
XPRA_CONF = "# written by jobwrapper: no Xsession, no default start commands\nstart =\n"


def find_xpra(environ: Optional[dict[str, str]] = None) -> Optional[str]:
    """Path of the xpra executable on PATH, or None."""
    path = (os.environ if environ is None else environ).get("PATH", os.defpath)
    return shutil.which("xpra", path=path)


def find_dbus_run_session(environ: Optional[dict[str, str]] = None) -> Optional[str]:
    """Path of dbus-run-session (D-Bus 1.8+, Debian's dbus-bin) on PATH, or None."""
    path = (os.environ if environ is None else environ).get("PATH", os.defpath)
    return shutil.which("dbus-run-session", path=path)


def dbus_session_config(directory: Path) -> str:
    """A session bus config that listens only on a unix socket in ``directory``.

    Debian's session.conf listens on ``unix:tmpdir=/tmp`` (a socket in the shared
    /tmp) and includes /etc/dbus-1/session.d and session-local.conf, where a
    ``<listen>`` on TCP could be added; this one has no includes. ``unix:dir=`` is a
    path socket in the desktop's 0700 directory, never an abstract one, and
    EXTERNAL authentication admits only the user's own uid.
    """
    listen = f"unix:dir={directory}"
    return f"""<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<!-- written by jobwrapper: the desktop's session bus (docs/profile.d.md) -->
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>{escape(listen)}</listen>
  <auth>EXTERNAL</auth>
  <standard_session_servicedirs/>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def start_command(site: SiteConfig, directory: Path,
                  environ: Optional[dict[str, str]] = None) -> list[str]:
    """desktop.start, inside a private D-Bus session when desktop.dbus_session asks for
    one and dbus-run-session is installed (written config: ``DIR/dbus-session.conf``)."""
    start = list(site.desktop.start)
    runner = find_dbus_run_session(environ) if site.desktop.dbus_session else None
    if runner is None:
        return start
    config = directory / "dbus-session.conf"
    config.write_text(dbus_session_config(directory))
    return [runner, f"--config-file={config}", "--", *start]


def desktop_dir(environ: Optional[dict[str, str]] = None, prefix: str = "desktop-") -> Path:
    """A new 0700 directory for xpra's socket, config, log and X authority file (and,
    with another ``prefix``, for code-server's socket: inserver/codeserver.py).

    Inside the job's 0700 runtime or private dir when the plan set one; the per-job
    /tmp otherwise, or when the path would be too long for a unix socket.
    """
    env = os.environ if environ is None else environ
    for base in (env.get("XDG_RUNTIME_DIR"), env.get("JOBWRAPPER_PRIVATE_DIR")):
        if base and os.path.isdir(base) and len(base) <= MAX_SOCKET_PATH - 30:
            return Path(tempfile.mkdtemp(prefix=prefix, dir=base))  # mode 0700
    return Path(tempfile.mkdtemp(prefix=prefix))


def xpra_command(xpra: str, directory: Path, start: list[str]) -> list[str]:
    """xpra's argv: HTML5 on the unix socket only, no TCP, nothing secret."""
    socket_path = directory / "xpra.sock"
    return [
        xpra,
        "start",
        "--daemon=no",
        "--html=on",
        f"--bind={socket_path}",
        f"--socket-dir={directory}",
        f"--log-dir={directory}",
        "--mdns=no",
        "--pulseaudio=no",
        "--speaker=off",
        "--microphone=off",
        "--webcam=no",
        "--notifications=no",
        "--printing=no",
        "--bell=no",
        "--dbus-proxy=no",
        "--dbus-control=no",
        "--dbus-launch=",
        "--systemd-run=no",
        "--opengl=no",  # no GPU in a batch slot: skip the probe
        "--file-transfer=no",
        "--open-files=no",
        "--open-url=no",
        "--start-new-commands=yes",
        "--exit-with-children=no",
        f"--start={_shell_join(start)}",
    ]


def _shell_join(argv: list[str]) -> str:
    import shlex

    return " ".join(shlex.quote(word) for word in argv)


def unavailable_entry(reason: Optional[str], title: str) -> dict[str, Any]:
    """The entry of a service that cannot be offered (the desktop, VS Code): never in the
    launcher; should someone open its URL anyway, the guard handler answers (and without
    it, this command prints the reason in one line instead of a traceback)."""
    return {
        "command": [sys.executable, "-c", f"import sys; sys.exit({reason!r})"],
        "unix_socket": True,
        "timeout": 5,
        "launcher_entry": {"enabled": False, "title": title},
    }


def proxy_entry(site: SiteConfig, environ: Optional[dict[str, str]] = None) -> dict[str, Any]:
    """The jupyter-server-proxy entry for the desktop (a dict of ServerProcess fields)."""
    xpra = find_xpra(environ)
    title = site.desktop.title
    reason = unavailable_reason(site, environ)
    if reason or xpra is None:
        return unavailable_entry(reason, title)
    directory = desktop_dir(environ)
    (directory / "xpra.conf").write_text(XPRA_CONF)
    return {
        "command": xpra_command(xpra, directory, start_command(site, directory, environ)),
        "unix_socket": str(directory / "xpra.sock"),
        "environment": {
            "XPRA_USER_CONF_DIRS": str(directory),  # our xpra.conf replaces Debian's start=
            "XAUTHORITY": str(directory / "Xauthority"),
        },
        "timeout": int(site.desktop.timeout),
        "absolute_url": False,
        "new_browser_tab": True,
        "launcher_entry": {
            "enabled": True,
            "title": title,
            "icon_path": str(Path(__file__).with_name("desktop.svg")),
        },
    }


def unavailable_reason(site: SiteConfig, environ: Optional[dict[str, str]] = None) -> str:
    """One line saying why the desktop cannot be offered, or "" when it can."""
    if not site.desktop.enabled:
        return "jobwrapper: the desktop is turned off in the site config (desktop.enabled)"
    if find_xpra(environ) is None:
        return (
            "jobwrapper: the desktop needs xpra, which is not installed in this container "
            "(Debian/Ubuntu: apt-get install xpra xvfb xterm)"
        )
    return ""


def server_proxy_entry() -> dict[str, Any]:
    """Entry point ``desktop`` of group jupyter_serverproxy_servers."""
    return proxy_entry(load_config(os.environ.get("JOBWRAPPER_CONFIG") or None))


# ----- the guard: a jupyter-server extension loaded before jupyter-server-proxy ---------
def hide_replaced_entries() -> bool:
    """Make jupyter-server-proxy skip REPLACED_ENTRIES; False if it is not installed."""
    from jobwrapper import compat

    return compat.filter_proxy_entry_points(
        lambda entry: entry.name not in REPLACED_ENTRIES, ENTRY_POINT_GROUP)


def _guard_handlers(base_url: str, reason: str) -> list[tuple[str, type, dict[str, Any]]]:
    from jupyter_server.base.handlers import JupyterHandler
    from jupyter_server.utils import url_path_join
    from tornado import web

    class NotHereHandler(JupyterHandler):
        """Answers a desktop URL that must not reach a process, with one line."""

        def initialize(self, status: int, text: str) -> None:
            self.status, self.text = status, text

        @web.authenticated
        def get(self, *args: Any) -> None:
            self.set_status(self.status)
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish(self.text + "\n")

    handlers = []
    for name, ours in REPLACED_ENTRIES.items():
        replaced = {"status": 404,
                    "text": f"This entry is replaced by jobwrapper's: open {ours}/ instead."}
        handlers.append((url_path_join(base_url, name, r"(.*)"), NotHereHandler, replaced))
        handlers.append((url_path_join(base_url, name), NotHereHandler, replaced))
    if reason:
        missing = {"status": 503, "text": reason}
        handlers.append((url_path_join(base_url, "desktop", r"(.*)"), NotHereHandler, missing))
    return handlers


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Hide the insecure entry, guard its path, say once if the desktop is missing."""
    hide_replaced_entries()
    from jobwrapper.inserver.lifecycle import site_config_or_defaults

    reason = unavailable_reason(site_config_or_defaults(serverapp.log))
    if reason:
        serverapp.log.warning(reason)
    serverapp.web_app.add_handlers(
        ".*", _guard_handlers(serverapp.web_app.settings["base_url"], reason)
    )
