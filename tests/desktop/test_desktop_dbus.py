"""desktop.dbus_session: the desktop's start command in a private D-Bus session bus whose
socket is a unix socket in the desktop's 0700 directory (issue 16 part 6)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from desktop_checks import argv, tcp_listeners, xpra_processes
from jupyter_harness import jupyter_server, marked_processes, wait_until

from jobwrapper.config import parse_config
from jobwrapper.inserver.desktop import dbus_session_config, proxy_entry

DBUS_ON = "[desktop]\ndbus_session = true\n"
needs_dbus = pytest.mark.skipif(
    shutil.which("dbus-run-session") is None or shutil.which("dbus-send") is None,
    reason="needs dbus-run-session and dbus-send (Debian: dbus-bin)")


def fake_bin(tmp_path: Path, *names: str) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name in names:
        (bin_dir / name).write_text("#!/bin/sh\nexit 0\n")
        (bin_dir / name).chmod(0o755)
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700, exist_ok=True)
    return {"PATH": str(bin_dir), "XDG_RUNTIME_DIR": str(runtime)}


def start_word(entry: dict) -> str:
    return next(word for word in entry["command"] if word.startswith("--start="))


def test_no_dbus_session_by_default(tmp_path: Path) -> None:
    environ = fake_bin(tmp_path, "xpra", "dbus-run-session")
    entry = proxy_entry(parse_config("", "site.toml"), environ)
    assert start_word(entry) == "--start=xterm"
    assert not list(Path(environ["XDG_RUNTIME_DIR"]).rglob("dbus-session.conf"))


def test_the_start_command_runs_in_a_private_session_bus(tmp_path: Path) -> None:
    environ = fake_bin(tmp_path, "xpra", "dbus-run-session")
    entry = proxy_entry(parse_config(DBUS_ON, "site.toml"), environ)
    directory = Path(entry["unix_socket"]).parent
    assert start_word(entry) == (f"--start={tmp_path}/bin/dbus-run-session "
                                 f"--config-file={directory}/dbus-session.conf -- xterm")
    config = (directory / "dbus-session.conf").read_text()
    assert f"<listen>unix:dir={directory}</listen>" in config
    assert "tcp" not in config and "<include" not in config


def test_without_dbus_run_session_the_desktop_starts_as_before(tmp_path: Path) -> None:
    environ = fake_bin(tmp_path, "xpra")
    entry = proxy_entry(parse_config(DBUS_ON, "site.toml"), environ)
    assert start_word(entry) == "--start=xterm"
    assert entry["launcher_entry"]["enabled"] is True


def test_a_directory_name_cannot_break_out_of_the_config(tmp_path: Path) -> None:
    text = dbus_session_config(Path("/tmp/a</listen><listen>tcp:host=0.0.0.0"))
    assert "<listen>tcp" not in text and text.count("<listen>") == 1


@needs_dbus
def test_the_bus_listens_only_in_the_private_directory(tmp_path: Path) -> None:
    directory = tmp_path / "desktop"
    directory.mkdir(mode=0o700)
    (directory / "dbus-session.conf").write_text(dbus_session_config(directory))
    script = ('echo "$DBUS_SESSION_BUS_ADDRESS"; dbus-send --session --print-reply '
              '--dest=org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.GetId')
    result = subprocess.run(
        ["dbus-run-session", f"--config-file={directory}/dbus-session.conf", "--",
         "sh", "-c", script], capture_output=True, text=True, timeout=60, check=True)
    address = result.stdout.splitlines()[0]
    assert address.startswith(f"unix:path={directory}/dbus-"), address
    assert "string " in result.stdout  # the bus answered
    assert not list(directory.glob("dbus-*[!f]"))  # the socket is gone with the session


@needs_dbus
def test_desktop_programs_get_the_session_bus_and_nothing_listens_on_tcp(
        tmp_path: Path) -> None:
    seen = tmp_path / "bus-address"
    start = (f'echo "$DBUS_SESSION_BUS_ADDRESS" > {seen}.tmp && mv {seen}.tmp {seen}; '
             "sleep 60")
    site = f"{DBUS_ON}start = ['sh', '-c', '{start}']\n"  # TOML literal strings
    with jupyter_server(tmp_path, site_config=site) as server:
        page = server.api("GET", "desktop/")
        assert page.status_code == 200, page.text[:500]
        wait_until(seen.exists, timeout=30, what="the start command ran")
        address = seen.read_text().strip()
        assert address.startswith("unix:path="), address
        socket_path = Path(address[len("unix:path="):].split(",")[0])
        words = argv(xpra_processes(server.mark)[0])
        bind = Path(next(w for w in words if w.startswith("--bind="))[len("--bind="):])
        assert socket_path.parent == bind.parent  # xpra's own 0700 directory
        assert socket_path.parent.stat().st_mode & 0o077 == 0
        others = [p for p in marked_processes(server.mark) if p != server.process.pid]
        assert tcp_listeners(others) == [], "nothing but the server listens on TCP"


@needs_dbus
def test_sigterm_ends_the_session_bus_with_the_desktop(tmp_path: Path) -> None:
    import signal

    site = f"{DBUS_ON}[shutdown]\ngrace_seconds = 3\n"
    with jupyter_server(tmp_path, site_config=site) as server:
        assert server.api("GET", "desktop/").status_code == 200

        def bus_daemons() -> list[int]:
            return [p for p in marked_processes(server.mark)
                    if any(word.endswith("dbus-daemon") for word in argv(p)[:1])]

        wait_until(bus_daemons, 30, "the desktop's dbus-daemon")
        server.process.send_signal(signal.SIGTERM)
        wait_until(
            lambda: server.process.poll() is not None and not marked_processes(server.mark),
            10,
            "server, xpra, xterm, dbus-run-session and dbus-daemon gone",
        )
