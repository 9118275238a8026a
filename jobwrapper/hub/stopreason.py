"""Why a running server stopped without the user asking: kept for the user to read.

A mixin for JobwrapperSpawner. poll() calls ``record_stop_reason`` when it finds the
job gone or the tunnel dead; the text is kept in the spawner's state (JupyterHub's
database) across ``clear_state()`` and hub restarts, until a new server of the same
name has started successfully. It is shown:

- on the options form, above the fields (form.py / templates/form.html);
- on every hub page, for sites that set ``c.JupyterHub.template_vars`` to
  ``{"announcement": stop_reason_announcement}`` (docs/hub.md, "Why a server stopped");
- to admins in the REST API's server model (``state["stop_reason"]``, scope
  ``admin:server_state``) and, as before, in the hub log.
"""

from __future__ import annotations

import datetime
import logging
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from markupsafe import Markup, escape

if TYPE_CHECKING:  # the class that hosts this part (hub/host.py)
    from .host import SpawnerHost

STATE_KEY = "stop_reason"
MAX_LENGTH = 1000
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_log = logging.getLogger(__name__)


def clean_reason(text: Any, secrets: tuple[str, ...] = ()) -> str:
    """One line of at most MAX_LENGTH characters: control characters become spaces,
    any of ``secrets`` becomes ``[secret]``."""
    line = " ".join(_CONTROL.sub(" ", str(text)).split())
    for secret in secrets:
        if secret:
            line = line.replace(secret, "[secret]")
    if len(line) > MAX_LENGTH:
        line = line[: MAX_LENGTH - 3] + "..."
    return line


def reason_from_state(state: Any) -> tuple[str, str]:
    """(reason, ISO 8601 UTC time) from a spawner state; ("", "") if there is none.

    The state comes from the database, so anything unexpected counts as none."""
    saved = state.get(STATE_KEY) if isinstance(state, Mapping) else None
    if not isinstance(saved, Mapping) or not isinstance(saved.get("reason"), str):
        return "", ""
    stamp = saved.get("time")
    return clean_reason(saved["reason"]), stamp if isinstance(stamp, str) else ""


def notice_text(reason: str, stamp: str, server_name: str = "") -> str:
    """The sentence shown to the user (plain text; escape it for HTML)."""
    if not reason:
        return ""
    server = f"notebook server {server_name!r}" if server_name else "notebook server"
    when = ""
    try:
        moment = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        when = f" on {moment.astimezone(datetime.timezone.utc):%Y-%m-%d at %H:%M} UTC"
    except (ValueError, TypeError):
        pass
    return f"Your previous {server} ended{when}. {reason}"


class StopReasons:
    """Mixin: the last unrequested stop's reason, until the next successful start."""

    last_stop_reason: str = ""
    last_stop_time: str = ""  # ISO 8601, UTC

    def record_stop_reason(self: SpawnerHost, reason: str) -> None:
        """Remember ``reason`` (one line, no secret) for the user."""
        self.last_stop_reason = clean_reason(reason, (getattr(self, "api_token", "") or "",))
        self.last_stop_time = (
            datetime.datetime.now(datetime.timezone.utc)
            .isoformat(timespec="seconds").replace("+00:00", "Z")
        )

    def forget_stop_reason(self: SpawnerHost) -> None:
        """Drop the recorded reason (a new server has started)."""
        self.last_stop_reason = self.last_stop_time = ""

    def stop_reason_notice(self: SpawnerHost) -> str:
        """The notice for the user as plain text; "" when there is nothing to say."""
        return notice_text(self.last_stop_reason, self.last_stop_time)

    # ---- JupyterHub's state chain: every method calls super() -----------------------

    def get_state(self: SpawnerHost) -> dict[str, Any]:
        """Adds ``stop_reason: {"reason": ..., "time": ...}`` while one is kept."""
        state = super().get_state()  # type: ignore[misc]
        if self.last_stop_reason:
            state[STATE_KEY] = {"reason": self.last_stop_reason, "time": self.last_stop_time}
        return state

    def load_state(self: SpawnerHost, state: dict[str, Any]) -> None:
        super().load_state(state)  # type: ignore[misc]
        self.last_stop_reason, self.last_stop_time = reason_from_state(state)

    def clear_state(self: SpawnerHost) -> None:
        """The job's state goes; the stop reason stays. JupyterHub calls this after
        every stop and at the beginning of every spawn, so neither may drop it."""
        super().clear_state()  # type: ignore[misc]

    def start_polling(self: SpawnerHost) -> None:
        """JupyterHub calls this once a server has started (and for a server still
        running after a hub restart): the previous server's reason is old news then.
        JupyterHub saves get_state() to its database right after."""
        self.forget_stop_reason()
        super().start_polling()  # type: ignore[misc]


def stop_reason_announcement(user: Any) -> Markup:
    """For ``c.JupyterHub.template_vars["announcement"]``: the current user's kept
    stop reasons as escaped HTML, one line per server; "" for none (or no user).

    Reads the state JupyterHub stored (no spawner is created for it)."""
    if user is None:
        return Markup("")
    try:
        spawners = getattr(user, "orm_spawners", None) or {}
        lines = []
        for name, orm_spawner in sorted(spawners.items()):
            if getattr(orm_spawner, "server", None) is not None:
                continue  # running again: the reason is old
            text = notice_text(*reason_from_state(orm_spawner.state), server_name=name)
            if text:
                lines.append(escape(text))
        return Markup("<br>").join(lines)
    except Exception:  # a template variable must never break a hub page
        _log.exception("stop_reason_announcement failed for %r", getattr(user, "name", user))
        return Markup("")
