"""VS Code (code-server) behind jupyter-server-proxy, on a unix socket only.

The tests marked real run the installed code-server (scripts/setup puts code-server
4.100.3 in /opt/code-server and on PATH; they skip without it). The stand-in tests run
tests/codeserver/standin_code_server.py, a small HTTP server that is NOT code-server,
through the same entry, so the wiring is tested everywhere.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path
from typing import Optional

import pytest
from desktop_checks import argv, tcp_listeners
from jupyter_harness import VENV_BIN, jupyter_server, marked_processes, wait_until

pytestmark = pytest.mark.processes

STANDIN = Path(__file__).with_name("standin_code_server.py")
CODE_SERVER = shutil.which("code-server")
needs_code_server = pytest.mark.skipif(
    CODE_SERVER is None, reason="code-server is not installed (scripts/setup, docs/vscode.md)")


def vscode_server(tmp_path: Path, site_config: str = "",
                  extra_env: Optional[dict[str, str]] = None):
    """``jupyter_server`` with a HOME and a TMPDIR of the test's own: code-server keeps
    its heartbeat and logs in ~/.local/share/code-server, and VS Code's socket dir falls
    back to TMPDIR when the runtime dir's path is too long for a socket."""
    for name in ("home", "tmp"):
        (tmp_path / name).mkdir(exist_ok=True)
    env = {"HOME": str(tmp_path / "home"), "TMPDIR": str(tmp_path / "tmp"),
           **(extra_env or {})}
    return jupyter_server(tmp_path, site_config, extra_env=env)


def code_server_processes(mark: str) -> list[int]:
    """The marked processes started with jobwrapper's code-server argv."""
    return [pid for pid in marked_processes(mark) if "--socket" in argv(pid)]


def option(words: list[str], name: str) -> str:
    return words[words.index(name) + 1]


def launcher(server) -> dict:
    servers = server.api("GET", "server-proxy/servers-info").json()["server_processes"]
    return next(entry for entry in servers if entry["name"] == "code-server")


def open_vscode(server):
    """GET /code-server/ (302 to ./?folder=..., followed), waiting as long as the proxy
    does: code-server's first start reads 300 MB, slow on a cold, busy machine."""
    import requests

    return requests.get(server.url + "code-server/", timeout=150,
                        headers={"Authorization": f"token {server.token}"})


def check_socket_only(server) -> list[str]:
    """The code-server process's argv, after checking its socket, dir and listeners."""
    pids = code_server_processes(server.mark)
    assert pids, "code-server runs"
    words = argv(pids[0])
    socket = Path(option(words, "--socket"))
    assert stat.S_ISSOCK(socket.stat().st_mode)
    assert stat.S_IMODE(socket.stat().st_mode) == 0o600
    assert stat.S_IMODE(socket.parent.stat().st_mode) == 0o700
    assert socket.parent.stat().st_uid == socket.stat().st_uid
    assert not [w for w in words if "password" in w or "bind-addr" in w or "--port" in w]
    others = [p for p in marked_processes(server.mark) if p != server.process.pid]
    assert tcp_listeners(others) == [], "nothing but the jupyter server listens on TCP"
    return words


@needs_code_server
def test_vscode_is_served_from_a_unix_socket_in_a_private_dir(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    env = {"HOME": str(home), "JOBWRAPPER_PRIVATE_DIR": str(private),
           "XDG_CACHE_HOME": str(private / "cache")}
    with vscode_server(tmp_path, extra_env=env) as server:
        assert launcher(server)["launcher_entry"]["enabled"] is True
        page = open_vscode(server)
        assert page.status_code == 200, page.text[:500]
        assert "vscode-workbench-web-configuration" in page.text
        assert page.url.startswith(server.url + "code-server/?folder=")
        words = check_socket_only(server)
        assert words[-1] == str(server.root), "VS Code opens the notebook dir"
        assert Path(option(words, "--user-data-dir")) == private / "code-server" / "user-data"
        # A page asset comes through the proxy too (relative URLs under the prefix).
        static = server.api("GET", "code-server/manifest.json")
        assert static.status_code == 200 and "code-server" in static.text.lower()
    # code-server's own wrapper keeps its heartbeat file and logs in $XDG_DATA_HOME
    # (~/.local/share/code-server; nothing secret); everything else stays in the job.
    written = sorted(str(p.relative_to(home)) for p in home.rglob("*") if p.is_file())
    assert [p for p in written if not p.startswith(".local/share/code-server/")] == []
    assert not (home / ".config" / "code-server").exists(), "no config.yaml with a password"


@needs_code_server
def test_without_login_the_proxy_refuses(tmp_path: Path) -> None:
    import requests

    with vscode_server(tmp_path) as server:
        answer = requests.get(server.url + "code-server/", timeout=30, allow_redirects=False)
        assert answer.status_code in (302, 403), answer.status_code
        assert "/login" in answer.headers.get("Location", "/login")
        assert code_server_processes(server.mark) == [], "nothing started for a stranger"


def test_standin_is_reached_through_the_proxy_on_its_socket(tmp_path: Path) -> None:
    config = f'[code_server]\npath = "{STANDIN}"\nextra_args = ["--locale=de"]\n'
    with vscode_server(tmp_path, config) as server:
        assert launcher(server)["launcher_entry"]["enabled"] is True
        answer = server.api("GET", "code-server/some/path?x=1")
        assert answer.status_code == 200, answer.text[:500]
        body = answer.json()
        assert body["standin"] == "code-server stand-in"
        assert body["path"] == "/some/path?x=1", "the prefix is stripped (absolute_url off)"
        assert body["argv"][-2:] == ["--locale=de", str(server.root)]
        check_socket_only(server)


def test_not_installed_is_not_offered_and_says_why(tmp_path: Path) -> None:
    no_code_server = {"PATH": f"{VENV_BIN}:/usr/bin:/bin"}
    if shutil.which("code-server", path=no_code_server["PATH"]):
        no_code_server["PATH"] = f"{VENV_BIN}:/nonexistent"
    with vscode_server(tmp_path, extra_env=no_code_server) as server:
        assert launcher(server)["launcher_entry"]["enabled"] is False
        answer = server.api("GET", "code-server/")
        assert answer.status_code == 503
        assert answer.text.count("\n") == 1 and "needs code-server" in answer.text
        log = server.log()
        assert log.count("needs code-server") == 1
        assert "Traceback" not in log
        wait_until(lambda: marked_processes(server.mark) == [server.process.pid], 5,
                   "no stray process")


def test_turned_off_in_the_site_config_is_not_offered(tmp_path: Path) -> None:
    config = f'[code_server]\nenabled = false\npath = "{STANDIN}"\n'
    with vscode_server(tmp_path, config) as server:
        assert launcher(server)["launcher_entry"]["enabled"] is False
        answer = server.api("GET", "code-server/")
        assert answer.status_code == 503 and "code_server.enabled" in answer.text
        assert code_server_processes(server.mark) == []


@needs_code_server
def test_editor_websocket_comes_through_and_checks_the_origin(tmp_path: Path) -> None:
    """VS Code's own connection (a websocket to /stable-COMMIT) works through the proxy
    from the page's origin; code-server refuses one from another origin."""
    import re
    import uuid

    import websocket

    with vscode_server(tmp_path) as server:
        page = open_vscode(server)
        commit = re.search(r"stable-([0-9a-f]{40})", page.text).group(1)

        def connect(origin: str) -> bytes:
            url = (server.url.replace("http://", "ws://") + f"code-server/stable-{commit}"
                   f"?reconnectionToken={uuid.uuid4()}&reconnection=false"
                   "&skipWebSocketFrames=false")
            socket = websocket.create_connection(
                url, header=[f"Authorization: token {server.token}"], origin=origin, timeout=20)
            try:
                return socket.recv()
            except websocket.WebSocketException:
                return b""
            finally:
                socket.close()

        assert connect(server.url.rstrip("/")), "VS Code's protocol answers"
        assert connect("http://elsewhere.example.org") == b"", "code-server's origin check"


@needs_code_server
def test_sigterm_ends_code_server_and_its_helpers(tmp_path: Path) -> None:
    import signal

    config = "[shutdown]\ngrace_seconds = 3\n"
    with vscode_server(tmp_path, config) as server:
        assert open_vscode(server).status_code == 200
        assert code_server_processes(server.mark)
        server.process.send_signal(signal.SIGTERM)
        wait_until(
            lambda: server.process.poll() is not None and not marked_processes(server.mark),
            10,
            "server, code-server and its extension host gone",
        )


def fake_jupyter_vscode_proxy(directory: Path) -> Path:
    """A STAND-IN for jupyter-vscode-proxy 0.7 on a PYTHONPATH dir: a distribution whose
    entry ``vscode`` would run a server on a TCP port without a password, as that
    package's does (``code-server --auth none --port={port}``)."""
    site = directory / "fake-site"
    info = site / "jupyter_vscode_proxy-0.7.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: jupyter-vscode-proxy\nVersion: 0.7\n")
    (info / "entry_points.txt").write_text(
        "[jupyter_serverproxy_servers]\nvscode = fake_vscode_proxy:setup_vscode\n")
    (site / "fake_vscode_proxy.py").write_text(
        "import sys\n\n\ndef setup_vscode():\n"
        "    return {'command': [sys.executable, '-m', 'http.server', '--bind', '127.0.0.1',"
        " '{port}'], 'launcher_entry': {'title': 'VS Code'}}\n")
    return site


def test_jupyter_vscode_proxys_tcp_entry_is_hidden_and_guarded(tmp_path: Path) -> None:
    import subprocess

    site = fake_jupyter_vscode_proxy(tmp_path)
    env = {"PYTHONPATH": str(site)}
    seen = subprocess.run(
        [str(VENV_BIN / "python"), "-c", "from importlib.metadata import entry_points; "
         "print(sorted(e.name for e in entry_points(group='jupyter_serverproxy_servers')))"],
        env={"PYTHONPATH": str(site)}, capture_output=True, text=True, check=True).stdout
    assert "'vscode'" in seen, "the stand-in is an entry point jupyter-server-proxy would read"
    with vscode_server(tmp_path, f'[code_server]\npath = "{STANDIN}"\n', extra_env=env) as server:
        servers = server.api("GET", "server-proxy/servers-info").json()["server_processes"]
        names = {entry["name"] for entry in servers}
        assert "vscode" not in names and "code-server" in names
        for path in ("vscode", "vscode/", "vscode/?folder=/"):
            answer = server.api("GET", path, allow_redirects=False)
            assert answer.status_code == 404, (path, answer.status_code)
            assert "open code-server/ instead" in answer.text
        assert marked_processes(server.mark) == [server.process.pid], "nothing started"
        assert tcp_listeners(marked_processes(server.mark)) == tcp_listeners(
            [server.process.pid])


def connect_as_nobody(path: Path) -> str:
    """Try to connect to the unix socket ``path`` as the user nobody: the errno's name, or
    "connected"."""
    import subprocess

    code = ("import errno, socket, sys\n"
            "s = socket.socket(socket.AF_UNIX)\n"
            "try:\n    s.connect(sys.argv[1]); print('connected')\n"
            "except OSError as e:\n    print(errno.errorcode[e.errno])\n")
    return subprocess.run(["/usr/bin/python3", "-I", "-c", code, str(path)], user="nobody",
                          capture_output=True, text=True, check=True, timeout=30).stdout.strip()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to try as another user")
def test_another_user_cannot_connect_to_the_socket() -> None:
    """Each layer alone keeps other users of the node out: the 0700 dir, and the 0600
    socket; with both opened, the same user nobody does connect (so the path is
    reachable and the refusals are the two modes')."""
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="vscode-test-", dir="/tmp"))  # parents: /tmp
    base.chmod(0o755)
    try:
        with jupyter_server(base, f'[code_server]\npath = "{STANDIN}"\n') as server:
            assert server.api("GET", "code-server/").status_code == 200
            socket = Path(option(argv(code_server_processes(server.mark)[0]), "--socket"))
            directory = socket.parent  # in the server's runtime dir (the harness's jwx-*)
            assert directory.parent.name.startswith("jwx-")
            # Its parent, the runtime dir, is 0700 too (in a job: PRIVATE/runtime); opened
            # here so that only jobwrapper's two modes are tested.
            directory.parent.chmod(0o711)
            assert connect_as_nobody(socket) == "EACCES"  # as jobwrapper made them
            directory.chmod(0o755)
            assert connect_as_nobody(socket) == "EACCES"  # the socket's 0600 alone
            socket.chmod(0o666)
            assert connect_as_nobody(socket) == "connected"  # both opened
            directory.chmod(0o700)
            assert connect_as_nobody(socket) == "EACCES"  # the dir's 0700 alone
    finally:
        shutil.rmtree(base, ignore_errors=True)
