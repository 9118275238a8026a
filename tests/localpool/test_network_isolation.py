"""netns = true: jobs cannot be reached directly, yet reach the hub's port and forwards work."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from jobwrapper.localpool.execute import netns

from .helpers import PYTHON, Pool, user_dir, wait_for
from .test_ssh_to_job import _echo_through, _port_open, _start_forward, _stop, free_port

pytestmark = pytest.mark.skipif(not netns.available(), reason="no network namespaces here")

# Asks the "hub" (a host-side echo server) through the outbound relay, records the
# interfaces it sees, then serves an echo server on the job's own 127.0.0.1:PORT.
JOB = """
import os, socket, sys
hub_port, own_port = int(sys.argv[1]), int(sys.argv[2])
with socket.create_connection(("127.0.0.1", hub_port)) as hub:
    hub.sendall(b"hello hub")
    hub.shutdown(socket.SHUT_WR)
    reply = hub.recv(100)
with open("outbound.txt", "wb") as handle:
    handle.write(reply)
with open("ifaces.txt", "w") as handle:
    handle.write(" ".join(sorted(name for _, name in socket.if_nameindex())))
server = socket.create_server(("127.0.0.1", own_port))
open("listening", "w").close()
while True:
    connection, _ = server.accept()
    data = connection.recv(100)
    connection.sendall(b"echo:" + data)
    connection.close()
"""


@pytest.fixture
def hub_port():
    """A host-side echo server standing in for the hub's API."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            with connection:
                connection.sendall(b"hub says: " + connection.recv(100))

    threading.Thread(target=serve, daemon=True).start()
    yield port
    server.close()


def isolated_job(make_pool, hub_port: int, user: str | None) -> tuple[Pool, int, Path, int]:
    pool = make_pool(netns="true", outbound_ports=str(hub_port))
    submit = user_dir(pool, user) if user else pool.root / "submit"
    submit.mkdir(exist_ok=True)
    (submit / "job.py").write_text(JOB)
    own_port = free_port()
    description = (f"executable = {PYTHON}\narguments = job.py {hub_port} {own_port}\n"
                   "should_transfer_files = NO\nqueue\n")
    cluster = pool.submit(description, submit, user=user)
    wait_for((submit / "listening").exists, what="the job's server")
    return pool, cluster, submit, own_port


@pytest.mark.parametrize("owner", ["root", "jwtest-alice"])
def test_nothing_on_the_host_can_connect_to_a_server_in_the_job(
    make_pool, hub_port: int, users, owner: str
):
    _pool, _cluster, _submit, own_port = isolated_job(
        make_pool, hub_port, None if owner == "root" else owner)
    assert not _port_open(own_port)


@pytest.mark.parametrize("owner", ["root", "jwtest-alice"])
def test_the_job_reaches_the_hub_port_through_the_outbound_relay(
    make_pool, hub_port: int, users, owner: str
):
    _pool, _cluster, submit, _port = isolated_job(
        make_pool, hub_port, None if owner == "root" else owner)
    assert (submit / "outbound.txt").read_bytes() == b"hub says: hello hub"


def test_the_job_sees_only_the_loopback_interface(make_pool, hub_port: int, users):
    _pool, _cluster, submit, _port = isolated_job(make_pool, hub_port, users[0])
    assert (submit / "ifaces.txt").read_text() == "lo"


def test_condor_ssh_to_job_forwards_into_the_jobs_namespace(make_pool, hub_port: int, users):
    alice = users[0]
    pool, cluster, _submit, own_port = isolated_job(make_pool, hub_port, alice)
    local = free_port()
    forward = _start_forward(pool, cluster, f"ssh -N -L {local}:localhost:{own_port}", user=alice)
    try:
        wait_for(lambda: _port_open(local), what="the forward to listen")
        assert _echo_through(lambda: socket.create_connection(("127.0.0.1", local))) == (
            b"echo:ping")
    finally:
        _stop(forward)
