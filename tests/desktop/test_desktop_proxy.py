"""The desktop entry: xpra on a unix socket only, behind jupyter-server-proxy."""

from __future__ import annotations

import stat
from pathlib import Path

from desktop_checks import argv, tcp_listeners, xpra_processes
from jupyter_harness import VENV_BIN, jupyter_server, marked_processes, wait_until


def test_desktop_is_served_from_a_unix_socket_in_a_private_dir(tmp_path: Path) -> None:
    with jupyter_server(tmp_path) as server:
        page = server.api("GET", "desktop/")
        assert page.status_code == 200, page.text[:500]
        assert "xpra" in page.text.lower()
        xpras = xpra_processes(server.mark)
        assert xpras, "xpra runs"
        words = argv(xpras[0])
        bind = next(w for w in words if w.startswith("--bind="))[len("--bind=") :]
        assert stat.S_ISSOCK(Path(bind).stat().st_mode)
        assert stat.S_IMODE(Path(bind).parent.stat().st_mode) == 0o700
        assert not [w for w in words if "tcp" in w or "password" in w or "auth" in w]
        others = [p for p in marked_processes(server.mark) if p != server.process.pid]
        assert tcp_listeners(others) == [], "nothing but the server listens on TCP"


def test_xprahtml5_is_not_offered_serves_nothing_and_starts_nothing(tmp_path: Path) -> None:
    temp = tmp_path / "tmpdir"
    temp.mkdir()
    with jupyter_server(tmp_path, extra_env={"TMPDIR": str(temp)}) as server:
        servers = server.api("GET", "server-proxy/servers-info").json()["server_processes"]
        names = {entry["name"]: entry for entry in servers}
        assert "xprahtml5" not in names, "not in the launcher"
        assert names["desktop"]["launcher_entry"]["enabled"] is True, "ours is"
        for path in ("xprahtml5", "xprahtml5/", "xprahtml5/index.html?username=x&password=y"):
            answer = server.api("GET", path, allow_redirects=False)
            assert answer.status_code == 404, (path, answer.status_code)
            assert "password" not in answer.text
        assert xpra_processes(server.mark) == []
        assert tcp_listeners(marked_processes(server.mark)) == [
            line for line in tcp_listeners([server.process.pid])
        ], "only the jupyter server itself listens"
    # setup_xprahtml5() was never even called: it would have made its socket dir and
    # its password and key files in TMPDIR. (Ours and VS Code's socket dirs may be there
    # when the runtime dir's path is too long for a socket.)
    assert [p.name for p in temp.iterdir() if not p.name.startswith(("desktop-", "vscode-"))
            ] == []


def test_without_xpra_desktop_is_not_offered_and_says_why(tmp_path: Path) -> None:
    no_xpra = {"PATH": f"{VENV_BIN}:/nonexistent"}
    with jupyter_server(tmp_path, extra_env=no_xpra) as server:
        servers = server.api("GET", "server-proxy/servers-info").json()["server_processes"]
        desktop = next(entry for entry in servers if entry["name"] == "desktop")
        assert desktop["launcher_entry"]["enabled"] is False
        answer = server.api("GET", "desktop/")
        assert answer.status_code == 503
        assert answer.text.count("\n") == 1 and "needs xpra" in answer.text
        log = server.log()
        assert log.count("needs xpra") == 1
        assert "Traceback" not in log
        assert marked_processes(server.mark) == [server.process.pid], "no stray process"


def test_sigterm_ends_xpra_and_desktop_apps(tmp_path: Path) -> None:
    import signal

    with jupyter_server(tmp_path, "[shutdown]\ngrace_seconds = 3\n") as server:
        assert server.api("GET", "desktop/").status_code == 200
        wait_until(
            lambda: any(argv(p)[:1] == ["xterm"] for p in marked_processes(server.mark)),
            30,
            "xterm in the desktop",
        )
        server.process.send_signal(signal.SIGTERM)
        wait_until(
            lambda: server.process.poll() is not None and not marked_processes(server.mark),
            10,
            "server, xpra, Xvfb and xterm gone",
        )
