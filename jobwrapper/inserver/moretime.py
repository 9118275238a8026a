"""More time for a running session (docs/shutdown.md, "More time").

``POST /jobwrapper/runtime`` on the notebook server (the user's own session; the
JupyterLab plugin's "1 more hour" button, or any client of the user) with exactly
``{"runtime_hours": N}``, the new total: the server passes it to the hub
(``POST $JUPYTERHUB_API_URL/jobwrapper/runtime`` with its own token), which checks it
against the user's maximum and runs ``condor_qedit -forward`` as the user. The hub's
answer gives the new MaxRuntime; the warnings and the self-ending follow it at once.

The job also re-reads the limit from HTCondor every ``runtime.check_seconds``
(``condor_chirp get_job_attr MaxRuntime``, which asks the shadow: an edit made with
``condor_qedit -forward`` shows there; the job's ``.job.ad`` file is never rewritten),
so a limit an admin raised is followed too. ``GET /jobwrapper/runtime`` gives the
limit as the server knows it.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
from typing import Any, Optional

from jobwrapper.config import SiteConfig
from jobwrapper.protocol import RUNTIME_PATH, ReportError, parse_runtime_request

CHIRP_FALLBACK = "/usr/libexec/condor/condor_chirp"
CHIRP_TIMEOUT = 20.0
CONFIRM_INTERVAL = 20.0  # seconds between checks that the shadow has the new limit
CONFIRM_ATTEMPTS = 6


def chirp_program(site: SiteConfig) -> str:
    """``runtime.chirp``, else condor_chirp on PATH, else HTCondor's libexec copy."""
    return site.runtime.chirp or shutil.which("condor_chirp") or CHIRP_FALLBACK


def parse_limit(text: str) -> Optional[int]:
    """Seconds from condor_chirp's answer (``7200``, ``7200.0``); None otherwise."""
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return int(value) if 0 < value < 1e9 else None


def ad_limit(path: str, names: list[str]) -> Optional[tuple[str, int]]:
    """(attribute, seconds): the first of ``names`` with a number in the job ad file."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    values = {}
    for line in lines:
        name, sep, value = line.partition("=")
        if sep:
            values[name.strip().lower()] = value
    for name in names:
        found = parse_limit(values.get(name.lower(), ""))
        if found:
            return name, found
    return None


class RuntimeWatch:
    """The job's start and runtime attribute, and the re-reads of the limit."""

    def __init__(self, lifecycle: Any, site: SiteConfig) -> None:
        self.lifecycle = lifecycle
        self.site = site
        self.attribute = ""
        self.limit = 0
        self.start = 0.0
        self._task: Optional[asyncio.Future[None]] = None
        ad = os.environ.get("_CONDOR_JOB_AD", "")
        found = ad_limit(ad, list(site.job.runtime_limit_attributes)) if ad else None
        if found and lifecycle.runtime_end is not None:
            self.attribute, self.limit = found
            self.start = lifecycle.runtime_end - self.limit

    @property
    def available(self) -> bool:
        """Whether the limit is known and can change (a job with MaxRuntime)."""
        return bool(self.attribute)

    def install(self) -> None:
        """The handler, and the periodic re-read."""
        from jupyter_server.utils import url_path_join
        from tornado.ioloop import PeriodicCallback

        app = self.lifecycle.serverapp
        base_url = app.web_app.settings["base_url"]
        app.web_app.add_handlers(".*", [(url_path_join(base_url, "jobwrapper/runtime"),
                                         _handler(), {"watch": self})])
        if self.available and self.site.runtime.check_seconds > 0:
            self._timer = PeriodicCallback(self.check_soon,
                                           1000 * self.site.runtime.check_seconds)
            self._timer.start()

    def hours(self) -> int:
        """The current limit in whole hours (rounded up)."""
        return -(-self.limit // 3600)

    def follow(self, seconds: int, source: str) -> bool:
        """Take a new limit; True when it changed."""
        if not self.available or seconds == self.limit or seconds <= 0:
            return False
        self.limit = seconds
        end = self.start + seconds
        self.lifecycle.set_runtime_end(end)
        clock = time.strftime("%H:%M UTC", time.gmtime(end - self.lifecycle.end_before))
        message = f"More time: this job now ends at {clock} ({source})."
        self.lifecycle.log.info("jobwrapper: %s", message)
        self.lifecycle.notifier.announce("info", message, end)
        return True

    def read_limit(self) -> Optional[int]:
        """The limit HTCondor has now (condor_chirp get_job_attr); None if unknown."""
        try:
            done = subprocess.run(  # argv, no shell
                [chirp_program(self.site), "get_job_attr", self.attribute],
                capture_output=True, text=True, timeout=CHIRP_TIMEOUT, check=False)
        except (OSError, subprocess.TimeoutExpired) as error:
            self.lifecycle.log.debug("jobwrapper: condor_chirp: %s", error)
            return None
        return parse_limit(done.stdout) if done.returncode == 0 else None

    async def check(self) -> None:
        """Re-read the limit and follow it."""
        seconds = await asyncio.get_running_loop().run_in_executor(None, self.read_limit)
        if seconds:
            self.follow(seconds, "the limit in HTCondor changed")

    def check_soon(self) -> None:
        if not self.lifecycle.ending and (self._task is None or self._task.done()):
            self._task = asyncio.ensure_future(self.check())

    def confirm_later(self, hours: int, seconds: int) -> None:
        """Check that HTCondor's shadow has the new limit (condor_chirp); ask the hub
        again if not. HTCondor 25.0.13 drops a -forward edit that comes within about
        30-40 s of the previous one (docs/shutdown.md), and then the shadow would
        remove the job at the old limit."""
        self._confirm = asyncio.ensure_future(self._confirm_task(hours, seconds))

    async def _confirm_task(self, hours: int, seconds: int) -> None:
        loop = asyncio.get_running_loop()
        for attempt in range(1, CONFIRM_ATTEMPTS + 1):
            await asyncio.sleep(CONFIRM_INTERVAL)
            if self.lifecycle.ending or self.limit != seconds:
                return
            seen = await loop.run_in_executor(None, self.read_limit)
            if seen == seconds or seen is None:  # has it, or cannot be asked
                return
            self.lifecycle.log.info("jobwrapper: HTCondor's shadow has MaxRuntime %s, not %s "
                                    "(attempt %d); asking the hub again", seen, seconds, attempt)
            try:
                await self.ask_hub(hours)
            except RuntimeError as error:
                self.lifecycle.log.warning("jobwrapper: more time, again: %s", error)
                return

    async def ask_hub(self, hours: int) -> int:
        """The hub's new MaxRuntime for ``hours``; RuntimeError with its reason."""
        from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

        from jobwrapper.inserver.hubreport import _tls_files
        from jobwrapper.protocol import report_headers

        environ = os.environ
        url = environ.get("JUPYTERHUB_API_URL", "").rstrip("/") + RUNTIME_PATH
        if not url.startswith(("http://", "https://")):
            raise RuntimeError("this server was not started by a hub")
        tls = _tls_files(dict(environ))
        ssl: dict[str, Any] = ({"client_cert": tls[0], "client_key": tls[1],
                                "ca_certs": tls[2]} if tls else {})
        request = HTTPRequest(url, method="POST", body=json.dumps({"runtime_hours": hours}),
                              headers=report_headers(environ.get("JUPYTERHUB_API_TOKEN", "")),
                              request_timeout=60, **ssl)
        try:
            response = await AsyncHTTPClient().fetch(request)
        except HTTPClientError as error:
            reason = ""
            if error.response is not None:
                try:
                    reason = str(json.loads(error.response.body).get("message", ""))
                except (ValueError, AttributeError):
                    reason = ""
            raise RuntimeError(reason or f"the hub refused: HTTP {error.code}") from None
        except OSError as error:
            raise RuntimeError(f"cannot reach the hub ({error})") from None
        seconds = json.loads(response.body).get("runtime_seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int):
            raise RuntimeError("the hub's answer has no runtime_seconds")
        return seconds


def _handler() -> type:
    from jupyter_server.base.handlers import APIHandler
    from tornado import web

    class RuntimeHandler(APIHandler):
        """GET: the runtime limit; POST {"runtime_hours": N}: ask the hub for it."""

        def initialize(self, watch: RuntimeWatch) -> None:
            self.watch = watch

        def _status(self) -> dict[str, Any]:
            watch = self.watch
            return {"runtime_end": watch.lifecycle.runtime_end,
                    "runtime_hours": watch.hours() if watch.available else None,
                    "can_ask": watch.available}

        @web.authenticated
        def get(self) -> None:
            self.finish(self._status())

        @web.authenticated
        async def post(self) -> None:
            if not self.watch.available:
                raise web.HTTPError(409, "this job has no runtime limit to change")
            try:
                hours = parse_runtime_request(self.get_json_body())
            except ReportError as error:
                raise web.HTTPError(400, str(error)) from None
            try:
                seconds = await self.watch.ask_hub(hours)
            except RuntimeError as error:
                raise web.HTTPError(400, f"No more time: {error}") from None
            self.watch.follow(seconds, f"{hours} h in all")
            self.watch.confirm_later(hours, seconds)
            self.finish(self._status())

    return RuntimeHandler
