"""The demo's JobwrapperSpawner settings: the local pool's shims, the form, the site config.

Kept apart from jupyterhub_config.py so that config stays readable and the spawner
part can be copied into a real hub's config (replace the shim paths with HTCondor's
own commands, see docs/hub.md).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def configure_jobwrapper_spawner(c: Any, state: Path, users: list[str]) -> None:
    """Set the spawner's traits in the config object ``c``."""
    bin_dir = state / "bin"
    c.JupyterHub.spawner_class = "jobwrapper"  # the entry point (jupyterhub.spawners)
    # sudo resets PATH, so the pool's commands are named by absolute path.
    c.JobwrapperSpawner.batch_submit_cmd = f"{bin_dir}/condor_submit"
    c.JobwrapperSpawner.batch_query_cmd = (
        f'{bin_dir}/condor_q {{job_id}} -format "%s, " JobStatus -format "%s" RemoteHost '
        '-format "\\n" True')
    # One condor_q, as the hub's user, for every job the hub waits on (queuewatch.py).
    # (JOBWRAPPER_DEMO_QUERY_ALL=0: a condor_q per spawner, batchspawner's way, for
    # bench/scale's comparison.)
    c.JobwrapperSpawner.batch_query_all_cmd = (
        f"{bin_dir}/condor_q {{job_ids}} -af:j JobStatus RemoteHost"
        if os.environ.get("JOBWRAPPER_DEMO_QUERY_ALL", "1") != "0" else "")
    c.JobwrapperSpawner.batch_cancel_cmd = f"{bin_dir}/condor_rm {{job_id}}"
    c.JobwrapperSpawner.batch_hold_reason_cmd = f"{bin_dir}/condor_q {{job_id}} -af HoldReason"
    # Why a job waits (condor_q -better-analyze, after 10 s idle) and the pool's free
    # resources on the form (one condor_status for the hub, cached 30 s): docs/hub.md.
    c.JobwrapperSpawner.wait_analysis_cmd = f"{bin_dir}/condor_q -better-analyze {{job_id}}"
    c.JobwrapperSpawner.wait_analysis_after = 10.0
    c.JobwrapperSpawner.pool_status_cmd = (
        f"{bin_dir}/condor_status -af Name SlotType State Cpus Memory GPUs TotalSlotCpus "
        "TotalSlotMemory TotalSlotGPUs")
    c.JobwrapperSpawner.connect_to_job_cmd = (
        f'{bin_dir}/condor_ssh_to_job -ssh "ssh -N -oExitOnForwardFailure=yes '
        '-L {port}:localhost:{rport}" {job_id}')
    c.JobwrapperSpawner.connect_to_job_socket_cmd = (
        f'{bin_dir}/condor_ssh_to_job -ssh "ssh -N -oExitOnForwardFailure=yes '
        '-oStreamLocalBindUnlink=yes -L {hub_socket}:{job_socket}" {job_id}')
    # server_mode "auto" (docs/socket-mode.md): a unix socket at both ends when the proxy
    # supports it; JOBWRAPPER_DEMO_SERVER_MODE=tcp forces TCP ports.
    c.JobwrapperSpawner.server_mode = os.environ.get("JOBWRAPPER_DEMO_SERVER_MODE", "auto")
    # bench/spawn_latency --keep-claim-idle: a restart reuses the user's kept claim
    c.JobwrapperSpawner.keep_claim_idle = int(os.environ.get("JOBWRAPPER_DEMO_KEEP_CLAIM_IDLE",
                                                             "0"))
    if os.geteuid() != 0:
        # Not root: every notebook runs as the user who started the demo.
        c.JobwrapperSpawner.exec_prefix = ""
        c.JobwrapperSpawner.connect_to_job_exec_prefix = ""
    job_bin = state / "jobenv" / "bin"
    c.JobwrapperSpawner.jobwrapper_path = str(job_bin / "jobwrapper")
    c.JobwrapperSpawner.secrets_helper_cmd = [str(job_bin / "python"), "-m",
                                              "jobwrapper.hub.secrets"]
    c.JobwrapperSpawner.sync_helper_cmd = [str(job_bin / "python"), "-m", "jobwrapper.hub.sync"]
    # A status check every 0.25 s makes a single spawn snappy; bench/scale, with 100
    # spawns at once, asks for a longer interval. However many spawners ask, the hub runs
    # at most one condor_q per batch_query_min_interval.
    interval = float(os.environ.get("JOBWRAPPER_DEMO_POLL_INTERVAL", "0.25"))
    c.JobwrapperSpawner.startup_poll_interval = interval
    c.JobwrapperSpawner.batch_query_min_interval = interval
    c.JobwrapperSpawner.stop_timeout = 30
    # The job finds the demo's Lmod tree and "CVMFS" environments through the site config.
    # HTCondor gives a job no PATH of its own (no getenv); the system's commands (xpra for
    # the desktop, Lmod) are found through this one.
    # The pool's condor_chirp (last on PATH) lets a job follow a MaxRuntime raised with
    # "1 more hour"; an idle notebook ends itself after JOBWRAPPER_DEMO_IDLE_MINUTES (120).
    c.Spawner.environment = {"JOBWRAPPER_CONFIG": str(state / "jobwrapper.toml"),
                             "PATH": f"/usr/local/bin:/usr/bin:/bin:{bin_dir}",
                             "JOBWRAPPER_IDLE_MINUTES":
                                 os.environ.get("JOBWRAPPER_DEMO_IDLE_MINUTES", "120")}
    # The options form (docs/form.md); its choices are c.ResourceForm in jupyterhub_config.py.
    c.JobwrapperSpawner.resource_form = True
    # Why a server stopped without the user asking, in the bar on the hub's pages
    # (the form shows it itself, docs/hub.md "Why a server stopped").
    from jobwrapper.hub.stopreason import stop_reason_announcement

    c.JupyterHub.template_vars = {"announcement": stop_reason_announcement,
                                  "announcement_spawn": ""}
