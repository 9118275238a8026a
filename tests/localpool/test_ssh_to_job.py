"""condor_ssh_to_job: HTCondor's failure messages, commands in the job, -L forwarding."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
from pathlib import Path

import pytest

from .helpers import PYTHON, Pool, sleeper, user_dir, wait_for

# An echo server on TCP 127.0.0.1:PORT or on a unix socket in the scratch dir.
ECHO_SERVER = """
import os, socket, sys, threading
where = sys.argv[1]
if where.isdigit():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", int(where)))
else:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(where)
server.listen(8)
open("listening", "w").close()
def serve(connection):
    while True:
        data = connection.recv(4096)
        if not data:
            break
        connection.sendall(b"echo:" + data)
    connection.close()
while True:
    connection, _ = server.accept()
    threading.Thread(target=serve, args=(connection,), daemon=True).start()
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def echo_job(pool: Pool, submit_dir: Path, where: str, user: str | None = None) -> int:
    (submit_dir / "echo.py").write_text(ECHO_SERVER)
    description = (
        f"executable = {PYTHON}\narguments = echo.py {where}\n"
        "transfer_input_files = echo.py\nshould_transfer_files = YES\nqueue\n"
    )
    cluster = pool.submit(description, submit_dir, user=user)
    pool.wait_status(cluster, "2")
    wait_for(lambda: (pool.scratch_dir(cluster) / "listening").exists(), what="the echo server")
    return cluster


def ready_ssh(pool: Pool, cluster: int, *command: str, ssh: str = "ssh", user: str | None = None):
    """condor_ssh_to_job -auto-retry [-ssh SSH] CLUSTER COMMAND..."""
    return pool.run(
        "condor_ssh_to_job", "-auto-retry", "-ssh", ssh, str(cluster), *command, user=user
    )


def test_ssh_to_an_idle_job_says_use_auto_retry(make_pool):
    pool = make_pool(idle_delay=60)
    cluster = pool.submit(sleeper(), pool.root)
    result = pool.run("condor_ssh_to_job", str(cluster), "true")
    assert (result.returncode, result.stderr) == (
        1, "(Use -auto-retry to keep trying periodically.)\n")


def test_ssh_right_after_the_job_started_says_use_auto_retry(make_pool):
    pool = make_pool(ssh_ready_delay=60)
    cluster = pool.submit(sleeper(), pool.root)
    pool.wait_status(cluster, "2")
    result = pool.run("condor_ssh_to_job", str(cluster), "true")
    assert (result.returncode, result.stderr) == (
        1, "(Use -auto-retry to keep trying periodically.)\n")


def test_ssh_to_a_job_not_in_the_queue_cannot_fetch_its_ad(pool: Pool):
    result = pool.run("condor_ssh_to_job", "4242", "true")
    assert (result.returncode, result.stderr) == (
        1, "Unable to fetch job ad; is it still in the queue?\n")


def test_ssh_to_another_users_job_is_not_authorized(pool: Pool, users: tuple[str, str]):
    alice, bob = users
    cluster = pool.submit(sleeper(), user_dir(pool, alice), user=alice)
    pool.wait_status(cluster, "2")
    result = pool.run("condor_ssh_to_job", "-auto-retry", str(cluster), "true", user=bob)
    assert (result.returncode, result.stderr) == (
        1, f"{bob} is not authorized for access to the starter for job {cluster}.0\n")


def test_auto_retry_waits_until_the_job_can_be_reached(pool: Pool, submit_dir: Path):
    cluster = pool.submit(sleeper(), submit_dir)
    result = ready_ssh(pool, cluster, "echo", "reached")
    assert (result.returncode, result.stdout) == (0, "reached\n")


def test_command_runs_as_the_owner_in_the_jobs_environment_and_scratch_dir(
    pool: Pool, users: tuple[str, str]
):
    alice, _ = users
    cluster = pool.submit(sleeper(), user_dir(pool, alice), user=alice)
    command = 'id -un; pwd; echo "$_CONDOR_SCRATCH_DIR"'
    result = pool.run("condor_ssh_to_job", "-auto-retry", str(cluster), command, user=alice)
    scratch = str(pool.scratch_dir(cluster))
    assert (result.returncode, result.stdout) == (0, f"{alice}\n{scratch}\n{scratch}\n")


def test_the_commands_exit_code_is_returned(pool: Pool, submit_dir: Path):
    cluster = pool.submit(sleeper(), submit_dir)
    assert ready_ssh(pool, cluster, "exit 7").returncode == 7


def _start_forward(pool: Pool, cluster: int, ssh: str, user: str | None = None):
    """In a process group of its own, as the hub's tunnel starts it."""
    argv = pool.argv("condor_ssh_to_job", "-auto-retry", "-ssh", ssh, str(cluster), user=user)
    return subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _echo_through(connect) -> bytes:
    with connect() as client:
        client.sendall(b"ping")
        client.shutdown(socket.SHUT_WR)
        return client.recv(100)


def _stop(process: subprocess.Popen) -> str:
    """SIGTERM to the process group (condor_ssh_to_job and its "ssh"), as the tunnel does."""
    os.killpg(process.pid, signal.SIGTERM)
    _out, err = process.communicate(timeout=10)
    return err


def test_tcp_port_forwarding_reaches_a_server_on_the_jobs_localhost(pool: Pool, submit_dir: Path):
    remote, local = free_port(), free_port()
    cluster = echo_job(pool, submit_dir, str(remote))
    forward = _start_forward(
        pool, cluster, f"ssh -N -L {local}:localhost:{remote} -oExitOnForwardFailure=yes")
    try:
        def connect():
            return socket.create_connection(("127.0.0.1", local))

        wait_for(lambda: _port_open(local), what="the forward to listen")
        assert _echo_through(connect) == b"echo:ping"
    finally:
        _stop(forward)


def _port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port)).close()
    except OSError:
        return False
    return True


def test_unix_socket_forwarding_creates_a_0600_socket_owned_by_the_caller(
    pool: Pool, users: tuple[str, str]
):
    alice, _ = users
    submit = user_dir(pool, alice)
    cluster = echo_job(pool, submit, "server.sock", user=alice)
    local = submit / "hub-side.sock"
    remote = pool.scratch_dir(cluster) / "server.sock"
    forward = _start_forward(
        pool, cluster, f"ssh -N -oExitOnForwardFailure=yes -L {local}:{remote}", user=alice)
    try:
        wait_for(local.exists, what="the hub-side socket")
        info = local.stat()
        assert stat.S_ISSOCK(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o600
        assert info.st_uid == Path(submit).stat().st_uid

        def connect():
            client = socket.socket(socket.AF_UNIX)
            client.connect(str(local))
            return client

        assert _echo_through(connect) == b"echo:ping"
    finally:
        _stop(forward)


def test_a_busy_local_port_with_exit_on_forward_failure_fails_like_ssh(
    pool: Pool, submit_dir: Path
):
    cluster = pool.submit(sleeper(), submit_dir)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        ssh = f"ssh -N -L {port}:localhost:1 -oExitOnForwardFailure=yes"
        result = ready_ssh(pool, cluster, ssh=ssh)
    assert result.returncode == 255
    assert f"bind [127.0.0.1]:{port}: Address already in use" in result.stderr
    assert result.stderr.endswith("Could not request local forwarding.\n")


def test_forwarding_ends_by_itself_when_the_job_leaves_the_queue(pool: Pool, submit_dir: Path):
    cluster = pool.submit(sleeper(), submit_dir)
    forward = _start_forward(pool, cluster, f"ssh -N -L {free_port()}:localhost:1")
    ready_ssh(pool, cluster, "true")
    pool.run("condor_rm", str(cluster))
    assert forward.wait(timeout=20) == 255


def test_forwarding_that_ends_with_the_job_says_connection_to_condor_job_closed(
    pool: Pool, submit_dir: Path
):
    # HTCondor 25.0: ssh's host name is "condor-job." + the slot's machine.
    cluster = pool.submit(sleeper(), submit_dir)
    forward = _start_forward(pool, cluster, f"ssh -N -L {free_port()}:localhost:1")
    ready_ssh(pool, cluster, "true")
    host = pool.run("condor_q", str(cluster), "-af", "RemoteHost").stdout.strip()
    pool.run("condor_rm", str(cluster))
    _out, err = forward.communicate(timeout=20)
    assert err.splitlines()[-1] == (
        f"Connection to condor-job.{host.split('@')[1]} closed by remote host.")


def test_sigterm_to_the_process_group_ends_forwarding_silently(pool: Pool, submit_dir: Path):
    # HTCondor 25.0: condor_ssh_to_job dies of the signal, ssh exits without a word.
    cluster = pool.submit(sleeper(), submit_dir)
    ready_ssh(pool, cluster, "true")  # reachable: -auto-retry has nothing to say
    port = free_port()
    forward = _start_forward(pool, cluster, f"ssh -N -L {port}:localhost:1")
    wait_for(lambda: _port_open(port), what="the forward to listen")
    # (the probe's own connection may have made ssh print "channel N: open failed")
    said = [line for line in _stop(forward).splitlines() if " open failed: " not in line]
    assert said == []
    assert forward.returncode == -signal.SIGTERM
    assert not _port_open(port)


def test_sigterm_to_condor_ssh_to_job_alone_leaves_the_forward_running(
    pool: Pool, submit_dir: Path
):
    # HTCondor 25.0: ssh is condor_ssh_to_job's child and outlives it; only a signal to
    # the whole process group (what the hub's tunnel sends) ends the forward.
    cluster = pool.submit(sleeper(), submit_dir)
    port = free_port()
    forward = _start_forward(pool, cluster, f"ssh -N -L {port}:localhost:1")
    try:
        wait_for(lambda: _port_open(port), what="the forward to listen")
        forward.send_signal(signal.SIGTERM)
        assert forward.wait(timeout=10) == -signal.SIGTERM
        assert _port_open(port)
    finally:
        os.killpg(forward.pid, signal.SIGTERM)
    wait_for(lambda: not _port_open(port), what="the orphaned forward to end")


def test_the_hub_side_socket_stays_when_forwarding_ends(pool: Pool, submit_dir: Path):
    # As OpenSSH leaves it; socket mode's command therefore uses StreamLocalBindUnlink=yes.
    cluster = pool.submit(sleeper(), submit_dir)
    local = submit_dir / "tunnel.sock"
    forward = _start_forward(pool, cluster, f"ssh -N -L {local}:/nonexistent.sock")
    wait_for(local.exists, what="the hub-side socket")
    _stop(forward)
    assert stat.S_ISSOCK(local.stat().st_mode)


def test_ssh_to_a_held_job_prints_the_hold_reason(pool: Pool, submit_dir: Path):
    cluster = pool.submit(sleeper(extra="allowed_execute_duration = 1"), submit_dir)
    pool.wait_status(cluster, "5")
    reason = pool.run("condor_q", str(cluster), "-af", "HoldReason").stdout.strip()
    result = pool.run("condor_ssh_to_job", "-auto-retry", str(cluster), "true")
    assert (result.returncode, result.stderr) == (1, f'The job is on hold: "{reason}".\n')


def test_auto_retry_says_it_is_waiting_for_the_job_to_start(make_pool):
    pool = make_pool(idle_delay=1)
    cluster = pool.submit(sleeper(), pool.root)
    result = pool.run("condor_ssh_to_job", "-auto-retry", str(cluster), "true")
    assert (result.returncode, result.stderr) == (0, "Waiting for job to start...\n")


def test_command_runs_through_the_callers_shell_so_nologin_refuses(
    pool: Pool, submit_dir: Path
):
    # HTCondor 25.0: condor_ssh_to_job asks for the caller's $SHELL; sudo -u USER sets it
    # to USER's shell, and for a nologin account the command never runs.
    cluster = pool.submit(sleeper(), submit_dir)
    ready_ssh(pool, cluster, "true")
    env = dict(os.environ, SHELL="/usr/sbin/nologin")
    result = pool.run("condor_ssh_to_job", str(cluster), "echo ran", env=env)
    assert (result.returncode, result.stdout) == (1, "This account is currently not available.\n")


def test_ssh_options_that_would_leave_loopback_are_refused(pool: Pool, submit_dir: Path):
    cluster = pool.submit(sleeper(), submit_dir)
    result = ready_ssh(pool, cluster, ssh="ssh -N -L 1234:example.org:80")
    assert result.returncode == 1
    assert "only to the job's localhost" in result.stderr


@pytest.mark.parametrize("ssh", ["ssh -q -v -T -N -L 5:localhost:6", "ssh -NqL5:localhost:6 -p 22"])
def test_common_ssh_flags_are_accepted(ssh: str):
    from jobwrapper.localpool.commands.ssh_options import parse_ssh_command

    options = parse_ssh_command(ssh)
    assert options.no_command
    assert [(f.listen_port, f.connect_port) for f in options.forwards] == [(5, 6)]

