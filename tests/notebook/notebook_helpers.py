"""Helpers for the notebook tests: wait with a deadline, run jobwrapper, servers, a fake hub."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Optional

import pytest
from polling import wait_for

REPO = Path(__file__).resolve().parents[2]
JOBADS = Path(__file__).resolve().parents[1] / "jobads" / "notebook"
JOBWRAPPER = str(Path(sys.executable).parent / "jobwrapper")
LMOD_CMD = "/usr/share/lmod/lmod/libexec/lmod"
needs_lmod = pytest.mark.skipif(not os.path.exists(LMOD_CMD), reason="Debian's lmod missing")


def run_jobwrapper(args: list[str], environ: dict[str, str], cwd: Optional[Path] = None,
                   timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([JOBWRAPPER, *args], env=environ, capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, check=False)


class Server:
    """A jobwrapper server process in its own process group, with its output files."""

    def __init__(self, process: subprocess.Popen, stdout: Path, stderr: Path) -> None:
        self.process, self.stdout_path, self.stderr_path = process, stdout, stderr

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        # Kernels and anything else left in the group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


def group_alive(pgid: int) -> list[int]:
    """PIDs still in process group ``pgid``."""
    alive = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(int(entry))
    return alive


class FakeHub:
    """A tiny hub on 127.0.0.1: answers the version check, records every POST, and
    answers POSTs to /hub/api/batchspawner with ``status``."""

    def __init__(self, status: int = 200, silent: Optional[threading.Event] = None) -> None:
        self.requests: list[dict[str, object]] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = json.dumps({"version": "6.1.1"}).encode()
                self.send_response(200)
                self.send_header("X-JupyterHub-Version", "6.1.1")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                hub.requests.append({"path": self.path, "body": json.loads(body or b"null"),
                                     "authorization": self.headers.get("Authorization")})
                code = status if self.path.endswith("/batchspawner") else 200
                if silent is not None and self.path.endswith("/batchspawner"):
                    silent.wait(30)  # a hub that never answers, until the test ends
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def reports(self) -> list[dict[str, object]]:
        """The requests to the batchspawner API."""
        return [r for r in self.requests if str(r["path"]).endswith("/batchspawner")]

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hub/api"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()




def make_job(base: Path, config_text: str) -> dict[str, str]:
    """A scratch dir under ``base`` with the notebook job's ads, and its environment."""
    import shutil

    from jobfixtures import copy_job_ad

    scratch = base / "scratch"
    scratch.mkdir(parents=True)
    copy_job_ad(JOBADS / "job.ad", scratch / ".job.ad")
    shutil.copy(JOBADS / "machine.ad", scratch / ".machine.ad")
    (base / "config.toml").write_text(config_text)
    (base / "home").mkdir(exist_ok=True)
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith(("JUPYTER", "LMOD", "MODULE", "_CONDOR", "JOBWRAPPER"))}
    environ.update({
        "_CONDOR_SCRATCH_DIR": str(scratch),
        "_CONDOR_JOB_AD": str(scratch / ".job.ad"),
        "_CONDOR_MACHINE_AD": str(scratch / ".machine.ad"),
        "JOBWRAPPER_CONFIG": str(base / "config.toml"),
        "HOME": str(base / "home"),
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
    })
    return environ


def site_config_text(module_tree: Path, venv: Path) -> str:
    """Environment 'stable' on Rocky9: the physics module and the venv."""
    return f"""
[lmod]
modulepath = ["{module_tree}"]
[environments.stable.os.Rocky9]
modules = ["physics"]
venv = "{venv}"
description = "test stack"
[jupyterlab.disabled_extensions]
Rocky9 = ["@jupyterlab/extensionmanager-extension"]
"""


def root_args() -> list[str]:
    """jupyter-server refuses to run as root unless told; the tests may run as root."""
    return ["--", "--allow-root"] if os.getuid() == 0 else []


@contextlib.contextmanager
def running_lab(base: Path, config_text: str) -> Iterator[tuple[Server, Path, int, str]]:
    """A real `jobwrapper lab` in a job under ``base``: (server, scratch, port, token)
    once /api answers; always stopped afterwards."""
    import re

    environ = make_job(base, config_text)
    scratch = Path(environ["_CONDOR_SCRATCH_DIR"])
    out, err = base / "lab.out", base / "lab.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen([JOBWRAPPER, "lab", *root_args()], env=environ,
                                   stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL,
                                   start_new_session=True, cwd=scratch)
    server = Server(process, out, err)
    try:
        match = wait_for(lambda: re.search(r"127\.0\.0\.1:(\d+)", server.stdout), 60,
                         "lab message", process)
        port = int(match.group(1))
        token = (scratch / ".jobwrapper" / "lab-token").read_text().strip()
        wait_for(lambda: http_get(f"http://127.0.0.1:{port}/api")[0] == 200, 90,
                 "/api answers", process)
        yield server, scratch, port, token
    finally:
        server.stop()
        assert os.path.exists(out)


def http_get(url: str, token: Optional[str] = None, timeout: float = 5) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"token {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""
