"""Tell the user when a queued notebook is ready: in the browser, and by a site command.

The browser part is the spawn-pending page (templates/pending/spawn_pending.html,
put into JupyterHub's template_paths by ``use_ready_notice(c)``): it offers "Notify
me when it is ready", asks for the browser's Notification permission on that click,
and shows a notification when the page's own progress stream says ready while the
page is not in view. It reads the stream JupyterHub's script already opens.

The site part is ``ready_notify_cmd`` (an argv list, e.g. a mail script), run as the
hub's own user when a spawn that took longer than ``ready_notify_after`` seconds is
up. Its values are words of argv (``{username}``, ``{address}``, ``{url}``, ...) and
environment variables (JOBWRAPPER_READY_*); no shell ever sees them. The address
comes from ``ready_notify_address`` (``{username}@example.org``), or the command
looks it up itself from the user name.
"""

from __future__ import annotations

import asyncio
import os
import shlex
from typing import Any
from urllib.parse import quote

from traitlets import Float, HasTraits, List, Unicode

from ..jobcontrol import BatchCommandError, run_command

PENDING_TEMPLATES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "templates",
                                 "pending")
FIELDS = ("username", "address", "url", "job_id", "server_name", "waited")


class ReadyNotice(HasTraits):
    """Mixin for JobwrapperSpawner: the site's command when a long spawn is ready."""

    ready_notify_cmd = List(
        Unicode(),
        [],
        help="""Command (argv list, no shell) run as the hub's own user when a spawn that
        took longer than ready_notify_after seconds is up, e.g.
        ["/usr/local/bin/notebook-ready-mail", "{address}", "{url}"]. Fields in each
        word: {username}, {address} (ready_notify_address), {url} (the server's path on
        the hub, /user/NAME/), {job_id}, {server_name}, {waited} (whole seconds). The
        same values are in the environment as JOBWRAPPER_READY_USER, _ADDRESS, _URL,
        _JOB_ID, _SERVER, _WAITED. Empty (default): no command.""",
    ).tag(config=True)

    ready_notify_after = Float(
        120.0, help="Seconds a spawn must have taken for ready_notify_cmd to run.",
    ).tag(config=True)

    ready_notify_address = Unicode(
        "",
        help="""The user's address for ready_notify_cmd: a template with {username},
        e.g. "{username}@example.org". Empty: {address} is empty and the command finds
        the address itself (from {username}).""",
    ).tag(config=True)

    ready_notify_timeout = Float(
        30.0, help="Seconds ready_notify_cmd may run before it is ended.",
    ).tag(config=True)

    def ready_notice_values(self: Any, waited: float) -> dict[str, str]:
        """The fields of ready_notify_cmd."""
        username = self.user.name
        address = (self.ready_notify_address.replace("{username}", username)
                   if self.ready_notify_address else "")
        server_url = getattr(self.user, "server_url", None)
        url = (server_url(self.name) if callable(server_url)
               else getattr(self.user, "url", f"/user/{quote(username)}/"))
        return {"username": username, "address": address, "url": str(url),
                "job_id": str(self.job_id), "server_name": str(self.name),
                "waited": str(int(waited))}

    def notify_ready(self: Any, waited: float) -> None:
        """Run ready_notify_cmd in the background if the spawn took long enough."""
        if not self.ready_notify_cmd or waited < self.ready_notify_after:
            return
        values = self.ready_notice_values(waited)
        self._ready_notice = asyncio.ensure_future(self._run_ready_notice(values))

    async def _run_ready_notice(self: Any, values: dict[str, str]) -> None:
        try:
            argv = [fill_word(word, values) for word in self.ready_notify_cmd]
        except (KeyError, ValueError, IndexError) as error:
            self.log.error("ready_notify_cmd: a word uses an unknown field %s; known: %s",
                           error, ", ".join(FIELDS))
            return
        env = {name: os.environ[name] for name in self.batch_env_keep if name in os.environ}
        env.update({f"JOBWRAPPER_READY_{key}": value for key, value in (
            ("USER", values["username"]), ("ADDRESS", values["address"]),
            ("URL", values["url"]), ("JOB_ID", values["job_id"]),
            ("SERVER", values["server_name"]), ("WAITED", values["waited"]))})
        self.log.info("%s: ready after %s s, running %s", self._log_name, values["waited"],
                      shlex.join(argv))
        try:
            await asyncio.wait_for(run_command(argv, env), self.ready_notify_timeout)
        except BatchCommandError as error:
            self.log.warning("%s: ready_notify_cmd: %s", self._log_name, error)
        except asyncio.TimeoutError:
            self.log.warning("%s: ready_notify_cmd took longer than %.0f s",
                             self._log_name, self.ready_notify_timeout)


def fill_word(word: str, values: dict[str, str]) -> str:
    """One argv word with its {fields} filled in (str.format, no shell)."""
    return word.format(**values)


def use_ready_notice(c: Any) -> None:
    """Offer "Notify me when it is ready" on the spawn-pending page:
    ``use_ready_notice(c)`` in jupyterhub_config.py. Keeps the site's template paths
    (after ours); a site with its own spawn_pending.html includes
    ``pending/ready_notice.html`` itself (docs/hub.md)."""
    hub = c.JupyterHub
    paths = list(hub.template_paths) if "template_paths" in hub else []
    if PENDING_TEMPLATES in paths:
        return
    if any(os.path.exists(os.path.join(p, "spawn_pending.html")) for p in paths):
        hub.template_paths = [*paths, PENDING_TEMPLATES]
    else:
        hub.template_paths = [PENDING_TEMPLATES, *paths]
