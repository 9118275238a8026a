"""The Slurm tunnel's stream bridge (jobwrapper/stepbridge.py), both ends as processes:
the hub side starts the job side directly here (srun starts it on a real Slurm:
tests/slurm/test_slurm_hub.py)."""

from __future__ import annotations

import os
import socket
import socketserver
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from polling import wait_for

BRIDGE = str(Path(__file__).resolve().parents[1] / "jobwrapper" / "stepbridge.py")


class Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while True:
            data = self.request.recv(65536)
            if not data:
                self.request.shutdown(socket.SHUT_WR)
                return
            self.request.sendall(data)


class TCPEcho(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class UnixEcho(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True


@pytest.fixture
def echo_port():
    server = TCPEcho(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_hub(listen: list[str], job: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-I", BRIDGE, "hub", *listen, "--",
                             sys.executable, "-I", BRIDGE, "job", *job],
                            stderr=subprocess.PIPE, text=True)


def connect_tcp(port: int) -> socket.socket | None:
    try:
        return socket.create_connection(("127.0.0.1", port), timeout=5)
    except OSError:
        return None


def round_trip(conn: socket.socket, payload: bytes) -> bytes:
    conn.sendall(payload)
    conn.shutdown(socket.SHUT_WR)
    received = bytearray()
    while chunk := conn.recv(65536):
        received += chunk
    conn.close()
    return bytes(received)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=10)


def test_a_connection_reaches_the_server_and_back_byte_for_byte(echo_port):
    port = free_port()
    hub = start_hub(["--listen-port", str(port)], ["--port", str(echo_port)])
    try:
        conn = wait_for(lambda: connect_tcp(port), 10, "the hub port", process=hub)
        payload = os.urandom(3 * 1024 * 1024)  # several frames
        assert round_trip(conn, payload) == payload
    finally:
        stop(hub)


def test_concurrent_connections_stay_apart(echo_port):
    port = free_port()
    hub = start_hub(["--listen-port", str(port)], ["--port", str(echo_port)])
    try:
        wait_for(lambda: connect_tcp(port), 10, "the hub port", process=hub).close()
        payloads = [bytes([n]) * (200_000 + n) for n in range(8)]
        results: dict[int, bytes] = {}

        def one(n: int) -> None:
            results[n] = round_trip(connect_tcp(port), payloads[n])  # type: ignore[arg-type]

        threads = [threading.Thread(target=one, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert [results.get(n) == payloads[n] for n in range(8)] == [True] * 8
    finally:
        stop(hub)


def test_unix_sockets_at_both_ends_and_the_hub_socket_is_the_users_only(tmp_path):
    job_socket = str(tmp_path / "server.sock")
    server = UnixEcho(job_socket, Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hub_socket = str(tmp_path / "hub.sock")
    hub = start_hub(["--listen-socket", hub_socket], ["--socket", job_socket])
    try:
        wait_for(lambda: os.path.exists(hub_socket), 10, "the hub socket", process=hub)
        assert stat.S_IMODE(os.stat(hub_socket).st_mode) == 0o600
        conn = socket.socket(socket.AF_UNIX)
        conn.connect(hub_socket)
        assert round_trip(conn, b"GET / HTTP/1.0\r\n\r\n") == b"GET / HTTP/1.0\r\n\r\n"
    finally:
        stop(hub)
        server.shutdown()


def test_without_the_job_sides_hello_the_hub_never_listens(tmp_path):
    port = free_port()
    hub = subprocess.Popen([sys.executable, "-I", BRIDGE, "hub", "--listen-port", str(port),
                            "--", "sh", "-c", "echo not a bridge; exit 3"],
                           stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    _, err = hub.communicate(timeout=20)
    assert (hub.returncode, err) == (1, "stepbridge: the job side did not answer (is the job "
                                        "running, and is jobwrapper in it?)\n")
    assert connect_tcp(port) is None


def test_when_the_step_ends_the_hub_side_ends_and_removes_its_socket(tmp_path, echo_port):
    hub_socket = str(tmp_path / "hub.sock")
    hub = start_hub(["--listen-socket", hub_socket], ["--port", str(echo_port)])
    wait_for(lambda: os.path.exists(hub_socket), 10, "the hub socket", process=hub)
    children = subprocess.run(["pgrep", "-P", str(hub.pid)], capture_output=True, text=True)
    for pid in children.stdout.split():
        os.kill(int(pid), 9)
    assert hub.wait(timeout=10) == 1
    assert not os.path.exists(hub_socket)


def test_a_connection_to_a_server_that_is_gone_is_closed(tmp_path):
    port = free_port()
    hub = start_hub(["--listen-port", str(port)], ["--port", str(free_port())])
    try:
        conn = wait_for(lambda: connect_tcp(port), 10, "the hub port", process=hub)
        conn.settimeout(10)  # a connection left open would time out here
        assert conn.recv(10) == b""
        assert hub.poll() is None  # the tunnel itself stays up for the next connection
    finally:
        stop(hub)


def run_bridge(tmp_path, *args: str) -> subprocess.CompletedProcess:
    from fixtures.jobemu import base_environ, run_cli

    return run_cli(["bridge", *args], base_environ(tmp_path))


def test_the_job_end_wants_exactly_one_target_in_one_line(tmp_path):
    result = run_bridge(tmp_path, "--port", "8888", "--socket", "/x")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == (
        "Error: give exactly one of --port and --socket")


def test_the_job_end_refuses_a_socket_the_hub_would_refuse_in_one_line(tmp_path):
    result = run_bridge(tmp_path, "--socket", "/tmp/x.sock")
    assert (result.returncode, result.stderr.count("\n")) == (6, 1)
    assert result.stderr.startswith("jobwrapper: --socket '/tmp/x.sock': socket path must")
