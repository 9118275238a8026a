"""[login] site specifics in the plan: the data dir variable, TZ, the rc file's path;
the path templates and their config errors (issue 16 part 6)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from fixtures.jobemu import JOBWRAPPER, make_job

from jobwrapper.config import SiteConfig, parse_config
from jobwrapper.errors import ConfigError
from jobwrapper.job.context import HostLimits, JobContext, read_context
from jobwrapper.job.login import check_zone, read_host_timezone
from jobwrapper.job.plan import plan
from jobwrapper.pathtemplate import fill, template_problem

HOST = HostLimits(cores=8, memory_mb=16000)
UID = os.getuid()
TZIF = b"TZif2" + b"\0" * 40


def context_for(tmp_path: Path, config_text: str = "", case: str = "good",
                **environ: str) -> JobContext:
    config = parse_config(config_text, "site.toml") if config_text else SiteConfig()
    return read_context({**make_job(tmp_path / "scratch", case), **environ}, config, host=HOST)


def config_error(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "/etc/jobwrapper/config.toml")
    assert "\n" not in str(caught.value)
    return str(caught.value)


def data_config(pattern: str) -> str:
    return f'[login]\ndata_dir_variable = "DATA"\ndata_dir_pattern = "{pattern}"\ntimezone = ""\n'


# --- the template language ---------------------------------------------------------------

def test_a_template_is_filled_by_name():
    values = {"user": "alice", "initial": "a", "group": None, "home": "/home/alice",
              "container": "Rocky9"}
    assert fill("/data/{initial}/{user}", values) == "/data/a/alice"
    assert fill("{home}/.bashrc.d/{container}", values) == "/home/alice/.bashrc.d/Rocky9"


def test_a_template_whose_placeholder_has_no_value_gives_nothing():
    assert fill("/data/{group}/{user}", {"user": "alice", "group": None}) is None


@pytest.mark.parametrize("template", ["/data/{usr}", "/data/{user[0]}", "/data/{user!r}",
                                      "/data/{user:>9}", "/data/{user.__class__}", "/data/{}"])
def test_format_tricks_are_unknown_placeholders(template):
    assert template_problem(template).startswith(f"unknown placeholder {template[6:]}")


@pytest.mark.parametrize("template", ["/data/{user", "/data/user}", "/data/{{user}}"])
def test_a_stray_brace_is_refused(template):
    assert template_problem(template) is not None


def test_a_relative_template_is_refused():
    assert "absolute path" in template_problem("data/{user}")


def test_a_filled_path_with_dotdot_is_not_used():
    assert fill("/data/../{user}", {"user": "alice"}) is None


def test_unknown_placeholder_is_a_one_line_config_error_naming_the_key():
    message = config_error('[login]\ndata_dir_variable = "DATA"\n'
                           'data_dir_pattern = "/data/{usr}"\n')
    assert message.startswith("/etc/jobwrapper/config.toml:3: login.data_dir_pattern: "
                              "unknown placeholder {usr}; known: {user}, {initial}")


def test_unknown_placeholder_in_the_rc_pattern_names_that_key():
    message = config_error('[login]\nrc_pattern = "{home}/.bashrc.d/{os}"\n')
    assert message.startswith("/etc/jobwrapper/config.toml:2: login.rc_pattern: "
                              "unknown placeholder {os}")


def test_data_dir_variable_without_a_pattern_is_a_config_error():
    assert "login.data_dir_variable: needs login.data_dir_pattern too" in config_error(
        '[login]\ndata_dir_variable = "DATA"\n')


def test_data_dir_variable_must_be_a_variable_name():
    assert "'DATA DIR' is not a variable name" in config_error(
        '[login]\ndata_dir_variable = "DATA DIR"\ndata_dir_pattern = "/data/{user}"\n')


@pytest.mark.parametrize("zone", ["../../etc/passwd", "/etc/localtime", "Europe/Berlin;id", " "])
def test_a_timezone_that_is_no_zone_name_is_a_config_error(zone):
    assert "login.timezone" in config_error(f'[login]\ntimezone = "{zone}"\n')


# --- (a) the data directory ----------------------------------------------------------------

def test_data_dir_variable_is_off_by_default(tmp_path):
    (tmp_path / "data" / "a" / "alice").mkdir(parents=True)
    setup = plan(context_for(tmp_path), UID)
    assert "DATA" not in setup.env


def test_data_dir_variable_names_the_users_existing_directory(tmp_path):
    (tmp_path / "data" / "a" / "alice").mkdir(parents=True)
    context = context_for(tmp_path, data_config(f"{tmp_path}/data/{{initial}}/{{user}}"))
    assert plan(context, UID).env["DATA"] == f"{tmp_path}/data/a/alice"


def test_the_user_comes_from_the_job_ad_not_from_the_environment(tmp_path):
    (tmp_path / "data" / "mallory").mkdir(parents=True)
    (tmp_path / "data" / "alice").mkdir(parents=True)
    context = context_for(tmp_path, data_config(f"{tmp_path}/data/{{user}}"),
                          USER="mallory", LOGNAME="mallory")
    assert plan(context, UID).env["DATA"] == f"{tmp_path}/data/alice"


def test_a_missing_data_dir_sets_nothing_and_says_so_in_one_line(tmp_path):
    context = context_for(tmp_path, data_config(f"{tmp_path}/data/{{user}}"))
    setup = plan(context, UID)
    assert "DATA" not in setup.env
    assert setup.notes == (f"data directory {tmp_path}/data/alice does not exist "
                           "(login.data_dir_pattern); DATA is not set",)
    assert setup.notes[0] in str(setup)  # jobwrapper plan shows it
    assert not setup.warnings  # not a warning at every login


def test_a_job_without_a_user_name_sets_no_data_dir(tmp_path):
    context = replace(context_for(tmp_path, data_config(f"{tmp_path}/data/{{user}}")),
                      owner=None)  # OsUser and Owner were not user names
    setup = plan(context, UID)
    assert "DATA" not in setup.env and "{user} unknown in this job" in setup.notes[0]


def test_jobwrapper_env_prints_the_data_dir_for_login_shells(tmp_path):
    (tmp_path / "data" / "alice").mkdir(parents=True)
    config = tmp_path / "site.toml"
    config.write_text(data_config(f"{tmp_path}/data/{{user}}"))
    environ = {**make_job(tmp_path / "scratch"), "PATH": "/usr/bin:/bin",
               "JOBWRAPPER_CONFIG": str(config), "HOME": str(tmp_path)}
    result = subprocess.run([JOBWRAPPER, "env", "--shell", "sh"], env=environ,
                            capture_output=True, text=True, check=True)
    assert f"  DATA='{tmp_path}/data/alice'" in result.stdout


def test_a_bad_pattern_stops_jobwrapper_with_one_line_naming_the_key(tmp_path):
    config = tmp_path / "site.toml"
    config.write_text('[login]\nrc_pattern = "{home}/{user[0]}"\n')
    environ = {**make_job(tmp_path / "scratch"), "PATH": "/usr/bin:/bin",
               "JOBWRAPPER_CONFIG": str(config)}
    result = subprocess.run([JOBWRAPPER, "env"], env=environ, capture_output=True, text=True)
    assert result.returncode == 3
    assert result.stderr.count("\n") == 1
    assert f"{config}:2: login.rc_pattern: unknown placeholder {{user[0]}}" in result.stderr


# --- (b) the rc file's path (the profile.d scripts check and source it) -------------------

def test_no_rc_file_by_default(tmp_path):
    env = plan(context_for(tmp_path), UID).env
    assert "JOBWRAPPER_LOGIN_RC" not in env and "JOBWRAPPER_LOGIN_CSHRC" not in env


def test_the_rc_files_path_uses_the_safe_container_label(tmp_path):
    context = context_for(tmp_path, '[login]\nrc_pattern = "/rc/{user}/{container}"\n'
                                    'csh_rc_pattern = "/rc/{user}/{container}.csh"\n')
    env = plan(context, UID).env
    assert env["JOBWRAPPER_LOGIN_RC"] == "/rc/alice/Rocky9"
    assert env["JOBWRAPPER_LOGIN_CSHRC"] == "/rc/alice/Rocky9.csh"


def test_a_container_that_is_not_a_plain_name_names_no_rc_file(tmp_path):
    context = context_for(tmp_path, '[login]\nrc_pattern = "/rc/{container}"\n',
                          case="container-os-hostile")
    setup = plan(context, UID)
    assert "JOBWRAPPER_LOGIN_RC" not in setup.env
    assert "login.rc_pattern: {container} unknown in this job" in setup.notes[0]


# --- (c) the time zone ------------------------------------------------------------------------

def zone_tree(root: Path, *zones: str) -> Path:
    for zone in zones:
        path = root / "usr" / "share" / "zoneinfo" / zone
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(TZIF + zone.encode())
    (root / "etc").mkdir(parents=True, exist_ok=True)
    return root


def test_timezone_from_the_localtime_symlink(tmp_path):
    root = zone_tree(tmp_path, "Europe/Berlin")
    os.symlink("../usr/share/zoneinfo/Europe/Berlin", root / "etc" / "localtime")
    assert read_host_timezone(str(root)) == ("Europe/Berlin", "")


def test_timezone_from_etc_timezone_when_localtime_is_a_copy_of_that_zone(tmp_path):
    root = zone_tree(tmp_path, "Europe/Berlin")
    (root / "etc" / "timezone").write_text("Europe/Berlin\n")
    (root / "etc" / "localtime").write_bytes(TZIF + b"Europe/Berlin")  # bind-mounted copy
    assert read_host_timezone(str(root)) == ("Europe/Berlin", "")


def test_a_stale_etc_timezone_that_contradicts_localtime_is_not_used(tmp_path):
    root = zone_tree(tmp_path, "Europe/Berlin", "Etc/UTC")
    (root / "etc" / "timezone").write_text("Etc/UTC\n")
    (root / "etc" / "localtime").write_bytes(TZIF + b"Europe/Berlin")
    zone, why = read_host_timezone(str(root))
    assert zone is None and "/etc/localtime holds another zone" in why


def test_a_zone_missing_from_the_container_is_not_used(tmp_path):
    root = zone_tree(tmp_path)
    os.symlink("/usr/share/zoneinfo/Asia/Tokyo", root / "etc" / "localtime")
    zone, why = read_host_timezone(str(root))
    assert zone is None and "Asia/Tokyo is not in /usr/share/zoneinfo here" in why


@pytest.mark.parametrize("content", ["Europe/Berlin; id\n", "$(id)\n", "../../etc/passwd\n",
                                     "\n"])
def test_a_bad_etc_timezone_is_not_used(tmp_path, content):
    root = zone_tree(tmp_path, "Europe/Berlin")
    (root / "etc" / "timezone").write_text(content)
    zone, why = read_host_timezone(str(root))
    assert zone is None and "is not a time zone name" in why


def test_a_zone_file_that_is_not_tzif_is_not_a_zone(tmp_path):
    root = zone_tree(tmp_path, "Etc/UTC")
    (root / "usr" / "share" / "zoneinfo" / "README").write_text("not a zone")
    assert check_zone("README", str(root))[0] is None


def test_tz_comes_from_the_host_by_default(tmp_path):
    expected, _ = read_host_timezone()
    setup = plan(context_for(tmp_path), UID)
    assert setup.env.get("TZ") == expected


def test_tz_is_not_set_when_turned_off(tmp_path):
    setup = plan(context_for(tmp_path, '[login]\ntimezone = ""\n'), UID)
    assert "TZ" not in setup.env and not setup.notes


def test_a_tz_that_is_set_already_is_left_alone(tmp_path):
    setup = plan(context_for(tmp_path, TZ="America/Chicago"), UID)
    assert "TZ" not in setup.env
    assert setup.notes == ("TZ is set already ('America/Chicago'); left as it is",)


@pytest.mark.skipif(not Path("/usr/share/zoneinfo/Europe/Berlin").is_file(), reason="tzdata")
def test_a_fixed_zone_from_the_site_config(tmp_path):
    setup = plan(context_for(tmp_path, '[login]\ntimezone = "Europe/Berlin"\n'), UID)
    assert setup.env["TZ"] == "Europe/Berlin"


def test_a_fixed_zone_missing_here_is_one_line_in_the_plan(tmp_path):
    setup = plan(context_for(tmp_path, '[login]\ntimezone = "Mars/Olympus_Mons"\n'), UID)
    assert "TZ" not in setup.env
    assert setup.notes == ("login.timezone: Mars/Olympus_Mons is not in /usr/share/zoneinfo "
                           "here (install tzdata in the container); TZ is not set",)


def test_a_tz_that_is_already_the_hosts_is_no_note(tmp_path):
    zone, _ = read_host_timezone()
    setup = plan(context_for(tmp_path, TZ=zone or ""), UID)
    assert not [note for note in setup.notes if "TZ" in note]


def test_jobwrapper_run_gives_the_command_the_data_dir_and_tz(tmp_path):
    (tmp_path / "data" / "alice").mkdir(parents=True)
    config = tmp_path / "site.toml"
    config.write_text(data_config(f"{tmp_path}/data/{{user}}").replace('timezone = ""',
                                                                        'timezone = "Etc/UTC"'))
    environ = {**make_job(tmp_path / "scratch"), "PATH": "/usr/bin:/bin",
               "JOBWRAPPER_CONFIG": str(config), "HOME": str(tmp_path)}
    result = subprocess.run([JOBWRAPPER, "run", "--", "sh", "-c", 'echo "$DATA $TZ"'],
                            env=environ, capture_output=True, text=True, check=True)
    assert result.stdout == f"{tmp_path}/data/alice Etc/UTC\n"


def test_doctor_shows_a_missing_data_dir_as_one_row(tmp_path):
    from jobwrapper.notebook.doctor import run_checks

    context = context_for(tmp_path, data_config(f"{tmp_path}/data/{{user}}"))
    rows = [row for row in run_checks(context) if row.name == "login settings"]
    assert [(row.status, row.detail) for row in rows] == [
        ("SKIP", f"data directory {tmp_path}/data/alice does not exist (login.data_dir_pattern);"
                 " DATA is not set")]
