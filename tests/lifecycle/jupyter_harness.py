"""A real jupyter server for tests: started with our extensions, always cleaned up.

Every process of the server's tree carries ``JOBWRAPPER_TEST_MARK`` in its
environment, so a test can prove that none is left behind (``marked_processes``).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import requests
import websocket
from polling import wait_until

from jobwrapper.inserver import proctree

VENV_BIN = Path(sys.executable).parent
SERVER_CONFIG = {
    "ServerApp": {
        "jpserver_extensions": {
            "jobwrapper.inserver.lifecycle": True,
            "jupyter_server_proxy": True,
            "jupyter_lsp": False,  # not needed here; faster starts
            "notebook_shim": False,
        },
        "allow_root": True,  # the test containers run as root
        "terminado_settings": {"shell_command": ["/bin/bash", "--norc", "-i"]},
    }
}


@dataclass
class RunningServer:
    """A started server: its process, URL, token, notebook dir and log."""

    process: subprocess.Popen
    url: str
    token: str
    root: Path
    runtime_dir: Path
    log_path: Path
    mark: str

    def api(self, method: str, path: str, **kwargs: object) -> requests.Response:
        """An authenticated request to the server."""
        headers = {"Authorization": f"token {self.token}"}
        return requests.request(method, self.url + path, headers=headers, timeout=30, **kwargs)

    def log(self) -> str:
        """What the server wrote so far."""
        return self.log_path.read_text(errors="replace")

    def terminal(self) -> Terminal:
        """A new terminal, connected over its websocket."""
        name = self.api("POST", "api/terminals").json()["name"]
        ws_url = self.url.replace("http://", "ws://") + f"terminals/websocket/{name}"
        socket = websocket.create_connection(
            ws_url, header=[f"Authorization: token {self.token}"], timeout=20
        )
        return Terminal(socket)

    def start_kernel(self) -> tuple[str, Path]:
        """Start a python3 kernel; returns its id and connection file."""
        kernel_id = self.api("POST", "api/kernels", json={"name": "python3"}).json()["id"]
        return kernel_id, self.runtime_dir / f"kernel-{kernel_id}.json"


class Terminal:
    """A terminal's websocket: type lines, wait for output."""

    def __init__(self, socket: websocket.WebSocket) -> None:
        self.socket = socket
        self.output = ""

    def type(self, line: str) -> None:
        """Send ``line`` and Enter."""
        self.socket.send(json.dumps(["stdin", line + "\r"]))

    def wait_for(self, text: str, timeout: float = 20) -> str:
        """Read output until ``text`` shows up; returns all output so far."""
        deadline = time.monotonic() + timeout
        while text not in self.output:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{text!r} not in terminal output: {self.output[-2000:]!r}")
            self.socket.settimeout(left)
            try:
                message = json.loads(self.socket.recv())
            except (websocket.WebSocketTimeoutException, websocket.WebSocketException):
                continue
            if message[0] == "stdout":
                self.output += message[1]
        return self.output

    def close(self) -> None:
        """Close the websocket (the terminal keeps running in the server)."""
        with contextlib.suppress(Exception):
            self.socket.close()


def marked_processes(mark: str) -> list[int]:
    """Processes whose environment holds ``JOBWRAPPER_TEST_MARK=mark``."""
    needle = f"JOBWRAPPER_TEST_MARK={mark}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as environ:
                if needle in environ.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:
            continue
    return [pid for pid in found if _state(pid) not in ("Z", None)]


def _state(pid: int) -> Optional[str]:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def wait_all_gone(server: RunningServer, timeout: float) -> float:
    """Wait until the server and every process it started are gone; on failure, say
    what is left and what the server logged."""

    def gone() -> bool:
        return server.process.poll() is not None and not marked_processes(server.mark)

    try:
        return wait_until(gone, timeout, "server and all its processes gone")
    except AssertionError as error:
        left = {pid: _cmdline(pid) for pid in marked_processes(server.mark)}
        raise AssertionError(f"{error}; left: {left}\n{server.log()[-4000:]}") from None


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:120]
    except OSError:
        return "?"


def write_site_config(path: Path, text: str) -> Path:
    """Write a site config file and return its path."""
    path.write_text(text)
    return path


@contextlib.contextmanager
def jupyter_server(
    tmp_path: Path,
    site_config: str = "",
    extra_env: Optional[dict[str, str]] = None,
    app: str = "jupyter-server",
    extra_args: tuple[str, ...] = (),
) -> Iterator[RunningServer]:
    """Start ``app`` on 127.0.0.1 with our extensions; kill its whole tree afterwards."""
    base = tmp_path / "server"
    for name in ("root", "runtime", "config", "data"):
        (base / name).mkdir(parents=True, exist_ok=True)
    # The runtime dir holds the desktop's and VS Code's sockets: short (pytest's tmp_path
    # is too long for a socket path, and they would go to /tmp and stay), 0700, removed.
    xdg = Path(tempfile.mkdtemp(prefix="jwx-", dir="/tmp"))
    (base / "config" / "jupyter_server_config.json").write_text(json.dumps(SERVER_CONFIG))
    token, mark = secrets.token_hex(16), uuid.uuid4().hex
    env = dict(os.environ)
    env.update(
        {
            "JUPYTER_TOKEN": token,
            "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
            "JUPYTER_CONFIG_DIR": str(base / "config"),
            "JUPYTER_DATA_DIR": str(base / "data"),
            "IPYTHONDIR": str(base / "ipython"),
            "XDG_RUNTIME_DIR": str(xdg),
            "JOBWRAPPER_CONFIG": str(write_site_config(base / "site.toml", site_config)),
            "JOBWRAPPER_TEST_MARK": mark,
            "PATH": f"{VENV_BIN}:{env.get('PATH', '/usr/bin:/bin')}",
            "SHELL": "/bin/bash",
        }
    )
    env.pop("JOBWRAPPER_RUNTIME_END", None)
    env.update(extra_env or {})
    argv = [
        str(VENV_BIN / app),
        "--ServerApp.ip=127.0.0.1",
        "--ServerApp.port=0",
        "--ServerApp.open_browser=False",
        f"--ServerApp.root_dir={base / 'root'}",
        *extra_args,
    ]
    log_path = base / "server.log"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            argv,
            env=env,
            cwd=base / "root",
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = RunningServer(process, "", token, base / "root", base / "runtime", log_path, mark)
    try:
        server.url = _wait_for_url(server)
        yield server
    finally:
        leftovers = _kill_everything(process, mark)
        shutil.rmtree(xdg, ignore_errors=True)
        if leftovers and sys.exc_info()[0] is None:
            raise AssertionError(f"processes survived the test's cleanup: {leftovers}")


def _wait_for_url(server: RunningServer, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    info = server.runtime_dir / f"jpserver-{server.process.pid}.json"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"server exited early:\n{server.log()}")
        if info.exists():
            with contextlib.suppress(ValueError, OSError):
                data = json.loads(info.read_text())
                url = data["url"].rstrip("/") + "/"
                with contextlib.suppress(requests.RequestException):
                    if requests.get(
                        url + "api/status",
                        timeout=2,
                        headers={"Authorization": f"token {server.token}"},
                    ).ok:
                        return url
        time.sleep(0.1)
    raise AssertionError(f"server did not answer within {timeout} s:\n{server.log()}")


def _kill_everything(process: subprocess.Popen, mark: str) -> list[int]:
    """SIGKILL the server, its group, its tree and anything else carrying our mark."""
    tree = [process.pid, *proctree.descendants(process.pid)] if process.poll() is None else []
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    proctree.signal_all([*tree, *marked_processes(mark)], signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)
    deadline = time.monotonic() + 5
    while marked_processes(mark) and time.monotonic() < deadline:
        proctree.signal_all(marked_processes(mark), signal.SIGKILL)
        time.sleep(0.05)
    return marked_processes(mark)
