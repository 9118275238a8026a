"""Shutdown and runtime limits: a jupyter-server extension (docs/shutdown.md).

HTCondor sends SIGTERM on condor_rm, eviction and at the runtime limit, and
transfers ``jupyter/`` back only if the job then exits by itself; a job still
running 600 s later is hard-killed and loses everything. So on SIGTERM the server:

  0 s      stops taking requests, tells every open terminal, asks kernels to shut down
           (interrupt, then shutdown_request) and closes terminals, and sends SIGTERM
           to every other descendant (desktop, xpra, background jobs, setsid orphans:
           the server is their child subreaper, so none escapes its tree);
  grace    SIGKILLs whatever is left (``shutdown.grace_seconds``, default 8 s);
  then     runs jupyter-server's own cleanup and returns from its IO loop; Python
           joins the threads that write files before the process exits.
A watchdog thread ends the process at grace + 1 s whatever happens in the loop.

Before the runtime limit (``JOBWRAPPER_RUNTIME_END``) users are warned in every
terminal and in JupyterLab, and ``shutdown.end_before_limit_seconds`` before it the
job takes the same path by itself.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import signal
import sys
import threading
import time
from typing import Any, Optional

from jobwrapper import compat
from jobwrapper.config import SiteConfig, load_config, parse_config
from jobwrapper.dask import workers as dask_workers
from jobwrapper.errors import ConfigError
from jobwrapper.inserver import hubreport, idle, proctree
from jobwrapper.inserver.notify import Notifier
from jobwrapper.signalflag import SignalFlag

WATCHDOG_MARGIN = 1.0  # seconds after the grace period at which the process is ended
REAP_INTERVAL_MS = 15_000


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """The shutdown extension, the desktop guard that replaces xprahtml5's entry, the
    job's GPUs for JupyterLab's status bar (gpus.py), and VS Code's reason when it is not
    offered (codeserver.py)."""
    return [{"module": "jobwrapper.inserver.lifecycle"}, {"module": "jobwrapper.inserver.desktop"},
            {"module": "jobwrapper.inserver.gpus"}, {"module": "jobwrapper.inserver.codeserver"}]


def site_config_or_defaults(log: Any) -> SiteConfig:
    """The site config; on an error, one line in the log and the defaults, because the
    shutdown handling must be installed whatever the config says."""
    try:
        return load_config(os.environ.get("JOBWRAPPER_CONFIG") or None)
    except ConfigError as error:
        log.error("jobwrapper: %s (using the defaults for shutdown and desktop)", error)
        return parse_config("", "defaults")


def runtime_end(environ: Optional[dict[str, str]] = None) -> Optional[float]:
    """The job's end (epoch seconds) from ``JOBWRAPPER_RUNTIME_END``, or None."""
    value = (os.environ if environ is None else environ).get("JOBWRAPPER_RUNTIME_END", "")
    try:
        end = float(value)
    except ValueError:
        return None
    return end if end > 0 else None


def warning_offsets(site: SiteConfig) -> list[int]:
    """Seconds before the runtime limit at which users are warned, largest first."""
    offsets = [60 * m for m in site.shutdown.warn_minutes]
    offsets += list(site.shutdown.warn_seconds)
    return sorted({o for o in offsets if o > 0}, reverse=True)


class JobLifecycle:
    """The state of one server's end: whether it is ending, and what users were told."""

    def __init__(self, serverapp: Any, site: SiteConfig, end: Optional[float]) -> None:
        self.serverapp = serverapp
        self.log = serverapp.log
        self.grace = float(site.shutdown.grace_seconds)
        self.end_before = float(site.shutdown.end_before_limit_seconds)
        self.offsets = warning_offsets(site)
        self.runtime_end = end
        self._limit_timers: list[Any] = []
        self.idle: Any = None  # idle.IdleWatch
        self.more_time: Any = None  # moretime.RuntimeWatch
        self.ending: Optional[str] = None
        self._ending_flag = SignalFlag()  # set when the end begins: the watchdog's start
        self.end_reason = "shutdown"
        self.notifier = Notifier(serverapp)
        self.reaper = proctree.ZombieReaper()
        self.dask_condor_bin = site.dask.condor_bin

    # ----- start ---------------------------------------------------------------------
    def install(self) -> None:
        """Subreaper, SIGTERM handler, zombie reaping and the runtime-limit timers."""
        if not proctree.become_subreaper():
            self.log.warning("jobwrapper: cannot become child subreaper; orphans may escape")
        compat.keep_simpervisor_off_sigterm()
        signal.signal(signal.SIGTERM, self._on_sigterm)
        loop = self.serverapp.io_loop
        from tornado.ioloop import PeriodicCallback

        # Started now, not in the SIGTERM handler: Thread.start() takes threading's
        # locks, which the interrupted main thread may hold (a deadlock, as with
        # threading.Event.set() in a handler); the handler only sets the flag.
        threading.Thread(target=_watchdog, args=(self._ending_flag, self.grace, self.log),
                         name="jobwrapper-watchdog", daemon=True).start()
        self._reap_timer = PeriodicCallback(self.reaper.sweep, REAP_INTERVAL_MS)
        self._reap_timer.start()
        if self.runtime_end is not None:
            self._schedule_limit(loop)

    def set_runtime_end(self, end: float) -> None:
        """A new runtime limit (more time was granted): the warnings and the self-ending
        follow it; warnings already given for the old one are not repeated."""
        if self.ending or end == self.runtime_end:
            return
        for handle in self._limit_timers:
            self.serverapp.io_loop.remove_timeout(handle)
        self._limit_timers = []
        self.runtime_end = end
        self._schedule_limit(self.serverapp.io_loop)

    def _schedule_limit(self, loop: Any) -> None:
        assert self.runtime_end is not None
        now = time.time()
        ends_at = self.runtime_end - self.end_before
        due = [self.runtime_end - o for o in self.offsets]
        future = [at for at in due if at > now]
        timers = self._limit_timers
        if len(future) < len(due) and ends_at > now:
            timers.append(loop.call_later(0, self.warn))  # inside a warning window: warn now
        for at in future:
            if at < ends_at:
                timers.append(loop.call_later(at - now, self.warn))
        timers.append(loop.call_later(max(0.0, ends_at - now), self._end_by_limit))
        self.log.info(
            "jobwrapper: runtime limit at %s; the job ends itself at %s",
            time.strftime("%H:%M:%S", time.localtime(self.runtime_end)),
            time.strftime("%H:%M:%S", time.localtime(ends_at)),
        )

    # ----- warnings ------------------------------------------------------------------
    def warn(self) -> None:
        """Tell terminals and JupyterLab how long the job has left."""
        if self.ending or self.runtime_end is None:
            return
        ends_at = self.runtime_end - self.end_before
        left = max(0, int(ends_at - time.time()))
        clock = time.strftime("%H:%M UTC", time.gmtime(ends_at))  # users are elsewhere
        # JupyterLab cuts notifications at 140 characters: the essentials come first.
        message = (
            f"Runtime limit: this job ends at {clock} (in {_duration(left)}). "
            "Save your notebooks now; unsaved edits are lost."
        )
        self.log.warning("jobwrapper: %s", message)
        more = self.more_time is not None and self.more_time.available
        self.notifier.announce("warning", message, ends_at, "more-time" if more else "")

    def _end_by_limit(self) -> None:
        self.begin("the runtime limit is near", end_reason="runtime-limit")

    # ----- shutdown ------------------------------------------------------------------
    def _on_sigterm(self, signum: int, frame: Any) -> None:
        # A signal handler: do the least here, the rest on the IO loop.
        cause = ("SIGTERM from Slurm (scancel, preemption or time limit)"
                 if os.environ.get("JOBWRAPPER_SCHEDULER") == "slurm"
                 else "SIGTERM from HTCondor (condor_rm, eviction or runtime limit)")
        self.begin(cause, from_signal=True, end_reason="signal")

    def begin(self, reason: str, from_signal: bool = False, end_reason: str = "shutdown") -> None:
        """Start ending the job (once): the watchdog now, the orderly part on the loop.

        `end_reason` is what the hub is told (protocol.END_REASONS)."""
        if self.ending:
            return
        self.ending = reason
        self.end_reason = end_reason
        atexit.register(_exit_without_finalizing)
        self._ending_flag.set()  # the watchdog's clock starts (no thread starts here)
        loop = self.serverapp.io_loop
        if from_signal:
            loop.add_callback_from_signal(self.shutdown, reason)
        else:
            loop.add_callback(self.shutdown, reason)

    async def shutdown(self, reason: str) -> None:
        """Kernels, terminals and every descendant gone, then jupyter-server's own stop."""
        started = time.monotonic()
        deadline = started + self.grace
        self.log.warning("jobwrapper: ending the job: %s", reason)
        # The hub closes its tunnel on this report, so that the job can leave the queue.
        told_hub = asyncio.get_running_loop().run_in_executor(
            None, hubreport.report_end, self.end_reason)
        http_server = getattr(self.serverapp, "http_server", None)
        if http_server is not None:
            http_server.stop()
        self.notifier.announce(
            "ending", f"The job is ending now ({reason}). Files saved in jupyter/ are kept.", 0
        )
        kernels = self._kernel_pids()
        compat.stop_supervised_processes()
        tasks = [asyncio.ensure_future(c) for c in self._polite_requests()]
        proctree.signal_all(
            [pid for pid in proctree.descendants() if pid not in kernels], signal.SIGTERM
        )
        while proctree.descendants() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        left = proctree.descendants()
        if left:
            self.log.warning("jobwrapper: killing %d processes still running", len(left))
            proctree.kill_tree(time.monotonic() + 1.0)
        proctree.reap_zombies()
        # Dask worker jobs that the kernels left (docs/dask.md): condor_rm them, now that
        # no SIGTERM to the descendants can cut condor_rm short.
        workers_gone = asyncio.get_running_loop().run_in_executor(
            None, dask_workers.remove_left_workers, self.dask_condor_bin)
        if tasks:
            await asyncio.wait(tasks, timeout=0.2)  # their processes are gone by now
        for task in tasks:
            if not task.done():
                task.cancel()
        self.log.info("jobwrapper: all processes gone after %.1f s", time.monotonic() - started)
        self.log.info("jobwrapper: %s", hubreport.record_files_leaving(
            str(getattr(self.serverapp, "root_dir", "") or "")))
        with contextlib.suppress(asyncio.TimeoutError):
            self.log.info("jobwrapper: %s", await asyncio.wait_for(
                told_hub, max(0.1, deadline + 0.5 - time.monotonic())))
        with contextlib.suppress(asyncio.TimeoutError):
            self.log.info("jobwrapper: %s", await asyncio.wait_for(
                workers_gone, max(0.1, deadline + 0.5 - time.monotonic())))
        self.serverapp.stop()

    def _polite_requests(self) -> list[Any]:
        """Coroutines asking jupyter-server to end kernels and terminals its own way."""
        requests = []
        kernel_manager = getattr(self.serverapp, "kernel_manager", None)
        if kernel_manager is not None:
            requests.append(_quietly(kernel_manager.shutdown_all(), self.log))
        terminals = self.serverapp.web_app.settings.get("terminal_manager")
        if terminals is not None:
            requests.append(_quietly(terminals.terminate_all(), self.log))
        return requests

    def _kernel_pids(self) -> set[int]:
        """Kernel processes: they get a shutdown request first, not an instant SIGTERM."""
        pids: set[int] = set()
        kernel_manager = getattr(self.serverapp, "kernel_manager", None)
        kernel_ids = kernel_manager.list_kernel_ids() if kernel_manager is not None else []
        for kernel_id in kernel_ids:
            provisioner = getattr(kernel_manager.get_kernel(kernel_id), "provisioner", None)
            pid = getattr(getattr(provisioner, "process", None), "pid", None)
            if pid:
                pids.add(pid)
        return pids


async def _quietly(awaitable: Any, log: Any) -> None:
    try:
        await awaitable
    except Exception as error:  # a failed polite request is fine: the kill follows
        log.debug("jobwrapper: polite shutdown step failed: %s", error)


def _watchdog(ending: SignalFlag, grace: float, log: Any) -> None:
    """Once the end began: if the orderly shutdown has not ended the process within
    the grace (and a margin), end it."""
    while not ending.wait(3600):
        pass
    time.sleep(grace + WATCHDOG_MARGIN)
    log.error("jobwrapper: orderly shutdown too slow; killing everything and exiting")
    proctree.kill_tree(time.monotonic() + 0.3)
    os._exit(1)


def _exit_without_finalizing() -> None:
    """Last step of an orderly end: threads writing files have been joined (Python does
    that before atexit), so skip tearing down a large interpreter (about 1 s of CPU on a
    busy node) and exit now."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(0)


def _duration(seconds: int) -> str:
    minutes, secs = divmod(seconds, 60)
    return (
        f"{minutes} min"
        if minutes and not secs
        else (f"{minutes} min {secs} s" if minutes else f"{secs} s")
    )


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Install the shutdown handling into a running jupyter-server."""
    site = site_config_or_defaults(serverapp.log)
    lifecycle = JobLifecycle(serverapp, site, runtime_end())
    lifecycle.install()
    lifecycle.notifier.install(lifecycle)
    serverapp.web_app.settings["jobwrapper_lifecycle"] = lifecycle
    culling = idle.configure_kernel_culling(serverapp, site)
    if culling:
        serverapp.log.info("jobwrapper: idle kernels are culled: %s", culling)
    lifecycle.idle = idle.IdleWatch(lifecycle, site, idle.server_idle_seconds(site))
    lifecycle.idle.install()
    from jobwrapper.inserver import moretime

    lifecycle.more_time = moretime.RuntimeWatch(lifecycle, site)
    lifecycle.more_time.install()


load_jupyter_server_extension = _load_jupyter_server_extension
