"""JobwrapperSlurmSpawner: the same spawner on Slurm (docs/slurm.md).

What stays: the lifecycle (prepare, submit, queue, port, tunnel, poll, stop), the
strict port or socket report, the secrets file, socket mode, restart survival, the
stop reasons. What changes:

  submit   the batch script of slurm/script.py on `sbatch --parsable`'s stdin
  queue    one `squeue` for the hub's jobs (slurm/queue.py); Slurm's pending reason
           on the spawn page
  secrets  the 0600 file stays where the hub wrote it, in the shared home
           (`~/.jupyterhub-slurm/<server>/`); the job gets its absolute path
  tunnel   `srun --jobid=ID --overlap` starts `jobwrapper bridge` as a step of the
           job, and the hub's end of jobwrapper/stepbridge.py carries every
           connection over it: no inbound connection to the node
  stop     scancel (Slurm: SIGTERM, then SIGKILL after KillWait); the home is shared,
           so nothing is transferred back or merged
"""

from __future__ import annotations

import os
import pwd
import shlex
import sys
from collections.abc import Mapping
from typing import Any, ClassVar

from traitlets import Float, List, Unicode, default

from jobwrapper.hub import form
from jobwrapper.hub import secrets as hub_secrets
from jobwrapper.hub.jobcontrol import SpawnFailed
from jobwrapper.hub.slurm import queue, script
from jobwrapper.hub.spawner import JobwrapperSpawner
from jobwrapper.hub.submit import SubmitValueError
from jobwrapper.protocol import SYNC_ENV

JOB_DIRS_ROOT = ".jupyterhub-slurm"
# A step of the job, in "/" (srun would chdir to the hub's cwd), unbuffered (a pty,
# which the job end puts in raw mode): stepbridge's frames pass at once, byte for byte.
STEP = "srun --jobid={job_id} --overlap --nodes=1 --ntasks=1 --chdir=/ --quiet --unbuffered"


def bridge_command() -> str:
    """The hub end of the step bridge, as a command the user can run (stdlib only)."""
    from jobwrapper import stepbridge

    python = sys.executable if hub_secrets.everyone_can_run(sys.executable) \
        else hub_secrets.SYSTEM_PYTHON
    return f"{shlex.quote(python)} -I {shlex.quote(os.path.abspath(stepbridge.__file__))}"


class JobwrapperSlurmSpawner(JobwrapperSpawner):
    """Runs `jobwrapper singleuser` as a Slurm job and tunnels to it through a job step."""

    batch_system_name = "Slurm"
    pending_words = "is pending in the Slurm queue"
    files_back_words = "Files saved in ~/jupyter are there (the home is shared)."
    end_words: ClassVar[Mapping[str, str]] = {
        "signal": "the notebook server was told to stop by Slurm (scancel, preemption or "
                  "the time limit)"}

    batch_submit_cmd = Unicode("sbatch --parsable", help="Submits the batch script "
                               "(on stdin); prints the job id.").tag(config=True)
    batch_query_cmd = Unicode('squeue -h -o "%T %N" -j {job_id}').tag(config=True)
    batch_cancel_cmd = Unicode("scancel {job_id}", help="Ends the job: Slurm sends "
                               "SIGTERM, then SIGKILL after KillWait.").tag(config=True)
    batch_query_all_cmd = Unicode(
        queue.QUERY,
        help="""One squeue for every job the hub waits on (slurm/queue.py), as the hub's
        own user: {job_ids} becomes the ids joined by commas; its output must be
        `%i|%T|%N|%r` lines.""",
    ).tag(config=True)
    batch_hold_reason_cmd = Unicode("").tag(config=True)
    state_pending_re = Unicode(r"^(?:PENDING|CONFIGURING|SUSPENDED)").tag(config=True)
    state_running_re = Unicode(r"^(?:RUNNING|COMPLETING)").tag(config=True)
    state_exechost_re = Unicode(r"^[A-Z_]+ ([A-Za-z0-9][A-Za-z0-9.-]*)$").tag(config=True)
    state_exechost_exp = Unicode("").tag(config=True)
    wait_analysis_cmd = Unicode("").tag(config=True)
    wait_analysis_after = Float(
        2.0, help="Seconds a job is pending before the spawn page says Slurm's reason.",
    ).tag(config=True)
    wait_analysis_interval = Float(
        5.0, help="Seconds between two looks at a pending job's reason.").tag(config=True)
    pool_status_cmd = Unicode(
        queue.SINFO,
        help="""The hub's one query for the nodes' free resources (slurm/queue.py
        parse_sinfo; cached pool_status_max_age seconds for the whole hub): the form
        shows them. Add -p PARTITION for the notebooks' partition. Empty: not asked.""",
    ).tag(config=True)
    parse_pool_status = staticmethod(queue.parse_sinfo)
    queue_ids_joiner = ","  # squeue -j 101,102
    queue_none_left = queue.INVALID_ID  # a purged id alone: none is queued
    parse_queue = staticmethod(queue.parse_squeue_lines)
    batch_env_keep = List(
        Unicode(), ["PATH", "LANG", "LC_ALL", "SLURM_CONF"],
        help="Variables of the hub's environment the batch commands and the tunnel get.",
    ).tag(config=True)

    sbatch_options = Unicode(
        "",
        help="""The site's own sbatch options for every notebook job, e.g.
        "--partition=jupyter --qos=interactive" (split like a shell would; each a
        --name=value of safe characters; the hub's own ones are refused).""",
    ).tag(config=True)

    @default("connect_to_job_cmd")
    def _connect_default(self) -> str:
        return (f"{bridge_command()} hub --listen-port {{port}} -- {STEP} "
                f"{shlex.quote(self.jobwrapper_path)} bridge --port {{rport}}")

    @default("connect_to_job_socket_cmd")
    def _connect_socket_default(self) -> str:
        return (f"{bridge_command()} hub --listen-socket {{hub_socket}} -- {STEP} "
                f"{shlex.quote(self.jobwrapper_path)} bridge --socket {{job_socket}}")

    def parse_job_id(self, output: str) -> str:
        """`sbatch --parsable`: "ID" or "ID;CLUSTER" (the last line)."""
        lines = output.strip().splitlines()
        job_id = lines[-1].split(";")[0].strip() if lines else ""
        if not job_id.isdigit():
            raise ValueError(f"no job id in {output!r}")
        return job_id

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._final_states: dict[str, str] = {}

    @property
    def job_dir(self) -> str:
        return hub_secrets.job_dir_for(self.name, JOB_DIRS_ROOT)

    def _home(self) -> str:
        return pwd.getpwnam(self.user.name).pw_dir

    def _job_environment(self) -> tuple[dict[str, str], dict[str, str]]:
        public, secret = super()._job_environment()
        public.pop(SYNC_ENV, None)  # the home is shared: nothing to merge
        public[hub_secrets.SECRETS_ENV] = (
            f"{self._home()}/{self.job_dir}/{hub_secrets.SECRETS_FILE_NAME}")
        return public, secret

    def sbatch_request(self) -> dict[str, Any]:
        """The options as slurm/script.py takes them: with the form, validated against
        the user's limits like the HTCondor submit lines (form.py); else as given."""
        if not self.resource_form:
            return self.submit_options()
        chosen = form.validate_options(self.user_options or {}, form.form_config(self))
        return {"cpus": chosen.cpus, "memory_mb": chosen.memory_mb, "gpus": chosen.gpus,
                "runtime_limit": chosen.runtime_seconds, "container_os": chosen.container_os,
                "environment": chosen.environment, "cephfs_io": chosen.cephfs_io}

    def _submit_description(self, environment: Mapping[str, str]) -> str:
        try:
            directives, variables = script.default_sbatch_options(self.sbatch_request())
            site = shlex.split(self.sbatch_options)
            job = script.SlurmNotebookJob(
                executable=self.jobwrapper_path,
                arguments=[*self.singleuser_args, *(["--", *self.args] if self.args else [])],
                home=self._home(),
                job_dir=self.job_dir,
                environment={**environment, **variables},
                job_name=f"jupyterhub-{self.user.name}"[:64],
                directives=[*site, *directives],
            )
            return script.render_script(job)
        except (SubmitValueError, KeyError, ValueError) as error:
            raise SpawnFailed(f"Your notebook job could not be described: {error}") from None

    async def snapshot_jupyter(self) -> None:
        """Nothing to do: the job works in the shared home."""

    async def merge_jupyter(self) -> str:
        return ""

    async def query_queue(self) -> str:
        """The job's status text; "" once it has ended, whose final state (squeue
        --states=all: TIMEOUT, OUT_OF_MEMORY, ...) is kept for the message."""
        text = await super().query_queue()
        state = text.split(" ")[0] if text else ""
        if state in queue.FINAL_STATES:
            self._final_states[self.job_id] = state
            return ""
        return text

    def job_gone_message(self, when: str, hold_reason: str = "") -> str:
        state = self._final_states.get(self.job_id, "")
        return (f"Your notebook job {self.job_id} stopped {when}: "
                f"{queue.gone_sentence(state)}. Its output is in ~/{self.job_dir}/ "
                "(job.out, job.err).")

    def explains_waits(self) -> bool:
        """Always: squeue's pending reason needs no analysis command."""
        return True

    async def wait_reason(self) -> str:
        return queue.wait_sentence(self.job_id, self.job_status)
