"""The server commands' fast path (cli/fast.py): it reads a command line only as click
would, leaves everything else to click, and fails exactly as the click path does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from fixtures.jobemu import JOBWRAPPER, base_environ, make_job
from hypothesis import given, settings
from hypothesis import strategies as st

import jobwrapper.cli.notebook as notebook_commands
from jobwrapper.cli import main as cli_main
from jobwrapper.cli.fast import server_args, server_command
from jobwrapper.cli.group import cli

TOKENS = ["--", "-h", "--help", "--help=x", "-x", "-xh", "-hx", "--foo", "--foo=bar",
          "--foo=--help", "-", "", "foo", "--version", "--h", "---", "--=x", "-=",
          "two words", "--allow-root", "-1", "--ServerApp.ip=0.0.0.0", "lab"]


def click_reads(command: str, tokens: list[str], monkeypatch: pytest.MonkeyPatch
                ) -> tuple[str, ...] | None:
    """The server arguments click hands to the command, or None if it did not call it."""
    called: list[tuple[str, ...]] = []
    monkeypatch.setattr(notebook_commands, "_start",
                        lambda kind, args: called.append(tuple(args)))
    CliRunner().invoke(cli, [command, *tokens])
    return called[0] if called else None


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["lab", "singleuser"]), st.lists(st.sampled_from(TOKENS), max_size=5))
def test_the_fast_path_reads_a_command_line_as_click_does(command: str, tokens: list[str]
                                                          ) -> None:
    fast = server_args(tokens)
    if fast is None:
        return  # click's to read
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert click_reads(command, tokens, monkeypatch) == fast


@pytest.mark.parametrize(("tokens", "expected"), [
    ([], ()),
    (["--", "--allow-root"], ("--allow-root",)),
    (["--ServerApp.ip=0.0.0.0", "notebook.ipynb"], ("--ServerApp.ip=0.0.0.0", "notebook.ipynb")),
    (["--", "--", "-h"], ("--", "-h")),
])
def test_the_usual_server_command_lines_take_the_fast_path(tokens: list[str],
                                                           expected: tuple[str, ...]) -> None:
    assert server_args(tokens) == expected
    assert server_command(["lab", *tokens], {}) == ("lab", expected)
    assert server_command(["singleuser", *tokens], {}) == ("singleuser", expected)


@pytest.mark.parametrize("argv", [
    ["lab", "-h"], ["lab", "--help"], ["lab", "x", "--help"], ["lab", "-xh"], ["--version"],
    ["--help"], ["env"], ["run", "--", "true"], [], ["labx"],
])
def test_help_version_short_options_and_other_commands_are_left_to_click(argv: list[str]
                                                                         ) -> None:
    assert server_command(argv, {}) is None


def test_shell_completion_is_left_to_click() -> None:
    assert server_command(["lab"], {"_JOBWRAPPER_COMPLETE": "bash_source"}) is None


CLICK_PATH = """
import sys
sys.argv = [{script!r}, *sys.argv[1:]]
from jobwrapper.cli.group import click_main
click_main()
"""


def both_paths(argv: list[str], environ: dict[str, str], cwd: Path
               ) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
    """``jobwrapper ARGV`` (fast path where it applies) and the same through click only."""
    fast = subprocess.run([JOBWRAPPER, *argv], env=environ, cwd=cwd, capture_output=True,
                          text=True, timeout=60, check=False)
    slow = subprocess.run([sys.executable, "-c", CLICK_PATH.format(script=JOBWRAPPER), *argv],
                          env=environ, cwd=cwd, capture_output=True, text=True, timeout=60,
                          check=False)
    return fast, slow


@pytest.mark.parametrize("argv", [
    ["lab", "--help"], ["singleuser", "-h"], ["--version"], ["--bogus"], ["lab", "-x"],
    ["nosuch"], ["lab", "--", "--help"],
])
def test_the_console_script_answers_as_the_click_path(tmp_path: Path, argv: list[str]
                                                      ) -> None:
    environ = {**base_environ(tmp_path), "JOBWRAPPER_CONFIG": str(tmp_path / "missing.toml")}
    fast, slow = both_paths(argv, environ, tmp_path)
    assert (fast.returncode, fast.stdout, fast.stderr) == \
        (slow.returncode, slow.stdout, slow.stderr)
    assert "Traceback" not in fast.stderr


@pytest.mark.parametrize("argv", [
    ["lab"], ["lab", "--", "--allow-root"], ["singleuser", "--ServerApp.x=1"],
])
def test_a_fast_start_that_fails_fails_as_the_click_path(tmp_path: Path, argv: list[str]
                                                        ) -> None:
    # a site config that does not exist: exit 3 and one line
    environ = {**base_environ(tmp_path), **make_job(tmp_path / "scratch"),
               "JOBWRAPPER_CONFIG": str(tmp_path / "missing.toml")}
    fast, slow = both_paths(argv, environ, tmp_path)
    assert (fast.returncode, fast.stdout, fast.stderr) == \
        (slow.returncode, slow.stdout, slow.stderr)
    assert fast.returncode == 3
    assert fast.stderr.count("\n") == 1 and fast.stderr.startswith("jobwrapper: ")


def test_singleuser_without_a_hub_fails_as_the_click_path(tmp_path: Path) -> None:
    environ = {**base_environ(tmp_path), **make_job(tmp_path / "scratch")}
    fast, slow = both_paths(["singleuser"], environ, tmp_path)
    assert (fast.returncode, fast.stdout, fast.stderr) == \
        (slow.returncode, slow.stdout, slow.stderr)
    assert fast.returncode == 6 and "JUPYTERHUB_API_URL" in fast.stderr


def test_an_interrupted_fast_start_says_aborted_as_click_does(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import jobwrapper.cli.serve as serve

    def interrupted(kind: str, args: tuple[str, ...]) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(serve, "start", interrupted)
    for argv, expect_fast in ((["jobwrapper", "lab"], True), (["jobwrapper", "lab", "-xy"], False)):
        monkeypatch.setattr(notebook_commands, "_start", interrupted)
        monkeypatch.setattr(sys, "argv", argv)
        assert (server_command(argv[1:]) is not None) == expect_fast
        with pytest.raises(SystemExit) as exit_info:
            cli_main()
        assert exit_info.value.code == 1
        assert capsys.readouterr().err == "\njobwrapper: aborted\n"
