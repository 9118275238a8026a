"""VS Code's jupyter-server-proxy entry and doctor's row, as data (no server needed)."""

from __future__ import annotations

import stat
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from jobwrapper.config import parse_config
from jobwrapper.inserver.codeserver import proxy_entry
from jobwrapper.notebook.codeserver import availability, expand, unavailable_reason
from jobwrapper.notebook.doctor import check_code_server


@pytest.fixture
def job_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A fake code-server on PATH, the job's 0700 runtime and private dirs (and the
    socket dir's fallback, TMPDIR, in the test's tmp dir too)."""
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "code-server"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    runtime, private = tmp_path / "run", tmp_path / "private"
    runtime.mkdir(mode=0o700)
    private.mkdir(mode=0o700)
    return {"PATH": str(bin_dir), "XDG_RUNTIME_DIR": str(runtime),
            "JOBWRAPPER_PRIVATE_DIR": str(private), "HOME": str(tmp_path / "home")}


def site(text: str = ""):
    return parse_config(text, "site.toml")


def option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_entry_listens_on_a_socket_in_a_new_private_dir(job_env: dict[str, str]) -> None:
    entry = proxy_entry(site(), job_env, folder="/scratch/jupyter")
    socket = Path(entry["unix_socket"])
    assert socket.parent.parent == Path(job_env["XDG_RUNTIME_DIR"])
    assert socket.parent.name.startswith("vscode-")
    assert stat.S_IMODE(socket.parent.stat().st_mode) == 0o700
    command = entry["command"]
    assert command[0] == str(Path(job_env["PATH"]) / "code-server")
    assert option(command, "--socket") == str(socket)
    assert option(command, "--socket-mode") == "600"
    assert option(command, "--auth") == "none"
    assert {"--disable-telemetry", "--disable-update-check"} <= set(command)
    assert command[-1] == "/scratch/jupyter", "VS Code opens the notebook dir"
    assert not [w for w in command if "password" in w or "bind-addr" in w or "port" in w]
    assert entry["launcher_entry"]["enabled"] is True
    assert entry["launcher_entry"]["title"] == "VS Code"
    assert Path(entry["launcher_entry"]["icon_path"]).is_file()
    assert entry["absolute_url"] is False


def test_config_file_is_ours_and_holds_no_password(job_env: dict[str, str]) -> None:
    command = proxy_entry(site(), job_env, folder="/x")["command"]
    config = Path(option(command, "--config"))
    assert config.parent == Path(option(command, "--socket")).parent
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert "password" not in config.read_text() and "auth: none" in config.read_text()
    assert not Path(job_env["HOME"]).exists(), "nothing written to the home directory"


def test_data_dirs_default_to_the_jobs_private_dir(job_env: dict[str, str]) -> None:
    command = proxy_entry(site(), job_env, folder="/x")["command"]
    private = Path(job_env["JOBWRAPPER_PRIVATE_DIR"]) / "code-server"
    for name, where in (("--user-data-dir", "user-data"), ("--extensions-dir", "extensions")):
        path = Path(option(command, name))
        assert path == private / where
        assert stat.S_IMODE(path.stat().st_mode) == 0o700


def test_without_a_private_dir_data_stays_in_the_socket_dir(job_env: dict[str, str]) -> None:
    del job_env["JOBWRAPPER_PRIVATE_DIR"]
    command = proxy_entry(site(), job_env, folder="/x")["command"]
    socket_dir = Path(option(command, "--socket")).parent
    assert Path(option(command, "--user-data-dir")).parent == socket_dir


def test_site_data_dirs_are_expanded(job_env: dict[str, str]) -> None:
    config = site('[code_server]\nuser_data_dir = "~/.local/share/code-server/user-data"\n'
                  'extensions_dir = "$HOME/ext"\n')
    command = proxy_entry(config, job_env, folder="/x")["command"]
    home = Path(job_env["HOME"])
    assert option(command, "--user-data-dir") == str(home / ".local/share/code-server/user-data")
    assert option(command, "--extensions-dir") == str(home / "ext")
    assert expand("${HOME}/a/$NOT_SET", job_env) == f"{home}/a/$NOT_SET"


def test_extra_args_come_before_the_folder(job_env: dict[str, str]) -> None:
    config = site('[code_server]\nextra_args = ["--locale=de"]\ntitle = "Code"\ntimeout = 90\n')
    entry = proxy_entry(config, job_env, folder="/x")
    assert entry["command"][-2:] == ["--locale=de", "/x"]
    assert entry["launcher_entry"]["title"] == "Code" and entry["timeout"] == 90


@pytest.mark.parametrize("word", ["--bind-addr=0.0.0.0:8080", "--auth", "--password=x",
                                  "--socket", "--user-data-dir=/tmp/x", "--cert"])
def test_extra_args_that_open_a_port_or_set_auth_are_refused(job_env, word) -> None:
    config = site(f'[code_server]\nextra_args = ["{word}"]\n')
    reason = unavailable_reason(config, job_env)
    assert "code_server.extra_args may not contain" in reason and "\n" not in reason
    assert proxy_entry(config, job_env)["launcher_entry"]["enabled"] is False


def test_turned_off_is_not_offered_and_makes_no_dir(job_env: dict[str, str]) -> None:
    config = site("[code_server]\nenabled = false\n")
    entry = proxy_entry(config, job_env)
    assert entry["launcher_entry"]["enabled"] is False
    assert "code_server.enabled" in unavailable_reason(config, job_env)
    assert list(Path(job_env["XDG_RUNTIME_DIR"]).iterdir()) == []


def test_not_installed_is_one_line_and_not_offered(job_env: dict[str, str]) -> None:
    job_env["PATH"] = "/nonexistent"
    reason = unavailable_reason(site(), job_env)
    assert "needs code-server, which is not installed" in reason and "\n" not in reason
    entry = proxy_entry(site(), job_env)
    assert entry["launcher_entry"]["enabled"] is False
    assert list(Path(job_env["XDG_RUNTIME_DIR"]).iterdir()) == []


def test_configured_path_wins_over_path_and_must_exist(job_env, tmp_path: Path) -> None:
    other = tmp_path / "opt" / "code-server"
    other.parent.mkdir()
    other.write_text("#!/bin/sh\n")
    other.chmod(0o755)
    config = site(f'[code_server]\npath = "{other}"\n')
    assert proxy_entry(config, job_env, folder="/x")["command"][0] == str(other)
    missing = site('[code_server]\npath = "/nonexistent/code-server"\n')
    assert availability(missing, job_env)[0] == "config"


def test_relative_data_dir_is_refused(job_env: dict[str, str]) -> None:
    config = site('[code_server]\nextensions_dir = "ext"\n')
    assert "code_server.extensions_dir = 'ext' is not an absolute path" in unavailable_reason(
        config, job_env)


def doctor_row(config_text: str, environ: dict[str, str]):
    return check_code_server(SimpleNamespace(config=site(config_text), environ=environ))


def test_doctor_says_where_code_server_is(job_env: dict[str, str]) -> None:
    row = doctor_row("", job_env)
    assert (row.status, row.detail) == ("OK", str(Path(job_env["PATH"]) / "code-server"))


def test_doctor_skips_a_missing_or_turned_off_code_server_with_the_reason(job_env) -> None:
    row = doctor_row("", {**job_env, "PATH": "/nonexistent"})
    assert row.status == "SKIP"
    assert row.detail.startswith("VS Code needs code-server, which is not installed")
    assert "\n" not in row.detail
    assert doctor_row("[code_server]\nenabled = false\n", job_env).status == "SKIP"


def test_doctor_fails_a_site_config_that_cannot_work(job_env: dict[str, str]) -> None:
    row = doctor_row('[code_server]\nextra_args = ["--port=8080"]\n', job_env)
    assert row.status == "FAIL" and "--port=8080" in row.detail
