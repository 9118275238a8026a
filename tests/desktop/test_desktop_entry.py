"""The desktop's jupyter-server-proxy entry, as data (no server needed)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from jobwrapper.config import parse_config
from jobwrapper.inserver.desktop import desktop_dir, proxy_entry, unavailable_reason


@pytest.fixture
def fake_xpra(tmp_path: Path) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    xpra = bin_dir / "xpra"
    xpra.write_text("#!/bin/sh\nexit 0\n")
    xpra.chmod(0o755)
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    return {"PATH": str(bin_dir), "XDG_RUNTIME_DIR": str(runtime)}


def test_entry_listens_on_a_socket_in_a_new_private_dir(fake_xpra: dict[str, str]) -> None:
    entry = proxy_entry(parse_config("", "site.toml"), fake_xpra)
    socket = Path(entry["unix_socket"])
    assert socket.parent.parent == Path(fake_xpra["XDG_RUNTIME_DIR"])
    assert stat.S_IMODE(socket.parent.stat().st_mode) == 0o700
    assert f"--bind={socket}" in entry["command"]
    assert not [word for word in entry["command"] if "tcp" in word or "password" in word]
    assert entry["launcher_entry"]["enabled"] is True


def test_configured_start_command_is_used(fake_xpra: dict[str, str]) -> None:
    site = parse_config('[desktop]\nstart = ["xterm", "-fs", "14"]\n', "site.toml")
    assert "--start=xterm -fs 14" in proxy_entry(site, fake_xpra)["command"]


def test_debian_xsession_start_is_replaced(fake_xpra: dict[str, str]) -> None:
    entry = proxy_entry(parse_config("", "site.toml"), fake_xpra)
    conf_dir = Path(entry["environment"]["XPRA_USER_CONF_DIRS"])
    assert "start =\n" in (conf_dir / "xpra.conf").read_text()


def test_turned_off_desktop_is_not_offered(fake_xpra: dict[str, str]) -> None:
    site = parse_config("[desktop]\nenabled = false\n", "site.toml")
    assert proxy_entry(site, fake_xpra)["launcher_entry"]["enabled"] is False
    assert "desktop.enabled" in unavailable_reason(site, fake_xpra)


def test_missing_xpra_is_one_line() -> None:
    reason = unavailable_reason(parse_config("", "site.toml"), {"PATH": "/nonexistent"})
    assert "needs xpra" in reason and "\n" not in reason


def test_too_long_runtime_dir_falls_back_to_tmp(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 90)
    deep.mkdir()
    directory = desktop_dir({"XDG_RUNTIME_DIR": str(deep)})
    try:
        assert len(str(directory / "xpra.sock")) < 108
        assert not str(directory).startswith(str(deep))
    finally:
        directory.rmdir()
