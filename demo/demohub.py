"""JupyterHub with the demo config: start, REST calls, spawn, stop; and stopping everything.

``Hub`` is one JupyterHub process (demo/jupyterhub_config.py) for a prepared ``Demo``
(demolib.py); several may share one demo (bench/spawn_latency compares two spawners).
``stop_everything`` stops servers, hub, proxy and any job left in the local pool.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Optional

from demolib import DEMO_DIR, PYTHON, VENV, Demo, default_users, demo_password, free_port, run


def kept_ports(hub_dir: Path) -> dict[str, int]:
    """The hub's API port and the proxy's API port, chosen once and kept in the hub's
    dir: running notebooks keep JUPYTERHUB_API_URL, and the proxy (which outlives a hub
    restart) keeps its API port, so a restarted hub is the same hub to both."""
    path = hub_dir / "ports.json"
    with contextlib.suppress(OSError, ValueError):
        ports = json.loads(path.read_text())
        if isinstance(ports.get("hub"), int) and isinstance(ports.get("proxy_api"), int):
            return ports
    ports = {"hub": free_port(), "proxy_api": free_port()}
    path.write_text(json.dumps(ports))
    path.chmod(0o600)
    return ports


def proxy_token(hub_dir: Path) -> str:
    """The hub-proxy token; kept in the hub's dir so a restarted hub finds its proxy."""
    path = hub_dir / "proxy_token"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


@dataclasses.dataclass
class Hub:
    """One JupyterHub process with the demo config; ``url`` is the public proxy URL."""

    demo: Demo
    port: int = 8000
    spawner: str = "jobwrapper"
    users: tuple[str, ...] = dataclasses.field(default_factory=default_users)
    extra_env: dict[str, str] = dataclasses.field(default_factory=dict)
    token: str = dataclasses.field(default_factory=lambda: secrets.token_hex(24))
    name: str = ""
    """Several hubs may share one demo (bench/spawn_latency): each has its own dir."""
    process: Optional[subprocess.Popen] = None

    @property
    def hub_dir(self) -> Path:
        path = self.demo.hub_dir / self.name if self.name else self.demo.hub_dir
        path.mkdir(mode=0o700, exist_ok=True)
        return path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def hub_port(self) -> int:
        """The hub's API port (kept across restarts; see kept_ports)."""
        return int(self.extra_env.get("JOBWRAPPER_DEMO_HUB_PORT") or
                   kept_ports(self.hub_dir)["hub"])

    def restart(self) -> None:
        """Stop and start JupyterHub only: proxy, jobs and tunnels keep running."""
        self.stop()
        self.start()

    @property
    def log_path(self) -> Path:
        return self.demo.state / (f"hub-{self.name}.log" if self.name else "hub.log")

    def environment(self) -> dict[str, str]:
        ports = kept_ports(self.hub_dir)
        env = {
            **os.environ,
            "PATH": f"{self.demo.bin_dir}:{VENV / 'bin'}:{os.environ.get('PATH', '')}",
            "JOBWRAPPER_DEMO_STATE": str(self.demo.state),
            "JOBWRAPPER_DEMO_PORT": str(self.port),
            "JOBWRAPPER_DEMO_HUB_PORT": str(ports["hub"]),
            "JOBWRAPPER_DEMO_PROXY_API_PORT": str(ports["proxy_api"]),
            "JOBWRAPPER_DEMO_SPAWNER": self.spawner,
            "JOBWRAPPER_DEMO_USERS": ",".join(self.users),
            "JOBWRAPPER_DEMO_PASSWORD": demo_password(self.demo),
            "JOBWRAPPER_DEMO_API_TOKEN": self.token,
            "JOBWRAPPER_DEMO_PROXY_TOKEN": proxy_token(self.hub_dir),
            "JOBWRAPPER_DEMO_HUB_DIR": str(self.hub_dir),
            **self.extra_env,
        }
        return env

    def start(self, timeout: float = 60.0) -> None:
        """Start JupyterHub and wait until its API answers."""
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the process
        env = self.environment()
        self.process = subprocess.Popen(
            [str(VENV / "bin" / "jupyterhub"), "-f", str(DEMO_DIR / "jupyterhub_config.py")],
            cwd=self.hub_dir, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                last = self.log_path.read_text(errors="replace").strip().splitlines()[-3:]
                raise RuntimeError(f"JupyterHub exited ({self.process.returncode}); see "
                                   f"{self.log_path}; it ended with: {' | '.join(last)}")
            with contextlib.suppress(OSError):
                if self.api("GET", "/")[0] == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"JupyterHub did not answer in {timeout:.0f} s; see hub.log")

    def api(self, method: str, path: str, body: Any = None,
            timeout: float = 30.0) -> tuple[int, Any]:
        """Call the hub's REST API with the demo's admin token: (status, JSON or None)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - always http://127.0.0.1
            f"{self.url}/hub/api{path}", data=data, method=method,
            headers={"Authorization": f"token {self.token}",
                     "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                return error.code, json.loads(raw) if raw else None
            except ValueError:
                return error.code, raw.decode(errors="replace")

    def stop_servers(self, timeout: float = 60.0) -> None:
        """Stop every user's server through the API and wait until none is left."""
        status, users = self.api("GET", "/users")
        if status != 200:
            return
        for user in users:
            for name in user.get("servers", {}):
                self.api("DELETE", f"/users/{user['name']}/servers/{name}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, users = self.api("GET", "/users")
            if status != 200 or not any(u.get("servers") for u in users):
                return
            time.sleep(0.2)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop JupyterHub (SIGTERM, then SIGKILL); servers and proxy keep running."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def lab_answers(hub: Hub, user: str, timeout: float = 10.0) -> bool:
    """True when JupyterLab answers 200 for ``user`` through the proxy."""
    request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 only
        f"{hub.url}/user/{user}/lab", headers={"Authorization": f"token {hub.token}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def spawn_until_lab(hub: Hub, user: str, options: Optional[dict[str, Any]] = None,
                    timeout: float = 120.0, poll: float = 0.05) -> float:
    """Seconds from the REST spawn call until /user/USER/lab answers 200 via the proxy.

    Waits for the spawn's progress stream to say ready (no polling of a busy hub),
    then for JupyterLab to answer.
    """
    started = time.monotonic()
    body = {"user_options": options} if options is not None else None
    status, answer = hub.api("POST", f"/users/{user}/server", body, timeout=timeout)
    if status not in (201, 202):
        raise RuntimeError(f"spawning {user} failed: HTTP {status}: {answer}")
    if status == 202:
        wait_for_progress(hub, user, timeout - (time.monotonic() - started))
    while time.monotonic() - started < timeout:
        if lab_answers(hub, user):
            return time.monotonic() - started
        time.sleep(poll)
    raise RuntimeError(f"{user}'s JupyterLab did not answer within {timeout:.0f} s")


def wait_for_progress(hub: Hub, user: str, timeout: float) -> None:
    """Read USER's progress event stream until it says ready; raise if it says failed."""
    request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 only
        f"{hub.url}/hub/api/users/{user}/server/progress",
        headers={"Authorization": f"token {hub.token}", "Accept": "text/event-stream"})
    with urllib.request.urlopen(request, timeout=max(timeout, 1.0)) as stream:  # noqa: S310
        for raw in stream:
            line = raw.decode(errors="replace").strip()
            if not line.startswith("data:"):
                continue
            event = json.loads(line[5:])
            if event.get("failed"):
                raise RuntimeError(f"spawning {user} failed: {event.get('message')}")
            if event.get("ready"):
                return


def stop_server(hub: Hub, user: str, timeout: float = 60.0) -> None:
    """Stop USER's server and wait until the hub reports none."""
    hub.api("DELETE", f"/users/{user}/server", timeout=timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, model = hub.api("GET", f"/users/{user}")
        if status != 200 or not model.get("servers"):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{user}'s server did not stop within {timeout:.0f} s")


def stop_proxy(hub_dir: Path) -> None:
    """Stop configurable-http-proxy, which outlives hub restarts by design."""
    pid_file = hub_dir / "proxy.pid"
    with contextlib.suppress(OSError, ValueError):
        pid = int(pid_file.read_text().strip())
        os.kill(pid, signal.SIGTERM)
        for _ in range(50):
            os.kill(pid, 0)
            time.sleep(0.1)
    with contextlib.suppress(OSError):
        pid_file.unlink()


def leftovers(demo: Demo) -> tuple[int, int]:
    """(jobs in the local pool's queue, condor_ssh_to_job processes of this demo)."""
    queue = run([demo.bin_dir / "condor_q", "-all", "-af", "ClusterId"]).stdout.split()
    tunnels = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            if any(b"condor_ssh_to_job" in part for part in argv[:3]) and \
                    str(demo.bin_dir).encode() in b" ".join(argv):
                tunnels += 1
    return len(queue), tunnels


def stop_everything(hub: Hub) -> tuple[int, int]:
    """Servers, hub, proxy, then any job still queued; returns the leftovers found first."""
    with contextlib.suppress(OSError):
        if hub.process is not None and hub.process.poll() is None:
            hub.stop_servers()
    hub.stop()
    stop_proxy(hub.hub_dir)
    found = leftovers(hub.demo)
    run([PYTHON, "-m", "jobwrapper.localpool", "shutdown", "--pool-dir", hub.demo.pool_dir])
    return found


