"""How users hear that the job ends: their terminals, and a JupyterLab notification.

Terminals: the message is written to every pseudo-terminal that a process of the
server's tree has open (like ``wall``): JupyterLab's terminals, the desktop's xterms,
shells started from them. It is output on those terminals, so it shows in the browser
and in terminado's replay buffer, and is never typed into a running program.

JupyterLab 4 shows nothing the server sends without a frontend plugin, so jobwrapper
ships a tiny prebuilt one (``jobwrapper/inserver/labextension``, plain JavaScript, no build
step). It listens on jupyter-server's event bus (``/api/events/subscribe``, which
JupyterLab already keeps open) and, on page load, asks ``/jobwrapper/lifecycle`` for
warnings given before the page was opened; each becomes a notification that stays
until dismissed (``apputils:notify``). Kernels are not involved, so it works with no
kernel running, with a busy kernel and in any language.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from jobwrapper.inserver import proctree

EVENT_SCHEMA_ID = "https://jobwrapper.invalid/events/lifecycle"
EVENT_SCHEMA: dict[str, Any] = {
    "$id": EVENT_SCHEMA_ID,
    "version": "1",
    "title": "Job lifecycle",
    "personal-data": False,
    "description": "The job is about to reach its runtime limit, or is ending now.",
    "type": "object",
    "required": ["kind", "message"],
    "properties": {
        "kind": {"enum": ["warning", "ending", "info"],
                 "description": "warning, ending or info (more time was granted)"},
        "message": {"type": "string", "description": "What users are told."},
        "ends_at": {"type": "number", "description": "When the job ends (epoch seconds)."},
        "action": {"enum": ["", "more-time"],
                   "description": "A button to offer: more-time (ask for 1 more hour)."},
    },
}
LABEXTENSION_DIR = Path(__file__).with_name("labextension")
LABEXTENSION_NAME = "@jobwrapper/lifecycle"


def write_to_terminals(message: str, pids: list[int]) -> list[str]:
    """Write ``message`` as output on every pty that ``pids`` use; returns the ptys."""
    text = f"\r\n\x1b[1;33m*** jobwrapper: {message} ***\x1b[0m\r\n".encode()
    written = []
    for device in proctree.terminal_devices(pids):
        try:
            fd = os.open(device, os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            os.write(fd, text)
            written.append(device)
        except OSError:  # a full or hung-up terminal is skipped, never waited for
            pass
        finally:
            os.close(fd)
    return written


class Notifier:
    """Announcements to terminals and JupyterLab; remembers them for late pages."""

    def __init__(self, serverapp: Any) -> None:
        self.serverapp = serverapp
        self.announcements: list[dict[str, Any]] = []

    def install(self, lifecycle: Any) -> None:
        """Register the event schema, the status handler and the JupyterLab plugin."""
        from jupyter_server.utils import url_path_join

        try:
            self.serverapp.event_logger.register_event_schema(EVENT_SCHEMA)
        except Exception as error:  # an event bus we cannot use: terminals still work
            self.serverapp.log.warning("jobwrapper: no event bus for warnings: %s", error)
        base_url = self.serverapp.web_app.settings["base_url"]
        self.serverapp.web_app.add_handlers(
            ".*",
            [
                (
                    url_path_join(base_url, "jobwrapper/lifecycle"),
                    _status_handler(),
                    {
                        "lifecycle": lifecycle,
                    },
                )
            ],
        )
        _offer_labextension(self.serverapp)

    def announce(self, kind: str, message: str, ends_at: float, action: str = "") -> None:
        """Tell every terminal and every JupyterLab page; ``action`` names a button the
        JupyterLab page offers with it ("more-time")."""
        entry = {"kind": kind, "message": message, "ends_at": ends_at, "time": time.time(),
                 "action": action}
        self.announcements.append(entry)
        write_to_terminals(message, proctree.descendants())
        try:
            self.serverapp.event_logger.emit(
                schema_id=EVENT_SCHEMA_ID,
                data={"kind": kind, "message": message, "ends_at": ends_at, "action": action},
            )
        except Exception as error:
            self.serverapp.log.debug("jobwrapper: event not sent: %s", error)


def _status_handler() -> type:
    """The handler class (built lazily: jupyter-server is imported only in the server)."""
    from jupyter_server.base.handlers import APIHandler
    from tornado import web

    class LifecycleStatusHandler(APIHandler):
        """GET: the runtime limit and the announcements made so far."""

        def initialize(self, lifecycle: Any) -> None:
            self.lifecycle = lifecycle

        @web.authenticated
        def get(self) -> None:
            lifecycle = self.lifecycle
            self.finish(
                {
                    "runtime_end": lifecycle.runtime_end,
                    "ending": lifecycle.ending,
                    "announcements": lifecycle.notifier.announcements,
                }
            )

    return LifecycleStatusHandler


def _offer_labextension(serverapp: Any) -> None:
    """Add our prebuilt plugin to JupyterLab's extension path (JupyterLab loads after
    us, alphabetically, so its page and static handlers see the addition)."""
    apps = getattr(serverapp.extension_manager, "extension_apps", {})
    for app_set in apps.values():
        for app in app_set:
            paths = getattr(app, "extra_labextensions_path", None)
            if paths is not None and str(LABEXTENSION_DIR) not in paths:
                app.extra_labextensions_path = [*paths, str(LABEXTENSION_DIR)]
