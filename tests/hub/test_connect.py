"""connect(): what is retried (a port taken meanwhile, a job not reachable yet) and how
failures read; reconnect() after a hub restart keeps the port or says why it cannot."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
from pathlib import Path

import pytest

from jobwrapper.hub.connection import connect as connect_module
from jobwrapper.hub.connection.connect import ConnectToJob
from jobwrapper.hub.connection.tunnel import AdoptedTunnel, Tunnel, TunnelError, forward_accepts

FAKE = Path(__file__).with_name("fake_connect.py")


class FakeSpawner(ConnectToJob):
    """Just what ConnectToJob uses."""

    def __init__(self, mode: str) -> None:
        self.connect_to_job_cmd = f"{sys.executable} {FAKE} {mode} {{port}} {{rport}} {{job_id}}"
        self.connect_to_job_exec_prefix = None
        self.exec_prefix = ""
        self.connect_to_job_ready_timeout = 10.0
        self.connect_to_job_port_attempts = 5
        self.connect_to_job_startup_check = 0.5
        self.connect_to_job_retry_interval = 1.0
        self.job_id, self.job_host, self.remote_port = "7", "node1", 8888
        self.local_port = self.tunnel_pid = 0
        self._tunnel = None
        self.api_token = "tok"
        self.log = logging.getLogger("test")
        self._log_name = "alice"
        self.saved = 0

    def get_req_subvars(self) -> dict:
        return {"username": "alice"}

    def batch_env(self) -> dict:
        return dict(os.environ)

    def save_state(self) -> None:
        self.saved += 1


@pytest.fixture
def taken_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def run(spawner: FakeSpawner, coroutine):
    async def scenario():
        try:
            return await coroutine
        finally:
            await spawner.end_tunnel()

    return asyncio.run(scenario())


def test_fields_fill_the_command_and_exec_prefix_comes_first():
    spawner = FakeSpawner("listen")
    spawner.exec_prefix = "sudo -E -u {username}"
    argv = spawner.tunnel_argv(4000)
    assert argv[:4] == ["sudo", "-E", "-u", "alice"]
    assert argv[-3:] == ["4000", "8888", "7"]


def test_without_rport_port_is_the_servers_port():
    spawner = FakeSpawner("listen")
    spawner.connect_to_job_cmd = "proxy-to {host}:{port}"
    assert spawner.tunnel_argv(4000) == ["proxy-to", "node1:8888"]


def test_a_port_taken_meanwhile_is_retried_with_a_new_one(monkeypatch, taken_port):
    spawner = FakeSpawner("listen")
    ports = iter([taken_port, connect_module.free_port()])
    monkeypatch.setattr(connect_module, "free_port", lambda: next(ports))

    async def scenario():
        await spawner.connect(fixed_port=0)
        assert spawner.local_port != taken_port
        assert isinstance(spawner._tunnel, Tunnel) and spawner._tunnel.alive()

    run(spawner, scenario())


def test_a_job_not_reachable_yet_is_retried(tmp_path):
    spawner = FakeSpawner(f"not-ready:2:{tmp_path / 'runs'}")

    async def scenario():
        await spawner.connect(fixed_port=0)
        assert (tmp_path / "runs").read_text() == "xxx"

    run(spawner, scenario())


def test_the_tunnel_is_up_once_its_hub_port_accepts_not_after_the_startup_check():
    spawner = FakeSpawner("listen")
    spawner.connect_to_job_startup_check = 600.0  # would be waited out without the check

    async def scenario():
        await asyncio.wait_for(spawner.connect(fixed_port=0), 60)
        assert forward_accepts(spawner.local_port)

    run(spawner, scenario())


def test_a_slow_login_is_waited_for_until_the_hub_port_accepts():
    spawner = FakeSpawner("slow-listen:1.5")  # listens 1 s after the 0.5 s startup check

    async def scenario():
        await spawner.connect(fixed_port=0)
        assert forward_accepts(spawner.local_port)

    run(spawner, scenario())


def test_a_command_without_a_hub_port_of_its_own_keeps_the_startup_check():
    spawner = FakeSpawner("listen")
    spawner.connect_to_job_cmd = f"{sys.executable} {FAKE} listen {{port}}"
    assert spawner._forward_check(0) is None


def test_a_failing_command_fails_the_spawn_with_its_message():
    spawner = FakeSpawner("fail")
    with pytest.raises(TunnelError, match="connection to job 7 failed: Unable to fetch job ad"):
        run(spawner, spawner.connect(fixed_port=0))


def test_after_a_restart_a_taken_port_is_reported_in_words(monkeypatch, taken_port):
    spawner = FakeSpawner("listen")
    spawner.local_port = taken_port
    monkeypatch.setattr(ConnectToJob, "wait_for_port", lambda self, port: asyncio.sleep(0))
    with pytest.raises(TunnelError, match=f"Hub port {taken_port}, where the proxy sends"):
        run(spawner, spawner.reconnect())


def test_after_a_restart_the_tunnel_comes_back_on_the_same_port():
    spawner = FakeSpawner("listen")
    spawner.local_port = port = connect_module.free_port()

    async def scenario():
        await spawner.reconnect()
        assert spawner.local_port == port and spawner._tunnel.alive() and spawner.saved == 1

    run(spawner, scenario())


def test_after_a_restart_a_surviving_tunnel_is_adopted():
    first = FakeSpawner("listen")

    async def scenario():
        await first.connect(fixed_port=0)
        second = FakeSpawner("listen")
        second.local_port, second.tunnel_pid = first.local_port, first.tunnel_pid
        await second.reconnect()
        assert isinstance(second._tunnel, AdoptedTunnel)
        assert second._tunnel.pid == first.tunnel_pid and second._tunnel.alive()
        await second.end_tunnel()
        assert not second._tunnel.alive()

    run(first, scenario())


def test_a_reused_pid_is_not_adopted():
    spawner = FakeSpawner("listen")
    spawner.local_port = connect_module.free_port()
    spawner.tunnel_pid = os.getpid()  # alive, but not a tunnel for this job and port

    async def scenario():
        await spawner.reconnect()
        assert isinstance(spawner._tunnel, Tunnel)

    run(spawner, scenario())


def test_each_retry_of_a_job_not_reachable_yet_is_logged(tmp_path, caplog):
    spawner = FakeSpawner(f"not-ready:2:{tmp_path / 'runs'}")
    caplog.set_level(logging.INFO, logger="test")
    run(spawner, spawner.connect(fixed_port=0))
    retries = [r.getMessage() for r in caplog.records if "cannot be reached yet" in r.getMessage()]
    assert len(retries) == 2
    assert retries[0] == ("alice: job 7 cannot be reached yet, the connect-to-job command says: "
                          "(Use -auto-retry to keep trying periodically.); retrying in 1 s")


def test_retries_wait_longer_each_time_up_to_the_cap(tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(connect_module, "RETRY_CAP", 0.5)
    spawner = FakeSpawner(f"not-ready:5:{tmp_path / 'runs'}")
    spawner.connect_to_job_retry_interval = 0.2
    caplog.set_level(logging.INFO, logger="test")
    run(spawner, spawner.connect(fixed_port=0))
    waits = [r.getMessage().rsplit("retrying in ", 1)[1] for r in caplog.records
             if "cannot be reached yet" in r.getMessage()]
    assert waits == ["0.2 s", "0.3 s", "0.45 s", "0.5 s", "0.5 s"]


def test_a_tunnel_that_ended_silently_says_its_exit_code():
    async def scenario():
        tunnel = Tunnel(["/bin/false"], {}, logging.getLogger("test"))
        with pytest.raises(Exception):  # noqa: B017 - ends during its startup check
            await tunnel.start(1.0)
        return tunnel.end_description()

    assert asyncio.run(scenario()) == "false exited with code 1 and no message"


def test_an_adopted_tunnel_says_why_its_messages_are_unknown():
    adopted = AdoptedTunnel(os.getpid(), logging.getLogger("test"))
    assert "started before the hub's last restart" in adopted.end_description()
