"""Why a running server stopped without the user asking: kept for the user to read.

A mixin for JobwrapperSpawner. poll() calls ``record_stop_reason`` when it finds the
job gone or the tunnel dead; the text is kept across clear_state() so that the next
visit can show it.
"""

from __future__ import annotations

from typing import Any


class StopReasons:
    """Mixin: the last unrequested stop's reason."""

    def record_stop_reason(self: Any, reason: str) -> None:
        """Remember ``reason`` (one line, no secret) for the user."""
        self.last_stop_reason = reason
