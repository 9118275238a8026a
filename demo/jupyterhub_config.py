"""JupyterHub config of the demo (scripts/demo, tests/e2e, bench/): jobwrapper on the local pool.

Everything variable comes from JOBWRAPPER_DEMO_* variables set by demo/demolib.py:
STATE (the state dir), PORT (public), HUB_PORT, PROXY_API_PORT, SPAWNER ("jobwrapper",
"local" for JupyterHub's LocalProcessSpawner, or "batchspawner" for stock batchspawner's
CondorSpawner on the same pool: the benchmarks' baselines), USERS,
PASSWORD and API_TOKEN (an admin service token for the demo's own REST calls).
SPAWNER "slurm": JobwrapperSlurmSpawner on the demo's own Slurm (scripts/demo --scheduler slurm).
"""

# ruff: noqa: F821 - `c` and `get_config` are provided by JupyterHub when it loads this file
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = REPO / ".venv" / "bin"
STATE = Path(os.environ["JOBWRAPPER_DEMO_STATE"])
HUB_DIR = Path(os.environ.get("JOBWRAPPER_DEMO_HUB_DIR") or STATE / "hub")
USERS = [name for name in os.environ.get("JOBWRAPPER_DEMO_USERS", "").split(",") if name]
SPAWNER = os.environ.get("JOBWRAPPER_DEMO_SPAWNER", "jobwrapper")

c = get_config()

# --- Hub, proxy, database: all on loopback, all files in the state dir -----------------
c.JupyterHub.bind_url = f"http://127.0.0.1:{os.environ.get('JOBWRAPPER_DEMO_PORT', '8000')}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ.get("JOBWRAPPER_DEMO_HUB_PORT", "8081"))
c.JupyterHub.db_url = f"sqlite:///{HUB_DIR / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(HUB_DIR / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(HUB_DIR / "jupyterhub.pid")
c.ConfigurableHTTPProxy.command = [str(VENV_BIN / "configurable-http-proxy")]
c.ConfigurableHTTPProxy.api_url = (
    f"http://127.0.0.1:{os.environ.get('JOBWRAPPER_DEMO_PROXY_API_PORT', '8001')}")
c.ConfigurableHTTPProxy.pid_file = str(HUB_DIR / "proxy.pid")
c.ConfigurableHTTPProxy.auth_token = os.environ["JOBWRAPPER_DEMO_PROXY_TOKEN"]
# Notebooks and the proxy outlive a hub restart; scripts/demo stops them on Ctrl-C.
c.JupyterHub.cleanup_servers = False
c.JupyterHub.cleanup_proxy = False
# 100 users spawning at once (bench/scale): no limit below the pool's.
c.JupyterHub.concurrent_spawn_limit = 0
c.JupyterHub.active_server_limit = 0
c.JupyterHub.last_activity_interval = 60
# Named servers: several notebooks per user, each its own job (docs/hub.md).
c.JupyterHub.allow_named_servers = True
c.JupyterHub.named_server_limit_per_user = 3

# --- Users: a shared password for the demo users (local accounts when run as root) -----
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = os.environ["JOBWRAPPER_DEMO_PASSWORD"]
c.Authenticator.allowed_users = set(USERS)
c.JupyterHub.services = [
    {"name": "demo-admin", "api_token": os.environ["JOBWRAPPER_DEMO_API_TOKEN"]},
]
c.JupyterHub.load_roles = [
    {"name": "demo-admin", "services": ["demo-admin"],
     "scopes": ["admin:users", "admin:servers", "access:servers", "read:users:activity",
                "tokens"]},
]

# --- Spawner ----------------------------------------------------------------------------
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = int(os.environ.get("JOBWRAPPER_DEMO_START_TIMEOUT", "120"))
c.Spawner.http_timeout = c.Spawner.start_timeout
# The demo users cannot run the .venv's python where it lives in /root (pyenv); the demo's
# job venv (demo-state/jobenv) has the same packages for a python everyone can run.
JOB_BIN = STATE / "jobenv" / "bin"
c.Spawner.cmd = [str(JOB_BIN / "jupyterhub-singleuser")]

if SPAWNER == "local":
    # The benchmarks' baseline: the same single-user server as a local process.
    c.JupyterHub.spawner_class = "jupyterhub.spawner.LocalProcessSpawner"
    c.Spawner.environment = {"PATH": f"{JOB_BIN}:/usr/local/bin:/usr/bin:/bin"}
    if os.geteuid() != 0:
        c.Spawner.notebook_dir = str(STATE / "notebooks")
elif SPAWNER == "slurm":
    # scripts/demo --scheduler slurm: the demo's private Slurm (demo/demo_slurm.py)
    sys.path.insert(0, str(REPO / "demo"))
    from demo_slurm import configure_slurm_spawner

    configure_slurm_spawner(c, STATE, USERS)
elif SPAWNER == "batchspawner":
    # The other baseline: stock batchspawner on the same pool, as its docs configure it
    # (no tunnel: the hub connects to the execute host, the token is in the job's ad).
    c.JupyterHub.spawner_class = "batchspawner.CondorSpawner"
    POOL_BIN = STATE / "bin"
    # Its commands run through a shell, as the user, from the hub's 0700 dir: cd first.
    # The job gets the submitter's environment (GetEnv), whose PATH sudo has reset, and
    # runs `batchspawner-singleuser` from it: the job venv's bin first.
    c.CondorSpawner.batch_submit_cmd = (
        f"sh -c 'cd && PATH={JOB_BIN}:$PATH exec {POOL_BIN}/condor_submit'")
    c.CondorSpawner.batch_query_cmd = (
        f'{POOL_BIN}/condor_q {{job_id}} -format "%s, " JobStatus -format "%s" RemoteHost '
        '-format "\\n" True')
    c.CondorSpawner.batch_cancel_cmd = f"{POOL_BIN}/condor_rm {{job_id}}"
    c.CondorSpawner.req_memory = "2048"
    KEEP = int(os.environ.get("JOBWRAPPER_DEMO_BASELINE_KEEP_CLAIM_IDLE", "0"))
    if KEEP:  # bench/spawn_latency --baseline-keep-claim-idle
        c.CondorSpawner.req_options = f"+KeepClaimIdle = {KEEP}"
    c.Spawner.environment = {"PATH": f"{JOB_BIN}:/usr/local/bin:/usr/bin:/bin"}
else:
    sys.path.insert(0, str(REPO / "demo"))
    from demo_spawner import configure_jobwrapper_spawner

    configure_jobwrapper_spawner(c, STATE, USERS)

# --- The options form (docs/form.md) ------------------------------------------------------
c.ResourceForm.max_cpus = 4
c.ResourceForm.memory_choices_mb = [1024, 2048, 4096]
c.ResourceForm.default_memory_mb = 1024
c.ResourceForm.max_runtime_hours = 12
c.ResourceForm.default_runtime_hours = 2
c.ResourceForm.max_gpus = 0  # the local pool has no GPUs
c.ResourceForm.cephfs_io_classes = ["low", "medium", "high"]
c.ResourceForm.container_os_choices = {"Debian12": "Debian 12 (this machine)"}
c.ResourceForm.environments = {"stable": "stable (demo-tools 1.0)",
                               "testing": "testing (demo-tools 2.0)"}

# --- Site news with a planned maintenance, two profiles, the group "students" -------------
# (demo/demo_site.py: HUB_DIR/news.toml and demo/profiles.toml, both read when they change)
sys.path.insert(0, str(REPO / "demo"))
from demo_site import configure_site  # noqa: E402

configure_site(c, HUB_DIR, USERS)

if shutil.which("configurable-http-proxy") is None and not VENV_BIN.joinpath(
        "configurable-http-proxy").exists():
    raise SystemExit("configurable-http-proxy is missing: run scripts/setup")
