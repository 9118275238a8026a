"""The spawner's part that keeps ~/jupyter without loss (docs/sync.md).

Before the submit, the user's ~/jupyter is recorded as the submit side's base
(`sync.py snapshot`, as the user); the job's jupyter/ comes back into the server's
dir (the submit template's initialdir), and once the job has left the queue it is
merged into ~/jupyter (`sync.py merge`). A merge that did not run (it failed, the
hub died in it) is recognised by what it left in the server's dir (the staging dir, a
journal) and is finished by the next start's snapshot. A job that ended while the hub
was down is merged by the first poll after the restart, which finds it gone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from traitlets import HasTraits, Integer, List, Unicode, default

from .jobcontrol import BatchCommandError

if TYPE_CHECKING:  # the class that hosts this part (hub/host.py)
    from .host import SpawnerHost


class JupyterSync(HasTraits):
    """Snapshot before the submit, merge after the job (mixed into JobwrapperSpawner)."""

    sync_helper_cmd = List(
        Unicode(),
        help="""Command run as the user (after exec_prefix) that records ~/jupyter before a
        submit and merges the job's jupyter/ into it afterwards: this package's
        hub/sync.py (standard library only) under the hub's python, or /usr/bin/python3
        when other users cannot run the hub's python.""",
    ).tag(config=True)

    sync_trash_days = Integer(
        30, min=1,
        help="Days files deleted in a job are kept in ~/.jupyterhub-condor/trash/.",
    ).tag(config=True)

    @default("sync_helper_cmd")
    def _sync_helper_cmd_default(self) -> list[str]:
        from . import secrets as hub_secrets

        python = hub_secrets.helper_command()[0]
        return [python, "-I", str(Path(__file__).with_name("sync.py"))]

    def sync_argv(self: SpawnerHost, command: str) -> list[str]:
        return [*self.sync_helper_cmd, command, self.job_dir, self.job_id or "0",
                "--trash-days", str(self.sync_trash_days)]

    async def snapshot_jupyter(self: SpawnerHost) -> None:
        """Before the submit: finish a merge left over, record ~/jupyter as the base."""
        try:
            output = await self.run_batch(self.sync_argv("snapshot"))
        except BatchCommandError as error:
            self.log.warning("%s: recording ~/jupyter before the submit: %s",
                             self._log_name, error.stderr)
            return
        leftover = _parse(output).get("leftover")
        if leftover:
            self.log.info("%s: a merge left over from an earlier job: %s", self._log_name,
                          leftover.get("text", leftover))

    async def merge_jupyter(self: SpawnerHost) -> str:
        """After the job left the queue: merge its jupyter/ into ~/jupyter; one line for
        the user, "" when there was nothing to say."""
        if not self.job_id:
            return ""
        try:
            output = await self.run_batch(self.sync_argv("merge"))
        except BatchCommandError as error:
            message = (f"~/jupyter was not merged yet ({error.stderr}); it is merged at "
                       "the next start")
            self.log.warning("%s: %s", self._log_name, message)
            return message
        result = _parse(output)
        text = str(result.get("text", ""))
        self.log.info("%s: job %s: %s", self._log_name, self.job_id, text)
        notable = result.get("trashed") or result.get("conflicts") or result.get("rescued")
        return text if notable else ""


def _parse(output: str) -> dict:
    for line in reversed(output.splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return {}
