"""The job commands as users run them: env, info, plan, run (real subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from fixtures.jobemu import JOBWRAPPER, base_environ, make_job, run_cli, stderr_lines

from jobwrapper import __version__, errors
from jobwrapper.job.plan import PRIVATE_DIR_NAME

COMMANDS = ("env", "info", "plan", "run")


@pytest.fixture
def job(tmp_path: Path) -> dict[str, str]:
    """The real notebook job's ads in a scratch dir, and a clean environment."""
    return {**base_environ(tmp_path), **make_job(tmp_path / "scratch", "real-notebook")}


def tree(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*"))


def json_env(environ: dict[str, str]) -> dict:
    result = run_cli(["env", "--shell", "json"], environ)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_help(command, job):
    result = run_cli([command, "--help"], job)
    assert result.returncode == 0
    assert result.stdout.startswith(f"Usage: jobwrapper {command} ")


def test_version_is_printed():
    result = run_cli(["--version"], {"PATH": "/usr/bin:/bin"})
    assert (result.returncode, result.stdout.strip()) == (0, f"jobwrapper, version {__version__}")


def test_top_level_help_lists_the_exit_codes():
    result = run_cli(["--help"], {"PATH": "/usr/bin:/bin"})
    text = " ".join(result.stdout.split())
    assert "Exit codes: 0 success, 1 failure, 2 usage, 3 site config, 4 job ads" in text


def test_info_prints_the_message_of_the_real_notebook_job(job):
    result = run_cli(["info"], job)
    assert result.returncode == 0
    assert result.stderr == ""
    assert result.stdout.splitlines()[:2] == [
        "You requested 2 core(s), 2048 MB RAM, 1048576 kB disk space.",
        "The slot provides 2 core(s), 2048 MB RAM, 1049600 kB disk space.",
    ]


def test_info_outside_htcondor_says_no_job_found(tmp_path):
    result = run_cli(["info"], base_environ(tmp_path))
    assert result.returncode == 0
    assert result.stdout.startswith(
        "No HTCondor or Slurm job found (neither _CONDOR_JOB_AD nor SLURM_JOB_ID is set)")


def test_info_and_plan_have_no_side_effects(job, tmp_path):
    before = tree(tmp_path)
    for command in ("info", "plan"):
        assert run_cli([command], job).returncode == 0
    assert tree(tmp_path) == before


def test_plan_shows_directories_environment_and_message(job, tmp_path):
    result = run_cli(["plan"], job)
    private = tmp_path / "scratch" / PRIVATE_DIR_NAME
    assert f"Private directory: {private} (mode 0700)" in result.stdout
    assert "  OMP_NUM_THREADS='2'" in result.stdout
    assert "  You requested 2 core(s), 2048 MB RAM, 1048576 kB disk space." in result.stdout


def test_plan_shows_the_servers_bind_who_chose_it_and_the_address(job, tmp_path):
    Path(job["JOBWRAPPER_CONFIG"]).write_text('[server]\ndirect_address = "10.9.8.7"\n')
    result = run_cli(["plan"], {**job, "JOBWRAPPER_SERVER_BIND": "direct"})
    assert result.returncode == 0, result.stderr
    assert ("Notebook server bind: direct (asked by the hub (JOBWRAPPER_SERVER_BIND)): "
            "10.9.8.7 (server.direct_address)") in result.stdout


def test_env_sh_output_evaluates_to_the_jobs_variables(job):
    script = 'eval "$("$0" env --shell sh)" && printf "%s|%s|%s" "$OMP_NUM_THREADS" ' \
             '"$MEM_LIMIT" "$CPU_LIMIT"'
    result = subprocess.run(["sh", "-c", script, JOBWRAPPER], env=job, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.stdout == f"2|{2048 * 1024 * 1024}|2"


def test_env_creates_the_private_dir_and_its_cache(job, tmp_path):
    json_env(job)
    private = tmp_path / "scratch" / PRIVATE_DIR_NAME
    assert (private / "env.sh").is_file()
    assert (private / "message.txt").read_text().startswith("You requested 2 core(s)")


def test_run_gives_the_command_the_same_environment_as_env(job):
    expected = dict(job)
    changes = json_env(job)
    for name in changes["unset"]:
        expected.pop(name, None)
    expected.update(changes["set"])
    result = run_cli(["run", "--", "env", "-0"], job)
    assert result.returncode == 0
    seen = dict(item.split("=", 1) for item in result.stdout.split("\0") if item)
    seen.pop("_", None)  # some env implementations add nothing; shells may add this
    assert seen == expected


def test_run_passes_arguments_and_exit_code_through(job):
    result = run_cli(["run", "--", "sh", "-c", 'echo "$1"; exit 7', "sh", "--not-an-option"], job)
    assert (result.returncode, result.stdout) == (7, "--not-an-option\n")


def test_run_missing_command_exits_127_with_one_line(job):
    result = run_cli(["run", "--", "no-such-command-jobwrapper"], job)
    assert result.returncode == 127
    assert stderr_lines(result) == ["jobwrapper: no-such-command-jobwrapper: command not found"]


def test_run_non_executable_file_exits_126(job, tmp_path):
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)
    if os.getuid() == 0:
        script.chmod(0o600)  # root may execute any file with an x bit: have none
    result = run_cli(["run", "--", str(script)], job)
    assert result.returncode == 126
    assert stderr_lines(result) == [
        f"jobwrapper: {script}: permission denied (is it executable?)"]


def test_run_without_a_command_is_a_usage_error(job):
    assert run_cli(["run"], job).returncode == 2


def test_site_config_error_exits_3_with_one_line(job, tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("[job]\nfix_user_name = 1\n")
    result = run_cli(["info"], {**job, "JOBWRAPPER_CONFIG": str(config)})
    assert result.returncode == 3
    assert stderr_lines(result) == [
        f"jobwrapper: {config}:2: job.fix_user_name: must be true or false"]


def test_every_exit_code_is_documented_in_cli_md():
    docs = (Path(__file__).resolve().parent.parent / "docs" / "cli.md").read_text()
    codes = {name: value for name, value in vars(errors).items() if name.startswith("EXIT_")}
    assert codes
    for name, value in codes.items():
        assert f"| {value} | `{name}` |" in docs, name
