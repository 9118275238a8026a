"""Idle sessions end themselves and free the batch slot (docs/shutdown.md, "Idle").

Two parts, both from the site config's ``[idle]`` table:

- **Kernels** idle for ``idle.kernel_minutes`` are shut down by jupyter-server's own
  culler (``MappingKernelManager.cull_idle_timeout``, ``cull_interval``,
  ``cull_connected``); busy kernels are never culled. The settings are put on the
  kernel manager when the extension loads, before the first kernel starts (the
  culler is started with the first kernel), unless the user's own jupyter config
  set them.
- **The server** ends itself after ``idle.server_minutes`` without activity
  (``JOBWRAPPER_IDLE_MINUTES`` from the hub wins), through the same path as SIGTERM
  and the runtime limit (lifecycle.py), so ``~/jupyter`` comes back complete, and
  the hub is told ``{"ended": "idle"}``. Users are warned ``idle.warn_minutes``
  before, in terminals and JupyterLab, like the runtime-limit warning.

"Activity" is jupyter-server's own measure (``web_app.last_activity()``: API
requests of a logged-in client, kernel messages, terminal output), the one its
``ServerApp.shutdown_no_activity_timeout`` and JupyterHub's activity reports use. A
busy kernel counts as activity (a long computation without output is work). That
ServerApp setting itself is not used: it ends the server with ``stop()``, without a
warning, without ending the job's other processes and without telling the hub.
"""

from __future__ import annotations

import datetime
import os
import time
from collections.abc import Mapping
from typing import Any, Optional

from jobwrapper.config import SiteConfig
from jobwrapper.protocol import IDLE_MINUTES_ENV

KERNEL_TRAITS = ("cull_idle_timeout", "cull_interval", "cull_connected")


def server_idle_seconds(site: SiteConfig, environ: Optional[Mapping[str, str]] = None
                        ) -> int:
    """Seconds without activity after which the server ends; 0: never.

    The hub's ``JOBWRAPPER_IDLE_MINUTES`` (a whole number, per profile or per hub)
    wins over ``idle.server_minutes``; anything else in it is ignored."""
    value = (os.environ if environ is None else environ).get(IDLE_MINUTES_ENV, "").strip()
    if value.isdigit() and len(value) <= 6:
        return int(value) * 60
    if site.idle.server_seconds > 0:
        return site.idle.server_seconds
    return max(0, site.idle.server_minutes) * 60


def warning_offsets(site: SiteConfig) -> list[int]:
    """Seconds before the idle end at which users are warned, largest first."""
    offsets = [60 * m for m in site.idle.warn_minutes] + list(site.idle.warn_seconds)
    return sorted({o for o in offsets if o > 0}, reverse=True)


def configure_kernel_culling(serverapp: Any, site: SiteConfig) -> dict[str, Any]:
    """Put ``[idle]``'s kernel settings on jupyter-server's kernel manager, except
    those the user's jupyter config sets; returns what was set."""
    manager = getattr(serverapp, "kernel_manager", None)
    minutes = site.idle.kernel_minutes
    if manager is None or minutes <= 0:
        return {}
    own = serverapp.config.get("MappingKernelManager", {})
    wanted = {"cull_idle_timeout": 60 * minutes,
              "cull_interval": max(1, site.idle.kernel_check_seconds),
              "cull_connected": bool(site.idle.cull_connected)}
    done = {}
    for name, value in wanted.items():
        if name not in own and hasattr(manager, name):
            setattr(manager, name, value)
            done[name] = value
    return done


def _epoch(moment: Any) -> float:
    if isinstance(moment, datetime.datetime):
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.timezone.utc)
        return moment.timestamp()
    return float(moment)


def last_activity(serverapp: Any) -> float:
    """When the server was last active (epoch seconds); now if a kernel is busy."""
    manager = getattr(serverapp, "kernel_manager", None)
    for kernel_id in (manager.list_kernel_ids() if manager is not None else []):
        state = getattr(manager.get_kernel(kernel_id), "execution_state", "")
        if state == "busy":
            return time.time()
    return _epoch(serverapp.web_app.last_activity())


class IdleWatch:
    """Checks for activity every ``idle.check_seconds``; warns, then ends the job."""

    def __init__(self, lifecycle: Any, site: SiteConfig, limit_seconds: int) -> None:
        self.lifecycle = lifecycle
        self.limit = limit_seconds
        # A warning as early as the idle time itself would come with every activity.
        self.offsets = [o for o in warning_offsets(site) if o < limit_seconds]
        self.interval = max(1, site.idle.check_seconds)
        self.warned: set[int] = set()
        self.since = 0.0  # the last activity the warnings were given for

    def install(self) -> None:
        """Start the periodic check (nothing when the idle end is off)."""
        if self.limit <= 0:
            return
        from tornado.ioloop import PeriodicCallback

        self._timer = PeriodicCallback(self.check, 1000 * self.interval)
        self._timer.start()
        self.lifecycle.log.info("jobwrapper: the server ends itself after %s without activity",
                                describe(self.limit))

    def ends_at(self) -> float:
        """When the server ends if nothing happens from now on."""
        return last_activity(self.lifecycle.serverapp) + self.limit

    def check(self) -> None:
        """Warn or end, from the last activity."""
        if self.lifecycle.ending:
            return
        active = last_activity(self.lifecycle.serverapp)
        if active != self.since:
            self.since, self.warned = active, set()
        now = time.time()
        end = active + self.limit
        if now >= end:
            self.lifecycle.begin(f"no activity for {describe(self.limit)}", end_reason="idle")
            return
        due = [o for o in self.offsets if now >= end - o and o not in self.warned]
        if due:
            self.warned.update(o for o in self.offsets if now >= end - o)
            self.warn(end, now)

    def warn(self, end: float, now: float) -> None:
        clock = time.strftime("%H:%M UTC", time.gmtime(end))
        left = max(0, int(end - now))
        message = (f"No activity for {describe(int(now - (end - self.limit)))}: this session "
                   f"ends at {clock} (in {describe(left)}) unless it is used. Save your work.")
        self.lifecycle.log.warning("jobwrapper: %s", message)
        self.lifecycle.notifier.announce("warning", message, end)


def describe(seconds: int) -> str:
    """``2 h``, ``1 h 30 min``, ``10 min``, ``45 s``: a duration for people."""
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} h"] if hours else []
    if minutes:
        parts.append(f"{minutes} min")
    if secs and not hours:
        parts.append(f"{secs} s")
    return " ".join(parts) or "0 s"
