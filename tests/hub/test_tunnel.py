"""The connect-to-job process: command filling, startup check, stderr for the user."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from jobwrapper.hub.connection import tunnel

LOG = logging.getLogger("test")


def run(coroutine):
    return asyncio.run(coroutine)


def test_default_command_is_split_then_filled_word_by_word():
    template = (
        'condor_ssh_to_job -ssh "ssh -N -oExitOnForwardFailure=yes -L {port}:localhost:{rport}" '
        "{job_id}"
    )
    argv = tunnel.format_command(template, {"port": 4000, "rport": 8888, "job_id": "12"})
    assert argv == [
        "condor_ssh_to_job",
        "-ssh",
        "ssh -N -oExitOnForwardFailure=yes -L 4000:localhost:8888",
        "12",
    ]


def test_a_field_value_cannot_add_words():
    argv = tunnel.format_command("sudo -u {username} true", {"username": "a; rm -rf / #"})
    assert argv == ["sudo", "-u", "a; rm -rf / #", "true"]


def test_unknown_field_is_a_config_error():
    with pytest.raises(tunnel.CommandTemplateError, match="unknown field"):
        tunnel.format_command("x {nope}", {})


def test_rport_switches_port_meaning():
    assert tunnel.uses_rport("-L {port}:localhost:{rport}")
    assert not tunnel.uses_rport("proxy-to {host}:{port}")


def test_command_that_keeps_running_passes_the_startup_check():
    async def scenario():
        t = tunnel.Tunnel([sys.executable, "-c", "import time; time.sleep(30)"], {}, LOG)
        await t.start(0.3)
        assert t.alive()
        await t.stop()
        assert not t.alive()

    run(scenario())


def test_command_that_exits_fails_the_spawn_with_its_stderr_and_no_secret():
    async def scenario():
        code = "import sys; sys.stderr.write('boom: key s3cret\\nsecond\\n'); sys.exit(3)"
        t = tunnel.Tunnel([sys.executable, "-c", code], {}, LOG, secrets=["s3cret"])
        with pytest.raises(tunnel.TunnelExited) as caught:
            await t.start(5)
        assert caught.value.returncode == 3
        assert caught.value.stderr == "boom: key [secret] / second"

    run(scenario())


def test_a_command_that_exits_before_its_forward_accepts_fails_with_its_stderr():
    async def scenario():
        code = "import sys, time; time.sleep(0.3); sys.stderr.write('no route\\n'); sys.exit(1)"
        t = tunnel.Tunnel([sys.executable, "-c", code], {}, LOG)
        with pytest.raises(tunnel.TunnelExited, match="no route"):
            await t.start(0.1, ready=lambda: False, ready_wait=30)

    run(scenario())


def test_a_forward_that_never_accepts_counts_as_started_after_the_wait_with_a_warning(caplog):
    async def scenario():
        t = tunnel.Tunnel([sys.executable, "-c", "import time; time.sleep(30)"], {}, LOG)
        await t.start(0.1, ready=lambda: False, ready_wait=0.5)
        assert t.alive()
        await t.stop()

    caplog.set_level(logging.WARNING, logger="test")
    run(scenario())
    assert "its forward did not accept connections within 0.5 s" in caplog.text


def test_forward_accepts_sees_a_listening_unix_socket_and_not_a_stale_file(tmp_path):
    path = str(tmp_path / "hub.sock")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen()
    assert tunnel.forward_accepts(0, path)
    listener.close()  # the file stays, as ssh leaves it
    assert not tunnel.forward_accepts(0, path)


def test_missing_command_is_reported_in_words():
    async def scenario():
        with pytest.raises(tunnel.TunnelExited, match="cannot run /nonexistent"):
            await tunnel.Tunnel(["/nonexistent"], {}, LOG).start(1)

    run(scenario())


def test_ssh_forward_failure_is_recognised_as_a_taken_port():
    exited = tunnel.TunnelExited(
        255,
        "bind [127.0.0.1]:4000: Address already in use / "
        "channel_setup_fwd_listener_tcpip: cannot listen to port: 4000",
    )
    assert exited.port_taken and not exited.not_ready


def test_condor_ssh_to_job_not_ready_is_recognised():
    assert tunnel.TunnelExited(1, "(Use -auto-retry to keep trying periodically.)").not_ready


@pytest.mark.parametrize("stderr", ["Can't connect to schedd",
                                    "Failed to send GET_JOB_CONNECT_INFO to schedd"])
def test_a_schedd_too_busy_to_answer_counts_as_not_ready(stderr):
    assert tunnel.TunnelExited(1, stderr).not_ready


def test_port_is_free_sees_a_listener():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert not tunnel.port_is_free(port)


def test_tunnel_dies_with_its_parent(tmp_path):
    """The hub's death ends its tunnels, so a restarted hub finds the port free."""
    marker = tmp_path / "child.pid"
    parent_code = f"""
import subprocess, sys, time
sys.path.insert(0, {str(tunnel.__file__.rsplit('/jobwrapper/', 1)[0])!r})
from jobwrapper.hub.connection.tunnel import _die_with_parent
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                         preexec_fn=_die_with_parent)
open({str(marker)!r}, "w").write(str(child.pid))
time.sleep(60)
"""
    import os
    import signal
    import subprocess
    import time

    parent = subprocess.Popen([sys.executable, "-c", parent_code])
    for _ in range(100):
        if marker.exists() and marker.read_text():
            break
        time.sleep(0.05)
    child = int(marker.read_text())
    parent.kill()
    parent.wait()
    for _ in range(100):
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        os.kill(child, signal.SIGKILL)
        pytest.fail("the tunnel outlived the hub")


# A connect-to-job leader that leaves a forwarding child in its process group and exits,
# as condor_ssh_to_job does when only it gets a signal (its ssh keeps the port).
ORPHANING_LEADER = """
import os, sys, time
if os.fork() == 0:
    os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(300)",
                              "-L", "45123:localhost:8888"])
time.sleep(0.2)
"""


@pytest.fixture
def orphaned_forward():
    leader = subprocess.Popen([sys.executable, "-c", ORPHANING_LEADER], start_new_session=True)
    leader.wait()
    deadline = time.monotonic() + 5
    while not tunnel.group_members(leader.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    yield leader.pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(leader.pid, signal.SIGKILL)


def test_a_forward_left_in_the_group_counts_as_the_running_tunnel(orphaned_forward):
    assert tunnel.process_gone(orphaned_forward)
    assert tunnel.tunnel_still_running(orphaned_forward, 45123, "12")
    assert not tunnel.tunnel_still_running(orphaned_forward, 45124, "12")


def test_stopping_an_adopted_tunnel_ends_the_forward_it_left_behind(orphaned_forward):
    adopted = tunnel.AdoptedTunnel(orphaned_forward, LOG)
    assert adopted.alive()
    run(adopted.stop(timeout=2.0))
    assert tunnel.group_members(orphaned_forward) == []
    assert not adopted.alive()
