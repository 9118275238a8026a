"""Socket mode in the job: the server listens on a unix socket in the 0700 private dir,
kernels talk over ipc, the hub is told the socket's path, and nothing listens on TCP
but the one port ipykernel keeps for subprocess output."""

from __future__ import annotations

import http.client
import json
import socket
import stat
import sys
from pathlib import Path

from notebook_helpers import needs_lmod, root_args, wait_for
from test_singleuser_hub import TOKEN, _hub_job

from jobwrapper.protocol import job_socket_problem

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from listeners import descendants, tcp_listeners

pytestmark = needs_lmod


class UnixConnection(http.client.HTTPConnection):
    """HTTP over a unix socket, as the proxy talks to the server in socket mode."""

    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=10)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(self.path)


def unix_request(path: str, method: str, url: str, token: str = "",
                 body: object = None) -> tuple[int, bytes]:
    connection = UnixConnection(path)
    headers = {"Authorization": f"token {token}"} if token else {}
    connection.request(method, url, body=None if body is None else json.dumps(body),
                       headers=headers)
    reply = connection.getresponse()
    return reply.status, reply.read()


def _socket_dir_is_private(path: Path) -> None:
    assert stat.S_ISSOCK(path.lstat().st_mode)
    assert stat.S_IMODE(path.lstat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.lstat().st_mode) == 0o700


def test_singleuser_in_socket_mode_reports_its_socket_and_has_no_tcp_listener(
        job_environ, start_server, fake_hub) -> None:
    hub = fake_hub(200)
    environ = {**_hub_job(job_environ, hub.api_url), "JOBWRAPPER_SERVER_MODE": "socket"}
    server = start_server(["singleuser", *root_args()], environ)
    report = wait_for(hub.reports, 90, "socket report", server.process)[0]
    scratch = Path(environ["_CONDOR_SCRATCH_DIR"])
    assert report["body"] == {"socket": str(scratch / ".jobwrapper/sockets/server.sock")}
    assert report["authorization"] == f"token {TOKEN}"
    path = report["body"]["socket"]
    assert job_socket_problem(path) is None
    _socket_dir_is_private(Path(path))
    status, body = unix_request(path, "GET", "/user/alice/api")
    assert status == 200 and b"version" in body
    assert tcp_listeners(descendants(server.process.pid)) == []


def test_a_hub_asking_for_an_unknown_mode_is_an_error(job_environ, fake_hub) -> None:
    from notebook_helpers import run_jobwrapper

    environ = {**_hub_job(job_environ, fake_hub(200).api_url),
               "JOBWRAPPER_SERVER_MODE": "udp"}
    result = run_jobwrapper(["singleuser"], environ)
    assert result.returncode == 6
    assert "JOBWRAPPER_SERVER_MODE='udp'" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_socket_mode_refuses_a_scratch_dir_the_hub_would_refuse(tmp_path, module_tree,
                                                                 cvmfs_venv, fake_hub) -> None:
    from notebook_helpers import make_job, run_jobwrapper, site_config_text

    upper = tmp_path / "Upper"
    upper.mkdir()
    environ = make_job(upper, site_config_text(module_tree, cvmfs_venv))
    environ = {**_hub_job(environ, fake_hub(200).api_url), "JOBWRAPPER_SERVER_MODE": "socket"}
    result = run_jobwrapper(["singleuser"], environ)
    assert result.returncode == 6
    assert "lower-case" in result.stderr and "server.mode" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_lab_in_socket_mode_runs_kernels_over_ipc(tmp_path, module_tree, cvmfs_venv,
                                                   start_server) -> None:
    from notebook_helpers import make_job, site_config_text

    text = site_config_text(module_tree, cvmfs_venv) + '[server]\nmode = "socket"\n'
    environ = make_job(tmp_path, text)
    server = start_server(["lab", *root_args()], environ)
    scratch = Path(environ["_CONDOR_SCRATCH_DIR"])
    path = str(scratch / ".jobwrapper/sockets/server.sock")
    token_file = scratch / ".jobwrapper" / "lab-token"
    wait_for(lambda: token_file.exists() and Path(path).exists(), 90, "the lab's socket",
             server.process)
    assert f"-L 8888:{path}\"" in server.stdout
    token = token_file.read_text().strip()

    def answers() -> bool:
        try:
            return unix_request(path, "GET", "/api/status", token)[0] == 200
        except OSError:
            return False

    wait_for(answers, 90, "the lab to answer on its socket", server.process)
    status, body = unix_request(path, "POST", "/api/kernels", token, {"name": "python3"})
    assert status == 201, body
    kernel_id = json.loads(body)["id"]
    runtime = scratch / ".jobwrapper" / "runtime" / "jupyter"
    connection = json.loads((runtime / f"kernel-{kernel_id}.json").read_text())
    assert connection["transport"] == "ipc"
    assert connection["ip"] == str(scratch / ".jobwrapper" / "k" / kernel_id.replace("-", "")[:12])

    def kernel_ready() -> list[int]:
        return [p for p in descendants(server.process.pid) if p != server.process.pid]

    wait_for(kernel_ready, 30, "the kernel process", server.process)
    listeners = tcp_listeners(descendants(server.process.pid))
    # ipykernel keeps one TCP port on 127.0.0.1 for its subprocess output; nothing else.
    assert len(listeners) <= 1 and all(pid != server.process.pid for pid, _ in listeners)
    _socket_dir_is_private(Path(path))
