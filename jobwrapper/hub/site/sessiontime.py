"""More time for a running session, and the hub's words for an idle end (docs/shutdown.md).

A running notebook job asks for a new total runtime in whole hours (``POST
/hub/api/jobwrapper/runtime`` with exactly ``{"runtime_hours": N}``, the server's own
token; api.py). The hub checks N against the user's resolved maximum
(``max_runtime_hours`` of ``c.ResourceForm`` with the limits of the user's groups and
the user's own, site/profiles.py through form.form_config) and then runs, as the user
through ``exec_prefix`` (argv, never a shell)::

    condor_qedit -forward JOB_ID MaxRuntime SECONDS

``-forward`` is what makes it reach the running job: HTCondor 25.0 sends the edit on
to the job's shadow (which evaluates periodic_remove, written with ``MaxRuntime``) and
``condor_chirp get_job_attr MaxRuntime`` in the job sees it; a plain condor_qedit
changes only the schedd's copy, and the job's ``.job.ad`` is never rewritten.
"""

from __future__ import annotations

import os
import re
import shlex
from typing import Any

from traitlets import Bool, Unicode
from traitlets.config import Configurable

from jobwrapper.protocol import IDLE_MINUTES_ENV

JOB_ID = re.compile(r"[0-9]{1,12}(\.[0-9]{1,9})?\Z")


class MoreTimeRefused(ValueError):
    """A request for more time that is not allowed; the message is for the user."""


class MoreTime(Configurable):
    """``c.MoreTime``: running sessions asking for more runtime."""

    enabled = Bool(True, help="Let running sessions ask for more runtime, up to the "
                              "user's max_runtime_hours.").tag(config=True)
    qedit_cmd = Unicode("condor_qedit", help="""The condor_qedit program (run as the user,
        after exec_prefix). The bare default is looked for next to batch_cancel_cmd's
        program when that is an absolute path (/opt/condor/bin/condor_rm ->
        /opt/condor/bin/condor_qedit).""").tag(config=True)


def qedit_program(settings: MoreTime, cancel_cmd: str) -> str:
    """``c.MoreTime.qedit_cmd``; the bare default next to an absolute condor_rm."""
    if settings.qedit_cmd != "condor_qedit":
        return settings.qedit_cmd
    words = shlex.split(cancel_cmd or "")
    if words and os.path.isabs(words[0]):
        return os.path.join(os.path.dirname(words[0]), "condor_qedit")
    return settings.qedit_cmd


def _whole(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def current_hours(spawner: Any) -> int:
    """The session's runtime in hours as the hub knows it: the form's runtime_hours, or
    the plain options' runtime_limit (seconds, submit.py), rounded up."""
    options = getattr(spawner, "user_options", None) or {}
    if not isinstance(options, dict):
        return 0
    if "runtime_hours" in options:
        return _whole(options["runtime_hours"])
    return -(-_whole(options.get("runtime_limit")) // 3600)


def check_request(hours: int, current: int, maximum: int) -> int:
    """The new MaxRuntime in seconds for ``hours``; MoreTimeRefused if not allowed."""
    if hours > maximum:
        raise MoreTimeRefused(f"at most {maximum} h are allowed for you; asked for {hours} h")
    if hours < current:
        raise MoreTimeRefused(f"this session already has {current} h; ask for more")
    return hours * 3600


def qedit_argv(command: str, job_id: str, seconds: int) -> list[str]:
    """``condor_qedit -forward JOB_ID MaxRuntime SECONDS`` as argv words."""
    if not JOB_ID.match(job_id):
        raise MoreTimeRefused("this session has no job id")
    return [command, "-forward", job_id, "MaxRuntime", str(int(seconds))]


async def extend_runtime(spawner: Any, hours: int) -> int:
    """Raise the running job's MaxRuntime to ``hours``; the new value in seconds.

    MoreTimeRefused (for the user) when not allowed or when condor_qedit fails."""
    from jobwrapper.hub import form
    from jobwrapper.hub.jobcontrol import BatchCommandError

    settings = MoreTime(parent=spawner)
    if not settings.enabled:
        raise MoreTimeRefused("this site does not give running sessions more time")
    if not getattr(spawner, "job_id", "") or getattr(spawner, "_stop_pending", False):
        raise MoreTimeRefused("this session is not running")
    maximum = form.form_config(spawner).max_runtime_hours
    seconds = check_request(hours, current_hours(spawner), maximum)
    program = qedit_program(settings, str(getattr(spawner, "batch_cancel_cmd", "") or ""))
    argv = qedit_argv(program, str(spawner.job_id), seconds)
    try:
        await spawner.run_batch(argv)
    except BatchCommandError as error:
        spawner.log.warning("%s: more time: %s", spawner._log_name, error)
        raise MoreTimeRefused("HTCondor did not take the new runtime limit") from None
    options = dict(getattr(spawner, "user_options", None) or {})
    if "runtime_limit" in options and "runtime_hours" not in options:
        options["runtime_limit"] = seconds
    else:
        options["runtime_hours"] = hours
    spawner.user_options = options
    _remember(spawner, options)
    spawner.log.info("%s: runtime raised to %d h (job %s)", spawner._log_name, hours,
                     spawner.job_id)
    return seconds


def _remember(spawner: Any, options: dict[str, Any]) -> None:
    """Keep the raised runtime in JupyterHub's database (the server's user_options), so
    that a restarted hub knows it; the next form then offers it as the last choice."""
    orm_spawner = getattr(spawner, "orm_spawner", None)
    db = getattr(spawner, "db", None)
    if orm_spawner is None or db is None:
        return
    try:
        orm_spawner.user_options = options
        db.commit()
    except Exception as error:  # the grant stands; only a restarted hub would not know
        spawner.log.warning("%s: cannot store the raised runtime: %s", spawner._log_name,
                            error)


def idle_minutes(spawner: Any) -> int:
    """The idle end the hub asked for (``JOBWRAPPER_IDLE_MINUTES`` in the spawner's
    environment), 0 if it set none."""
    environment = getattr(spawner, "environment", None) or {}
    value = environment.get(IDLE_MINUTES_ENV) if isinstance(environment, dict) else None
    text = str(value).strip() if isinstance(value, (str, int)) else ""
    return int(text) if text.isdigit() and len(text) <= 6 else 0


def idle_end_text(minutes: int) -> str:
    """The hub's own words for an idle end: "after 2 h without activity"."""
    if minutes <= 0:
        return "the notebook server ended itself after a time without activity"
    hours, rest = divmod(minutes, 60)
    span = " ".join(([f"{hours} h"] if hours else []) + ([f"{rest} min"] if rest else []))
    return f"the notebook server ended itself after {span} without activity"
