"""The user's OS-specific rc file (login.rc_pattern, login.csh_rc_pattern) in real login
shells: sourced by the profile.d scripts in interactive shells only, and only when it
is the user's own file that nobody else can write (issue 16 part 6)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from jobfixtures import (
    LOGIN_SHELLS,
    EmulatedJob,
    emulate_job,
    install_profile_d,
    run_login,
    source_line,
)
from test_profile_d_forks import _CHECK, process_starts  # the same strace count

SH_RC = "RC_SOURCED=yes; export RC_SOURCED\n"
CSH_RC = "setenv RC_SOURCED yes\n"
REFUSED = "is not sourced: it must be your own file"


@pytest.fixture
def profile_d(tmp_path: Path) -> Path:
    return install_profile_d(tmp_path / "etc")


@pytest.fixture
def job(tmp_path: Path) -> EmulatedJob:
    return emulate_job(tmp_path, "notebook")  # OsUser alice, ContainerOS Rocky9


def site_config(tmp_path: Path, enabled: bool = True) -> Path:
    config = tmp_path / "site.toml"
    config.write_text(f'[login]\nrc_pattern = "{tmp_path}/rc/{{user}}/{{container}}"\n'
                      f'csh_rc_pattern = "{tmp_path}/rc/{{user}}/{{container}}.csh"\n'
                      if enabled else "")
    return config


def rc_file(tmp_path: Path, shell: str, mode: int = 0o644, dir_mode: int = 0o755) -> Path:
    directory = tmp_path / "rc" / "alice"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / ("Rocky9.csh" if shell == "tcsh" else "Rocky9")
    path.write_text(CSH_RC if shell == "tcsh" else SH_RC)
    path.chmod(mode)
    directory.chmod(dir_mode)
    return path


def login(shell: str, job: EmulatedJob, tmp_path: Path, profile_d: Path, enabled: bool = True,
          interactive: bool = True):
    environ = job.env(JOBWRAPPER_CONFIG=str(site_config(tmp_path, enabled)))
    return run_login(shell, environ, tmp_path, profile_d, interactive=interactive)


@pytest.mark.parametrize("shell", LOGIN_SHELLS)
def test_the_users_rc_file_is_sourced_in_an_interactive_login(shell, job, profile_d, tmp_path):
    rc_file(tmp_path, shell)
    result = login(shell, job, tmp_path, profile_d)
    assert result.environ.get("RC_SOURCED") == "yes"
    assert "jobwrapper:" not in result.output


@pytest.mark.parametrize("shell", LOGIN_SHELLS)
def test_no_rc_file_is_sourced_when_the_site_does_not_name_one(shell, job, profile_d, tmp_path):
    rc_file(tmp_path, shell)
    result = login(shell, job, tmp_path, profile_d, enabled=False)
    assert "RC_SOURCED" not in result.environ
    assert "JOBWRAPPER_LOGIN_RC" not in result.environ


@pytest.mark.parametrize("shell", ["bash", "dash", "zsh"])
def test_a_non_interactive_login_does_not_source_it(shell, job, profile_d, tmp_path):
    rc_file(tmp_path, shell)
    result = login(shell, job, tmp_path, profile_d, interactive=False)
    assert "RC_SOURCED" not in result.environ
    assert result.environ["JOBWRAPPER_LOGIN_RC"] == f"{tmp_path}/rc/alice/Rocky9"


@pytest.mark.parametrize("shell", LOGIN_SHELLS)
def test_a_missing_rc_file_is_silent(shell, job, profile_d, tmp_path):
    result = login(shell, job, tmp_path, profile_d)
    assert "RC_SOURCED" not in result.environ and "jobwrapper:" not in result.output


@pytest.mark.parametrize("mode", [0o666, 0o664, 0o646])
@pytest.mark.parametrize("shell", LOGIN_SHELLS)
def test_an_rc_file_writable_by_others_is_refused_in_one_line(shell, mode, job, profile_d,
                                                               tmp_path):
    path = rc_file(tmp_path, shell, mode=mode)
    result = login(shell, job, tmp_path, profile_d)
    assert "RC_SOURCED" not in result.environ
    lines = [line for line in result.output.splitlines() if "jobwrapper:" in line]
    assert lines == [f"jobwrapper: {path} {REFUSED}, and neither it nor its directory "
                     "writable by group or others (chmod go-w)"]


@pytest.mark.parametrize("shell", LOGIN_SHELLS)
def test_an_rc_file_in_a_directory_writable_by_others_is_refused(shell, job, profile_d,
                                                                 tmp_path):
    path = rc_file(tmp_path, shell, dir_mode=0o1777)
    result = login(shell, job, tmp_path, profile_d)
    assert "RC_SOURCED" not in result.environ
    assert f"jobwrapper: {path} {REFUSED}" in result.output


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the file to another user")
@pytest.mark.parametrize("shell", LOGIN_SHELLS)
def test_an_rc_file_of_another_user_is_refused(shell, job, profile_d, tmp_path):
    path = rc_file(tmp_path, shell)
    os.chown(path, 4242, 4242)
    result = login(shell, job, tmp_path, profile_d)
    assert "RC_SOURCED" not in result.environ
    assert f"jobwrapper: {path} {REFUSED}" in result.output


@pytest.mark.parametrize("shell", ["bash", "tcsh"])
def test_a_symlinked_rc_file_is_judged_by_its_target(shell, job, profile_d, tmp_path):
    target = rc_file(tmp_path, shell)
    link = target.with_name("link")
    link.symlink_to(target.name)
    target.rename(target.with_name("real"))
    link.rename(target)  # Rocky9 -> real is now a symlink
    (target.with_name("real")).chmod(0o666)
    result = login(shell, job, tmp_path, profile_d)
    assert "RC_SOURCED" not in result.environ


@pytest.mark.parametrize("shell", ["bash", "dash"])
def test_an_rc_file_that_fails_under_set_eu_is_the_users_but_a_refused_one_never_ends_the_login(
        shell, job, profile_d, tmp_path):
    rc_file(tmp_path, shell, mode=0o666)
    environ = job.env(JOBWRAPPER_CONFIG=str(site_config(tmp_path)))
    result = run_login(shell, environ, tmp_path, profile_d, prelude="set -eu")
    assert result.returncode == 0 and result.environ.get("TMPDIR")


def test_the_rc_file_is_checked_again_at_every_login(job, profile_d, tmp_path):
    path = rc_file(tmp_path, "bash", mode=0o666)
    assert "RC_SOURCED" not in login("bash", job, tmp_path, profile_d).environ
    path.chmod(0o644)  # fixed during the job: the next login sources it
    assert login("bash", job, tmp_path, profile_d).environ.get("RC_SOURCED") == "yes"


@pytest.mark.skipif(subprocess.run(["which", "strace"], capture_output=True).returncode != 0,
                    reason="needs strace")
@pytest.mark.parametrize("shell", ["bash", "dash", "zsh", "tcsh"])
def test_a_site_rc_pattern_without_the_users_file_starts_no_process(shell, job, profile_d,
                                                                    tmp_path):
    environ = job.env(JOBWRAPPER_CONFIG=str(site_config(tmp_path)))
    subprocess.run(["jobwrapper", "env"], env=environ, check=True, capture_output=True)
    environ = {**job.env(with_jobwrapper=False), "JOBWRAPPER_CONFIG": environ["JOBWRAPPER_CONFIG"]}
    check = _CHECK["tcsh" if shell == "tcsh" else "sh"]
    sourcing = process_starts(shell, f"{source_line(shell, profile_d)}\n{check}\n", environ,
                              tmp_path)
    assert sourcing == process_starts(shell, ":\n", environ, tmp_path)


@pytest.mark.skipif(subprocess.run(["which", "strace"], capture_output=True).returncode != 0,
                    reason="needs strace")
@pytest.mark.parametrize("shell", ["bash", "dash", "zsh", "tcsh"])
def test_once_checked_the_rc_file_is_sourced_without_a_process(shell, job, profile_d,
                                                               tmp_path):
    rc_file(tmp_path, shell)
    assert login(shell, job, tmp_path, profile_d).environ.get("RC_SOURCED") == "yes"
    environ = {**job.env(with_jobwrapper=False),
               "JOBWRAPPER_CONFIG": str(site_config(tmp_path))}
    check = ("if (! $?RC_SOURCED) exit 3" if shell == "tcsh"
             else '[ -n "${RC_SOURCED-}" ] || exit 3')
    sourcing = process_starts(shell, f"{source_line(shell, profile_d)}\n{check}\n", environ,
                              tmp_path)
    assert sourcing == process_starts(shell, ":\n", environ, tmp_path)


@pytest.mark.parametrize("shell", ["bash", "dash", "zsh"])
def test_a_checked_file_made_writable_and_then_changed_is_checked_again(shell, job, profile_d,
                                                                        tmp_path):
    path = rc_file(tmp_path, shell)
    assert login(shell, job, tmp_path, profile_d).environ.get("RC_SOURCED") == "yes"
    path.chmod(0o666)  # a chmod alone leaves the mtime: what someone else writes does not
    path.write_text("RC_SOURCED=changed; export RC_SOURCED\n")
    later = path.stat().st_mtime + 5
    os.utime(path, (later, later))
    result = login(shell, job, tmp_path, profile_d)
    assert "RC_SOURCED" not in result.environ
    assert f"jobwrapper: {path} {REFUSED}" in result.output


def test_the_check_of_another_file_does_not_count(job, profile_d, tmp_path):
    path = rc_file(tmp_path, "bash", mode=0o666)
    login("bash", job, tmp_path, profile_d)  # creates the job's cache
    (job.private_dir / "rc-checked").write_text(f"{path}.other\n")
    os.utime(job.private_dir / "rc-checked", (path.stat().st_mtime + 5,) * 2)
    assert "RC_SOURCED" not in login("bash", job, tmp_path, profile_d).environ


@pytest.mark.parametrize("shell", LOGIN_SHELLS)
def test_a_relative_rc_path_is_never_sourced(shell, job, profile_d, tmp_path):
    rc_file(tmp_path, shell)
    name = "Rocky9.csh" if shell == "tcsh" else "Rocky9"
    variable = "JOBWRAPPER_LOGIN_CSHRC" if shell == "tcsh" else "JOBWRAPPER_LOGIN_RC"
    environ = job.env(**{variable: name}, PATH=f"{tmp_path}/rc/alice:/usr/bin:/bin")
    result = run_login(shell, environ, tmp_path / "rc" / "alice", profile_d)
    assert "RC_SOURCED" not in result.environ
