"""Running the batch commands for one spawner: submit, query, remove, the secrets helper.

A mixin for JobwrapperSpawner. batchspawner joins `exec_prefix` and each command into
one shell string and logs the submit script and the whole environment (token included)
at debug level; here every command is an argv list filled in word by word, run with a
small environment that holds no token, and only token-free text is logged.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shlex
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from batchspawner import JobStatus
from traitlets import Float, HasTraits, Unicode

from .connection.tunnel import CommandTemplateError, format_command
from .queuewatch import QueueWatcher, parse_status_lines, shared_watcher

if TYPE_CHECKING:  # the class that hosts this part (hub/host.py)
    from .host import SpawnerHost

ERROR_LINES_SHOWN = 3


class SpawnFailed(Exception):
    """A spawn failed; the message is shown to the user on the spawn page."""


class BatchCommandError(Exception):
    """A batch command exited with an error; `stderr` holds its first lines."""

    def __init__(self, command: str, returncode: int | None, stderr: str) -> None:
        super().__init__(f"{command} failed (exit code {returncode}): {stderr}")
        self.command = command
        self.returncode = returncode
        self.stderr = stderr


def first_lines(text: str, count: int = ERROR_LINES_SHOWN) -> str:
    """The first non-empty lines of `text`, joined for a one-line message."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " / ".join(lines[:count]) or "(no error output)"


async def run_command(argv: list[str], env: dict[str, str], stdin: str | None = None) -> str:
    """Run argv (no shell) in `/` with `env`; its stdout, or BatchCommandError."""
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd="/",
        )
    except OSError as error:
        raise BatchCommandError(argv[0], None, f"cannot run it: {error.strerror}") from None
    out, err = await process.communicate(stdin.encode() if stdin is not None else None)
    if process.returncode != 0:
        raise BatchCommandError(
            argv[0], process.returncode, first_lines(err.decode(errors="replace"))
        )
    return out.decode(errors="replace")


def query_runner(prefix: str, template: str, keep: tuple[str, ...], log: Any,
                 joiner: str | None = None, none_left: str = ""
                 ) -> Callable[[list[str]], Awaitable[str]]:
    """The queue watcher's query: prefix + template, run with the hub's variables named
    in `keep`. `{job_ids}` is one word per id (condor_q), or with `joiner` one word of
    the ids joined (squeue's `-j 1,2,3`). An error whose message holds `none_left`
    means that none of the jobs is in the queue any more: the answer is empty."""

    async def run_query(job_ids: list[str]) -> str:
        try:
            argv = format_command(prefix, {})
            if joiner is not None:
                argv += format_command(template, {"job_ids": joiner.join(job_ids)})
            else:
                words = format_command(template.replace("{job_ids}", "{{job_ids}}"), {})
                for word in words:
                    argv.extend(job_ids if word == "{job_ids}" else [word])
        except CommandTemplateError as error:
            raise BatchCommandError("batch_query_all_cmd", None, str(error)) from None
        env = {name: os.environ[name] for name in keep if name in os.environ}
        log.debug("Running %s (for %d job(s))", shlex.join(argv), len(job_ids))
        try:
            return await run_command(argv, env)
        except BatchCommandError as error:
            if none_left and none_left in error.stderr:
                return ""
            raise

    return run_query


class JobControl(HasTraits):
    """Batch commands of one spawner (mixed into JobwrapperSpawner)."""

    # How batch_query_all_cmd's answer is read (Slurm's: hub/slurm/spawner.py)
    queue_ids_joiner: str | None = None  # None: one word per id
    queue_none_left = ""  # an error message that means "none of them is queued"
    parse_queue = staticmethod(parse_status_lines)

    batch_query_all_cmd = Unicode(
        "condor_q {job_ids} -af:j JobStatus RemoteHost",
        help="""One query for every job the hub waits on (queuewatch.py), run as the hub's
        own user with batch_query_all_exec_prefix. {job_ids} becomes the job ids, one word
        each; its output must be `condor_q -af:j JobStatus RemoteHost` lines. Empty: each
        spawner runs batch_query_cmd as its user (batchspawner's way; a process per
        spawner and poll).""",
    ).tag(config=True)

    batch_query_all_exec_prefix = Unicode(
        "", help="Prefix for batch_query_all_cmd (e.g. sudo -u condor-reader); none by default."
    ).tag(config=True)

    batch_hold_reason_cmd = Unicode(
        "condor_q {job_id} -af HoldReason",
        help="""Run (as the user, with exec_prefix) when a job is held, to tell the user
        HTCondor's HoldReason (which otherwise only job.log has). Empty: not asked.""",
    ).tag(config=True)

    batch_query_min_interval = Float(
        1.0,
        help="""Seconds between two runs of batch_query_all_cmd. Status requests that
        arrive meanwhile wait for the next run and share it.""",
    ).tag(config=True)

    def batch_env(self: SpawnerHost) -> dict[str, str]:
        """The environment of batch commands and the tunnel: no token, the user's HOME."""
        env = {key: os.environ[key] for key in self.batch_env_keep if key in os.environ}
        try:
            entry = pwd.getpwnam(self.user.name)
        except KeyError:
            return env
        env.update(USER=entry.pw_name, LOGNAME=entry.pw_name, HOME=entry.pw_dir)
        return env

    def command_fields(self: SpawnerHost) -> dict[str, Any]:
        """The req_* traits (without prefix) and the job id, for command templates."""
        fields = dict(self.get_req_subvars())
        fields["job_id"] = self.job_id
        return fields

    async def run_batch(self: SpawnerHost, template: str | list[str],
                        stdin: str | None = None) -> str:
        """Run exec_prefix + template (a string split like a shell would, or argv words)."""
        fields = self.command_fields()
        argv = format_command(self.exec_prefix, fields)
        if isinstance(template, str):
            argv += format_command(template, fields)
        else:
            argv += list(template)
        self.log.debug("Running %s", shlex.join(argv))
        return await run_command(argv, self.batch_env(), stdin)

    async def submit_job(self: SpawnerHost, description: str) -> str:
        """condor_submit the description (on stdin); sets and returns self.job_id."""
        self.log.debug("Submit description for %s:\n%s", self._log_name, description)
        try:
            output = await self.run_batch(self.batch_submit_cmd, stdin=description)
        except BatchCommandError as error:
            system = self.batch_system_name
            raise SpawnFailed(f"{system[:1].upper()}{system[1:]} did not accept the notebook "
                              f"job: {error.stderr}") from None
        try:
            self.job_id = self.parse_job_id(output)
        except Exception:
            raise SpawnFailed(
                f"The answer of {self.batch_system_name} to the submission had no job id: "
                f"{first_lines(output)}"
            ) from None
        return self.job_id

    async def query_job_status(self: SpawnerHost) -> JobStatus:
        """condor_q: RUNNING, PENDING, UNKNOWN (the query failed) or NOTFOUND.

        Held (5) and removed (3) jobs count as NOTFOUND; `job_status` keeps the text.
        """
        if not self.job_id:
            self.job_status = ""
            return JobStatus.NOTFOUND
        try:
            self.job_status = await self.query_queue()
        except BatchCommandError as error:
            self.log.warning("%s: querying job %s: %s", self._log_name, self.job_id, error)
            return JobStatus.UNKNOWN
        if self.state_isrunning():
            return JobStatus.RUNNING
        if self.state_ispending():
            return JobStatus.PENDING
        return JobStatus.NOTFOUND

    async def query_queue(self: SpawnerHost) -> str:
        """The job's status text ("2, slot1@node"; "" when not in the queue)."""
        if not self.batch_query_all_cmd.strip():
            return (await self.run_batch(self.batch_query_cmd)).strip()
        return await self.queue_watcher().status(self.job_id)

    def queue_watcher(self: SpawnerHost) -> QueueWatcher:
        """The hub's shared watcher for this spawner's query command."""
        key = (self.batch_query_all_exec_prefix, self.batch_query_all_cmd,
               self.batch_query_min_interval, asyncio.get_running_loop())
        return shared_watcher(key, lambda: QueueWatcher(
            query_runner(key[0], key[1], tuple(self.batch_env_keep), self.log,
                         self.queue_ids_joiner, self.queue_none_left),
            self.batch_query_min_interval, parse=self.parse_queue))

    async def hold_reason(self: SpawnerHost) -> str:
        """HTCondor's HoldReason of the held job, one line; "" if it cannot be had."""
        if not self.batch_hold_reason_cmd.strip():
            return ""
        try:
            output = await self.run_batch(self.batch_hold_reason_cmd)
        except BatchCommandError as error:
            self.log.info("%s: asking for the hold reason: %s", self._log_name, error.stderr)
            return ""
        reason = " ".join(output.split())
        return "" if reason in ("", "undefined") else reason

    async def explain_gone(self: SpawnerHost, when: str) -> str:
        """job_gone_message(), with HTCondor's HoldReason when the job is held."""
        held = self.job_status.split(",")[0].strip() == "5"
        return self.job_gone_message(when, await self.hold_reason() if held else "")

    def job_gone_message(self: SpawnerHost, when: str, hold_reason: str = "") -> str:
        """Why the job is not running, for the user."""
        status = self.job_status.split(",")[0].strip()
        reason = {
            "5": f"HTCondor put it on hold ({hold_reason})" if hold_reason
            else "HTCondor put it on hold",
            "3": "it was removed",
            "4": "it ended (the server exited: File > Shut Down in JupyterLab, or an error)",
        }.get(status, "it left the queue (it ended, was removed, or reached its maximum "
                      "runtime)")
        return (
            f"Your notebook job {self.job_id} stopped {when}: {reason}. Its output and log "
            f"are in ~/{self.job_dir}/ (job.out, job.err, job.log)."
        )

    async def remove_job_quietly(self: SpawnerHost) -> None:
        """condor_rm the job; a job that is already gone is not an error."""
        if not self.job_id:
            return
        try:
            await self.run_batch(self.batch_cancel_cmd)
        except BatchCommandError as error:
            self.log.info("%s: removing job %s: %s", self._log_name, self.job_id, error.stderr)

    async def wait_until_gone(self: SpawnerHost, timeout: float) -> bool:
        """Wait until the job has left the queue (its output is then back); False on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            try:
                if not await self.query_queue():
                    return True
            except BatchCommandError as error:
                self.log.warning("%s: querying job %s: %s", self._log_name, self.job_id, error)
            await asyncio.sleep(0.5)
        self.log.warning(
            "%s: job %s is still in the queue after %.0f s; ~/jupyter may not be back yet",
            self._log_name,
            self.job_id,
            timeout,
        )
        return False

    async def write_secrets(self: SpawnerHost, secret: dict[str, str]) -> None:
        """As the user: ~/jupyter (first spawn), the 0700 job dir, the 0600 secrets file."""
        try:
            await self.run_batch(
                [*self.secrets_helper_cmd, "prepare", self.job_dir], stdin=self.secrets_json(secret)
            )
        except BatchCommandError as error:
            raise SpawnFailed(
                f"The hub could not prepare ~/{self.job_dir} for your job: {error.stderr}"
            ) from None

    async def remove_secrets(self: SpawnerHost) -> None:
        """As the user: delete the secrets file (best effort)."""
        try:
            await self.run_batch([*self.secrets_helper_cmd, "remove", self.job_dir])
        except BatchCommandError as error:
            self.log.warning("%s: removing the secrets file: %s", self._log_name, error.stderr)
