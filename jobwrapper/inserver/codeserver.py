"""VS Code in the browser: code-server behind jupyter-server-proxy, on a unix socket.

The entry point ``code-server`` (group jupyter_serverproxy_servers) makes a fresh 0700
directory for code-server's socket and config file when the server starts; nothing
runs until someone opens ``/code-server/``. code-server then listens only on
``DIR/code-server.sock`` (0600) with ``--auth none``: jupyter-server-proxy, which
authenticates every request with the server's token or the hub's cookie, is the only
way in. The decisions (executable, reason, argv) are in jobwrapper.notebook.codeserver,
which ``jobwrapper doctor`` reads too. This module is also a jupyter-server extension
(listed by jobwrapper.inserver.lifecycle): when VS Code cannot be offered, it says why
once in the server log and answers ``/code-server/`` with that line (503).
See docs/vscode.md.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

from jobwrapper.config import SiteConfig, load_config
from jobwrapper.inserver.desktop import desktop_dir, unavailable_entry
from jobwrapper.notebook.codeserver import (
    CONFIG_NAME,
    CONFIG_TEXT,
    ENTRY_NAME,
    SOCKET_NAME,
    code_server_command,
    data_dirs,
    find_code_server,
    unavailable_reason,
)


def proxy_entry(site: SiteConfig, environ: Optional[dict[str, str]] = None,
                folder: Optional[str] = None) -> dict[str, Any]:
    """The jupyter-server-proxy entry for VS Code (a dict of ServerProcess fields).

    ``folder`` is the folder VS Code opens: default the server's cwd, the notebook dir.
    """
    title = site.code_server.title
    reason = unavailable_reason(site, environ)
    executable = find_code_server(site, environ)
    if reason or executable is None:
        return unavailable_entry(reason, title)
    socket_dir = desktop_dir(environ, prefix="vscode-")  # new, mode 0700
    config = socket_dir / CONFIG_NAME
    config.write_text(CONFIG_TEXT)
    config.chmod(0o600)
    user_data, extensions = data_dirs(site, socket_dir, environ)
    for directory in (user_data, extensions):
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    command = code_server_command(executable, socket_dir, user_data, extensions,
                                 folder or os.getcwd(), list(site.code_server.extra_args))
    return {
        "command": command,
        "unix_socket": str(socket_dir / SOCKET_NAME),
        "timeout": int(site.code_server.timeout),
        "absolute_url": False,
        "new_browser_tab": True,
        "launcher_entry": {
            "enabled": True,
            "title": title,
            "icon_path": str(Path(__file__).with_name("vscode.svg")),
        },
    }


def server_proxy_entry() -> dict[str, Any]:
    """Entry point ``code-server`` of group jupyter_serverproxy_servers."""
    return proxy_entry(load_config(os.environ.get("JOBWRAPPER_CONFIG") or None))


def _guard_handlers(base_url: str, reason: str) -> list[tuple[str, type, dict[str, Any]]]:
    from jupyter_server.base.handlers import JupyterHandler
    from jupyter_server.utils import url_path_join
    from tornado import web

    class NotOfferedHandler(JupyterHandler):
        """Answers /code-server/ with the one-line reason when VS Code is not offered."""

        @web.authenticated
        def get(self, *args: Any) -> None:
            self.set_status(503)
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish(reason + "\n")

    return [(url_path_join(base_url, ENTRY_NAME, r"(.*)"), NotOfferedHandler, {})]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Say once why VS Code is not offered, and answer its path with that line."""
    from jobwrapper.inserver.lifecycle import site_config_or_defaults

    reason = unavailable_reason(site_config_or_defaults(serverapp.log))
    if reason:
        serverapp.log.warning(reason)
        serverapp.web_app.add_handlers(
            ".*", _guard_handlers(serverapp.web_app.settings["base_url"], reason))
