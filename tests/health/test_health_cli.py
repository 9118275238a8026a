"""`jobwrapper health` run as the startd runs it: the installed command, in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from health_fixtures import FakeProc, parse_classad

JOBWRAPPER = str(Path(sys.executable).parent / "jobwrapper")


def run_health(tmp_path: Path, config: str, *args: str) -> subprocess.CompletedProcess:
    config_file = tmp_path / "config.toml"
    config_file.write_text(config)
    environ = {**os.environ, "JOBWRAPPER_CONFIG": str(config_file), "PATH": os.defpath}
    return subprocess.run(
        [JOBWRAPPER, "health", *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=60,
        check=False,
    )


def fixture_args(tmp_path: Path) -> list[str]:
    proc = tmp_path / "proc"
    proc.mkdir()
    FakeProc(proc)
    return [
        "--proc",
        str(proc),
        "--window",
        "0.01",
        "--state-file",
        str(tmp_path / "override"),
        "--reboot-required-file",
        str(tmp_path / "reboot-required"),
    ]


def test_health_prints_a_parsable_ad_and_exits_0_even_when_unhealthy(tmp_path):
    finished = run_health(
        tmp_path, '[health]\nreboot_sources = ["file"]\n', *fixture_args(tmp_path)
    )
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.splitlines()[-1] == "- update:true"
    ad = parse_classad(finished.stdout)
    # stat does not change during the window, so iowait cannot be measured
    assert ad["HEALTHY_FOR_INTERACTIVE_USE"] is False
    assert ad["HEALTH_UNKNOWN"] == "iowait"
    assert ad["HEALTH_WINDOW_SECONDS"] == 0.01


def test_thresholds_come_from_the_health_table_of_the_site_config(tmp_path):
    config = "[health]\nreboot_sources = []\nunknown_is_healthy = true\nload_per_core_max = 0.1\n"
    finished = run_health(tmp_path, config, *fixture_args(tmp_path))
    ad = parse_classad(finished.stdout)
    assert ad["HEALTH_FAILED"] == "load"
    assert ad["HEALTH_REASON"].startswith("load 0.25 per core > 0.1")


def test_state_file_option_overrides_the_config(tmp_path):
    args = fixture_args(tmp_path)
    (tmp_path / "override").write_text("unhealthy maintenance window\n")
    finished = run_health(tmp_path, "[health]\nstate_file = '/nonexistent'\n", *args)
    ad = parse_classad(finished.stdout)
    assert ad["HEALTH_REASON"].startswith(f"{tmp_path / 'override'} says unhealthy: maintenance")


def test_unknown_config_key_is_one_line_naming_file_and_key_with_exit_3(tmp_path):
    finished = run_health(tmp_path, "[health]\niowait_percent = 30\n", *fixture_args(tmp_path))
    assert finished.returncode == 3
    assert finished.stdout == ""
    assert finished.stderr.count("\n") == 1
    assert finished.stderr.startswith(f"jobwrapper: {tmp_path / 'config.toml'}")
    assert "health.iowait_percent: unknown key" in finished.stderr
    assert "Traceback" not in finished.stderr


def test_wrong_type_in_config_is_one_line_naming_the_key_with_exit_3(tmp_path):
    finished = run_health(tmp_path, '[health]\nwindow_seconds = "5s"\n', *fixture_args(tmp_path))
    assert finished.returncode == 3
    assert finished.stderr.count("\n") == 1
    assert "health.window_seconds: must be a number" in finished.stderr
    assert "Traceback" not in finished.stderr


def test_missing_default_config_means_defaults(tmp_path):
    args = fixture_args(tmp_path)
    environ = {k: v for k, v in os.environ.items() if k != "JOBWRAPPER_CONFIG"}
    if Path("/etc/jobwrapper/config.toml").exists():  # pragma: no cover - a configured host
        pytest.skip("this host has a site config at the default path")
    finished = subprocess.run(
        [JOBWRAPPER, "health", *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=60,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    assert parse_classad(finished.stdout)["HEALTH_WINDOW_SECONDS"] == 0.01


def test_non_positive_window_is_a_usage_error(tmp_path):
    finished = run_health(tmp_path, "", "--window", "0")
    assert finished.returncode == 2
    assert finished.stdout == ""
