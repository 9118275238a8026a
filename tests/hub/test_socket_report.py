"""Socket mode without a hub: the callback's rules for a socket path, the mode decision,
the URL, and what the spawner takes in which mode."""

from __future__ import annotations

import pytest

from jobwrapper.hub import api
from jobwrapper.hub.connection.socketmode import decide_mode, socket_url, version_tuple

from .test_spawner_unit import make_spawner

GOOD = "/var/lib/condor/execute/dir_12345/.jobwrapper/sockets/server.sock"


@pytest.mark.parametrize("path", [GOOD, "/tmp/a/.jobwrapper/sockets/server.sock",
                                  "/scratch/slot1_2/x-y.z/.jobwrapper/sockets/server.sock"])
def test_a_socket_in_a_private_dir_is_accepted(path):
    assert api.parse_report({"socket": path}) == path


def test_a_port_is_still_accepted():
    assert api.parse_report({"port": 8888}) == 8888


@pytest.mark.parametrize("body", [
    {"socket": "var/lib/condor/execute/dir_1/.jobwrapper/sockets/server.sock"},
    {"socket": "/scratch/../etc/.jobwrapper/sockets/server.sock"},
    {"socket": "/scratch/./x/.jobwrapper/sockets/server.sock"},
    {"socket": "/scratch//x/.jobwrapper/sockets/server.sock"},
    {"socket": "/.jobwrapper/sockets/server.sock"},
    {"socket": "/scratch/.jobwrapper/sockets/server.sock/"},
    {"socket": "/scratch/.jobwrapper/sockets/other.sock"},
    {"socket": "/run/jobwrapper-hub/alice/default.sock"},
    {"socket": "/Scratch/.jobwrapper/sockets/server.sock"},
    {"socket": "/scr atch/.jobwrapper/sockets/server.sock"},
    {"socket": "/scratch/\n/.jobwrapper/sockets/server.sock"},
    {"socket": "/scratch:x/.jobwrapper/sockets/server.sock"},
    {"socket": "/" + "a" * 80 + "/.jobwrapper/sockets/server.sock"},
    {"socket": ""},
    {"socket": None},
    {"socket": 5},
    {"socket": ["/s/.jobwrapper/sockets/server.sock"]},
    {"socket": GOOD, "port": 8888},
    {"socket": GOOD, "ip": "10.0.0.1"},
])
def test_anything_else_is_refused(body):
    with pytest.raises(api.PortError):
        api.parse_report(body)


def test_the_longest_accepted_path_fits_a_unix_socket_address():
    path = "/" + "a" * 74
    path += "/.jobwrapper/sockets/server.sock"
    assert len(path) == 107 and api.parse_report({"socket": path}) == path
    with pytest.raises(api.PortError, match="longer than 107"):
        api.parse_report({"socket": "/a" + path})


def test_socket_url_is_the_lower_case_percent_encoded_path():
    assert socket_url("/run/jobwrapper-hub/alice/default.sock") == (
        "http+unix://%2frun%2fjobwrapper-hub%2falice%2fdefault.sock")


@pytest.mark.parametrize(("setting", "proxy", "hub", "root", "mode", "why"), [
    ("auto", (5, 3, 0), (6, 1, 1), True, "socket", "configurable-http-proxy 5.3.0"),
    ("auto", (5, 2, 0), (6, 1, 1), True, "tcp", "5.2.0 is older than 5.3.0"),
    ("auto", (), (6, 1, 1), True, "tcp", "unknown is older than 5.3.0"),
    ("auto", (5, 3, 0), (5, 4, 0), True, "tcp", "JupyterHub 5.4.0 is older than 6.1.1"),
    ("auto", (5, 3, 0), (6, 1, 1), False, "tcp", "does not run as root"),
    ("tcp", (5, 3, 0), (6, 1, 1), True, "tcp", "server_mode = 'tcp'"),
    ("socket", (), (6, 1, 1), False, "socket", "server_mode = 'socket'"),
])
def test_mode_decision(setting, proxy, hub, root, mode, why):
    decided, reason = decide_mode(setting, proxy, hub, root)
    assert decided == mode and why in reason


def test_version_of_the_proxy_is_read_from_its_output():
    assert version_tuple("5.3.0\n") == (5, 3, 0)
    assert version_tuple("v4.6") == (4, 6)
    assert version_tuple("no version") == ()


def test_a_socket_spawner_takes_a_socket_once_and_never_a_port():
    spawner = make_spawner(server_mode="socket")
    assert spawner.receive_socket(GOOD) is False  # not starting
    spawner._starting = True
    with pytest.raises(ValueError, match="expects a socket path"):
        spawner.receive_port(8888)
    assert spawner.receive_socket(GOOD) is True
    assert spawner.receive_socket(GOOD.replace("12345", "6")) is False
    assert (spawner.job_socket, spawner.remote_port) == (GOOD, 0)


def test_a_tcp_spawner_never_takes_a_socket():
    spawner = make_spawner(server_mode="tcp")
    spawner._starting = True
    with pytest.raises(ValueError, match="expects a port"):
        spawner.receive_socket(GOOD)
    assert spawner.job_socket == ""


def test_the_job_is_told_the_mode():
    assert make_spawner(server_mode="socket")._job_environment()[0][
        "JOBWRAPPER_SERVER_MODE"] == "socket"
    assert make_spawner(server_mode="tcp")._job_environment()[0][
        "JOBWRAPPER_SERVER_MODE"] == "tcp"


def test_state_round_trips_the_sockets():
    spawner = make_spawner(server_mode="socket")
    spawner.job_id, spawner.job_socket = "12", GOOD
    spawner.hub_socket, spawner.tunnel_pid = "/run/jobwrapper-hub/root/default.sock", 42
    restored = make_spawner(server_mode="tcp")  # the switch changed; the server did not
    restored.load_state(spawner.get_state())
    assert (restored.job_socket, restored.hub_socket) == (GOOD, spawner.hub_socket)
    assert restored.socket_mode
    assert "remote_port" not in spawner.get_state()


def test_the_socket_command_is_used_once_there_is_a_hub_socket():
    spawner = make_spawner(server_mode="socket", exec_prefix="")
    spawner.job_id, spawner.job_socket = "7", GOOD
    spawner.hub_socket = "/run/jobwrapper-hub/root/default.sock"
    argv = spawner.tunnel_argv(0)
    assert argv[:2] == ["condor_ssh_to_job", "-ssh"]
    assert argv[2].endswith(f"-L {spawner.hub_socket}:{GOOD}") and argv[3] == "7"


def test_a_socket_dir_users_cannot_pass_through_fails_the_spawn_in_words(tmp_path):
    import os

    from jobwrapper.hub.jobcontrol import SpawnFailed

    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    os.chmod(closed, 0o700)
    spawner = make_spawner(server_mode="socket", socket_dir=str(closed / "sockets"))
    with pytest.raises(SpawnFailed, match="is not searchable by other users"):
        spawner.prepare_socket_dir(spawner.hub_socket_path())


def test_hub_socket_paths_are_lower_case_and_never_collide():
    from types import SimpleNamespace

    from jobwrapper.hub.connection.socketmode import name_part

    assert name_part("alice") == "alice"
    assert name_part("Alice").startswith("_") and len(name_part("Alice")) == 17
    assert name_part("a@b.org") != name_part("a@b.org ")
    spawner = make_spawner(server_mode="socket", socket_dir="/run/jwhub", socket_hub_id="a1")
    assert spawner.hub_socket_path() == "/run/jwhub/h-a1/root/default.sock"
    named = make_spawner(server_mode="socket", socket_dir="/run/jwhub", socket_hub_id="a1",
                         orm_spawner=SimpleNamespace(name="default", server=None))
    assert named.hub_socket_path() == "/run/jwhub/h-a1/root/named-default.sock"
    spawner.user = SimpleNamespace(name="Bob Smith", escaped_name="Bob%20Smith", url="/")
    path = spawner.hub_socket_path()
    assert path == path.lower() and "/_" in path


def test_hubs_with_other_databases_get_other_socket_dirs():
    from types import SimpleNamespace

    def hub_with_db(url: str):
        bind = SimpleNamespace(url=SimpleNamespace(render_as_string=lambda hide_password: url))
        user = SimpleNamespace(name="root", escaped_name="root", url="/user/root/",
                               settings={"db": SimpleNamespace(get_bind=lambda: bind)})
        spawner = make_spawner(server_mode="socket", socket_dir="/run/jwhub")
        spawner.user = user
        return spawner.hub_socket_path()

    first, second = hub_with_db("sqlite:///a.sqlite"), hub_with_db("sqlite:///b.sqlite")
    assert first != second
    assert first.rsplit("/", 2)[-2:] == second.rsplit("/", 2)[-2:] == ["root", "default.sock"]


@pytest.mark.parametrize("bad", ["A1", "a/b", "", "x" * 17])
def test_a_socket_hub_id_that_is_not_a_short_lower_case_word_is_refused(bad):
    from traitlets import TraitError

    with pytest.raises(TraitError, match="socket_hub_id"):
        make_spawner(socket_hub_id=bad)
