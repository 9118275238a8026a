"""A real JupyterHub (subprocess) with JobwrapperSpawner on a local pool, for the tests."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import requests
from polling import wait_for

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
STANDIN_JOB = Path(__file__).resolve().parent / "standin_job.py"
ALICE = "jwtest-alice"
BOB = "jwtest-bob"
FAST_POOL = {
    "idle_delay": "0.2",
    "ssh_ready_delay": "0.5",
    "vacate_grace": "5",
    "leave_queue_delay": "0.2",
    "periodic_interval": "0.5",
    "memory_poll_interval": "0.5",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


COMMON_CONFIG = """
import json
settings = json.loads({settings!r})
c = get_config()  # noqa: F821
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = settings["public_port"]
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = settings["hub_port"]
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:%d" % settings["proxy_api_port"]
c.ConfigurableHTTPProxy.auth_token = settings["proxy_token"]
c.ConfigurableHTTPProxy.should_start = True
c.JupyterHub.db_url = "sqlite:///" + settings["state_dir"] + "/hub.sqlite"
c.JupyterHub.cookie_secret_file = settings["state_dir"] + "/cookie_secret"
c.JupyterHub.pid_file = settings["state_dir"] + "/hub.pid"
c.JupyterHub.cleanup_servers = False
c.JupyterHub.allow_named_servers = True
c.JupyterHub.tornado_settings = {{"slow_spawn_timeout": 0}}  # POST returns; we follow progress
c.JupyterHub.log_level = "DEBUG"
c.JupyterHub.authenticator_class = "dummy"
c.JupyterHub.services = [{{"name": "tester", "api_token": settings["admin_token"]}}]
c.JupyterHub.load_roles = [{{
    "name": "tester",
    "scopes": ["admin:users", "admin:servers", "admin:server_state", "tokens",
               "read:servers", "access:servers"],
    "services": ["tester"],
}}]
"""
CONFIG = COMMON_CONFIG + """
c.JupyterHub.spawner_class = "jobwrapper.hub.spawner.JobwrapperSpawner"
b = settings["bin"]
s = c.JobwrapperSpawner
s.batch_submit_cmd = b + "/condor_submit"
s.batch_query_cmd = (b + '/condor_q {{job_id}} -format "%s, " JobStatus '
                     '-format "%s" RemoteHost -format "\\\\n" True')
s.batch_query_all_cmd = b + "/condor_q {{job_ids}} -af:j JobStatus RemoteHost"
s.batch_query_min_interval = 0.2
s.batch_cancel_cmd = b + "/condor_rm {{job_id}}"
s.batch_hold_reason_cmd = b + "/condor_q {{job_id}} -af HoldReason"
s.connect_to_job_cmd = (
    b + '/condor_ssh_to_job -ssh '
    '"ssh -N -oExitOnForwardFailure=yes -L {{port}}:localhost:{{rport}}" {{job_id}}'
)
s.connect_to_job_socket_cmd = (
    b + '/condor_ssh_to_job -ssh "ssh -N -oExitOnForwardFailure=yes '
    '-oStreamLocalBindUnlink=yes -L {{hub_socket}}:{{job_socket}}" {{job_id}}'
)
s.jobwrapper_path = settings["job_executable"]
s.startup_poll_interval = 0.2
s.poll_interval = settings["poll_interval"]
s.http_timeout = 30
s.start_timeout = 60
s.stop_timeout = 30
s.server_mode = "tcp"  # socket mode: spawner={{"server_mode": ...}} (test_socket_mode.py)
for key, value in settings.get("spawner", {{}}).items():
    setattr(s, key, value)
"""


SLURM_CONFIG = COMMON_CONFIG + """
c.JupyterHub.spawner_class = "jobwrapper.hub.slurm.spawner.JobwrapperSlurmSpawner"
s = c.JobwrapperSlurmSpawner
s.jobwrapper_path = settings["job_executable"]
s.batch_query_min_interval = 0.2
s.startup_poll_interval = 0.2
s.poll_interval = settings["poll_interval"]
s.http_timeout = 30
s.start_timeout = 90
s.stop_timeout = 30
s.server_mode = "tcp"
for key, value in settings.get("spawner", {{}}).items():
    setattr(s, key, value)
"""


@dataclasses.dataclass
class Hub:
    """One JupyterHub process tree and its settings; restartable."""

    state_dir: Path
    settings: dict[str, Any]
    process: subprocess.Popen | None = None
    template: str = ""  # the hub config to fill with the settings: CONFIG (read at start,
    # so that a test may patch it), or another one (SLURM_CONFIG)
    log_files: list[Path] = dataclasses.field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings['public_port']}"

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"token {self.settings['admin_token']}"}

    def start(self) -> None:
        config = self.state_dir / "jupyterhub_config.py"
        template = self.template or CONFIG
        config.write_text(template.format(settings=json.dumps(self.settings)))
        log = self.state_dir / f"hub-{len(self.log_files)}.log"
        self.log_files.append(log)
        env = {
            "PATH": f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            "LANG": "C.UTF-8",
            "HOME": str(self.state_dir),
            **self.settings.get("hub_env", {}),  # e.g. CONDOR_CONFIG of a real pool
        }
        with open(log, "wb") as handle:
            self.process = subprocess.Popen(
                [str(VENV_BIN / "jupyterhub"), "-f", str(config)],
                cwd=self.state_dir, stdout=handle, stderr=subprocess.STDOUT, env=env,
                start_new_session=True,
            )
        wait_for(self._answers, 60, "the hub to answer")

    def _answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            pytest.fail(f"the hub exited: {self.log_tail()}")
        try:
            return requests.get(self.url + "/hub/api/", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM, as systemd would; with cleanup_servers = False notebooks stay."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None

    def log_text(self) -> str:
        return "".join(path.read_text(errors="replace") for path in self.log_files)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def api(self, method: str, path: str, token: str | None = None, **kwargs: Any):
        headers = {"Authorization": f"token {token}"} if token else self.admin
        return requests.request(method, self.url + "/hub/api" + path, headers=headers,
                                timeout=kwargs.pop("timeout", 30), **kwargs)

    def ensure_user(self, name: str) -> None:
        if self.api("GET", f"/users/{name}").status_code == 404:
            assert self.api("POST", f"/users/{name}").status_code == 201

    def user_token(self, name: str) -> str:
        reply = self.api("POST", f"/users/{name}/tokens", json={"note": "test"})
        assert reply.status_code == 201, reply.text
        return reply.json()["token"]

    def spawn(self, name: str, options: dict | None = None,
              on_message: Callable[[str], None] | None = None) -> list[str]:
        """Start the server and follow its progress; the messages, in order
        (`on_message` is called with each as it comes)."""
        reply = self.api("POST", f"/users/{name}/server", json=options or {})
        assert reply.status_code in (201, 202), reply.text
        messages: list[str] = []
        with self.api("GET", f"/users/{name}/server/progress", stream=True,
                      timeout=120) as stream:
            for line in stream.iter_lines(decode_unicode=True):
                if not line.startswith("data:"):
                    continue
                event = json.loads(line[5:])
                messages.append(event.get("message", "") or "")
                if on_message is not None:
                    on_message(messages[-1])
                if event.get("ready") or event.get("failed"):
                    break
        return messages

    def server(self, name: str) -> dict | None:
        """The server's model (with its spawner state), or None when stopped."""
        model = self.api("GET", f"/users/{name}").json()
        return model.get("servers", {}).get("")

    def state(self, name: str) -> dict:
        """JobwrapperSpawner.get_state() as the hub stored it."""
        server = self.server(name)
        return (server or {}).get("state") or {}

    def stop_server(self, name: str, timeout: float = 60) -> None:
        reply = self.api("DELETE", f"/users/{name}/server")
        assert reply.status_code in (202, 204), reply.text
        wait_for(lambda: self.server(name) is None, timeout, f"{name}'s server to stop")

    def ensure_stopped(self, name: str) -> None:
        """Stop the user's server if one runs (tests that spawn afresh start with it)."""
        if self.server(name) is not None:
            self.stop_server(name)

    def get_through_proxy(self, name: str, token: str) -> requests.Response:
        return requests.get(f"{self.url}/user/{name}/api/status",
                            headers={"Authorization": f"token {token}"}, timeout=10)


def isolate_jobs(hub: Hub, pool_bin: Path) -> None:
    """Run the pool's jobs in network namespaces that reach only this hub's API port
    (where iproute2 and root allow it): the hub reaches a job through the tunnel and
    nothing else."""
    from jobwrapper.localpool.admin import init_pool
    from jobwrapper.localpool.config import PoolLayout
    from jobwrapper.localpool.execute import netns

    isolated = netns.available()
    init_pool(PoolLayout(pool_bin.parent / "pool"), {
        "netns": str(isolated).lower(),
        "outbound_ports": str(hub.settings["hub_port"]) if isolated else "",
    })


def new_hub(state_dir: Path, pool_bin: Path, **overrides: Any) -> Hub:
    """A hub's settings: free ports, fresh tokens; not started."""
    settings = {
        "public_port": free_port(),
        "hub_port": free_port(),
        "proxy_api_port": free_port(),
        "proxy_token": secrets.token_hex(16),
        "admin_token": secrets.token_hex(16),
        "state_dir": str(state_dir),
        "bin": str(pool_bin),
        "job_executable": str(STANDIN_JOB),
        "poll_interval": 2,
    }
    settings.update(overrides)
    return Hub(state_dir=state_dir, settings=settings)


@contextlib.contextmanager
def local_pool(prefix: str, **settings: str) -> Iterator[Path]:
    """A local pool of its own (FAST_POOL, then `settings`); its shims' directory.
    Every job is removed and the pool deleted afterwards."""
    from jobwrapper.localpool.admin import init_pool, shutdown
    from jobwrapper.localpool.config import PoolLayout
    from jobwrapper.localpool.install import install_bin

    root = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(root, 0o755)
    layout = PoolLayout(root / "pool")
    init_pool(layout, {**FAST_POOL, **settings})
    install_bin(root / "bin", layout.root)
    try:
        yield root / "bin"
    finally:
        shutdown(layout, purge=True)
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def serving(prefix: str, pool_bin: Path, users: Sequence[str], *, isolate: bool = False,
            **overrides: Any) -> Iterator[Hub]:
    """A started hub (new_hub's settings with `overrides`) that knows `users`; their
    servers stopped, the hub stopped and its state dir removed afterwards (kept with
    JWHUB_KEEP_STATE, for the logs). `isolate`: jobs in network namespaces."""
    state_dir = Path(tempfile.mkdtemp(prefix=prefix))
    running = new_hub(state_dir, pool_bin, **overrides)
    if isolate:
        isolate_jobs(running, pool_bin)
    running.start()
    try:
        for name in users:
            running.ensure_user(name)
        yield running
    finally:
        for name in users:
            if running.process is not None and running.server(name) is not None:
                running.api("DELETE", f"/users/{name}/server")
        running.stop()
        if not os.environ.get("JWHUB_KEEP_STATE"):
            shutil.rmtree(state_dir, ignore_errors=True)


# The opt-in tests against a real HTCondor: JWHUB_REAL_CONDOR=/opt/htcondor (its release
# dir, a running pool), as root.
REAL_CONDOR = os.environ.get("JWHUB_REAL_CONDOR", "")
needs_real_condor = pytest.mark.skipif(
    not REAL_CONDOR or not Path(REAL_CONDOR, "bin", "condor_q").exists(),
    reason="JWHUB_REAL_CONDOR=/opt/htcondor (a running HTCondor) not set")


def real_condor_env() -> dict[str, str]:
    """The environment for the real HTCondor's commands."""
    return {**os.environ, "CONDOR_CONFIG": f"{REAL_CONDOR}/etc/condor_config",
            "PATH": f"{REAL_CONDOR}/bin:{REAL_CONDOR}/sbin:{os.environ['PATH']}"}


def run_as(user: str | None, *argv: str) -> subprocess.CompletedProcess:
    """Run a command (e.g. a condor_* shim) as `user`, or as root when None."""
    prefix = ["runuser", "-u", user, "--"] if user else []
    return subprocess.run([*prefix, *argv], capture_output=True, text=True, timeout=30,
                          check=False)


def jobwrapper_for(user: str) -> str:
    """JWHUB_REAL_JOBWRAPPER, else this venv's jobwrapper if `user` can run it; "" if not."""
    candidate = os.environ.get("JWHUB_REAL_JOBWRAPPER") or str(VENV_BIN / "jobwrapper")
    probe = subprocess.run(["runuser", "-u", user, "--", candidate, "--version"],
                           capture_output=True, timeout=60, check=False)
    return candidate if probe.returncode == 0 else ""


def home(user: str) -> Path:
    import pwd

    return Path(pwd.getpwnam(user).pw_dir)


def server_token(user: str) -> str:
    """The server's own API token, from the hub-side secrets file (as the job has it)."""
    path = home(user) / ".jupyterhub-condor" / "default" / ".jobwrapper-hub-secrets.json"
    return json.loads(path.read_text())["JUPYTERHUB_API_TOKEN"]


def files_containing(text: str, *roots: Path) -> list[Path]:
    """Every regular file under `roots` whose bytes contain `text`."""
    found = []
    needle = text.encode()
    for root in roots:
        paths = [root] if root.is_file() else root.rglob("*")
        for path in paths:
            try:
                if path.is_file() and not path.is_symlink() and needle in path.read_bytes():
                    found.append(path)
            except OSError:
                continue
    return found


def command_lines_containing(text: str) -> list[str]:
    """Command lines of running processes that contain `text`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if text in cmdline:
                found.append(cmdline)
    return found


def process_gone(pid: int) -> bool:
    """True when `pid` has exited (a zombie not yet reaped counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def environments_of(word: str) -> dict[int, bytes]:
    """The environment blocks of running processes whose command line contains `word`."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if word.encode() in (entry / "cmdline").read_bytes():
                    found[int(entry.name)] = (entry / "environ").read_bytes()
            except OSError:
                continue
    return found
