"""Quoting, proven in real shells: arbitrary values round-trip exactly through
eval/source in sh, bash, dash, zsh and an interactive tcsh, and nothing in them runs.

Each example batches several variables into one shell start to stay fast.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jobfixtures import emulate_job

from jobwrapper.job.shells import render

SH_FAMILY = ("sh", "bash", "dash", "zsh")
PAYLOADS = (
    "$(touch canary)", "`touch canary`", "'; touch canary; '", '"; touch canary; "',
    "\ntouch canary\n", "!touch", "${x:=`touch canary`}", "\\'$(touch canary)",
    "'\\''`touch canary`", "\\\n`touch canary`", "!!", "!$", "^a^b", "\\", "'", '"', "",
)
TEXT = st.text(st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)),
               max_size=30)
VALUE = st.one_of(TEXT, st.sampled_from(PAYLOADS),
                  st.builds(lambda a, p, b: a + p + b, TEXT, st.sampled_from(PAYLOADS), TEXT))
ENVS = st.lists(VALUE, min_size=1, max_size=8).map(
    lambda values: {f"JW_TEST_{i}": value for i, value in enumerate(values)})
FAST = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def _environment_seen(argv: list[str], workdir: Path, stdin: str = "") -> dict[bytes, bytes]:
    """Run the shell in ``workdir``; it writes `env -0` to workdir/out."""
    out = workdir / "out"
    if out.exists():
        out.unlink()
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(workdir)}
    subprocess.run(argv, cwd=workdir, env=env, input=stdin.encode(), capture_output=True,
                   timeout=30, check=False)
    entries = out.read_bytes().split(b"\0")
    return dict(entry.partition(b"=")[::2] for entry in entries if entry)


def eval_in_sh(shell: str, text: str, workdir: Path, mode: str) -> dict[bytes, bytes]:
    """eval "$(cat FILE)" (what `eval "$(jobwrapper env)"` does) or `. FILE`."""
    (workdir / "env.sh").write_text(text)
    load = 'eval "$(cat ./env.sh)"' if mode == "eval" else ". ./env.sh"
    return _environment_seen([shell, "-c", f"set -eu; {load}; env -0 > out"], workdir)


def eval_in_tcsh(text: str, workdir: Path, mode: str) -> dict[bytes, bytes]:
    """An interactive tcsh (history substitution on): source FILE or eval "`cat FILE`"."""
    (workdir / "env.csh").write_text(text)
    load = "source env.csh" if mode == "source" else 'eval "`cat env.csh`"'
    return _environment_seen(["tcsh", "-f", "-i"], workdir, f"{load}\nenv -0 > out\n")


def _check(seen: dict[bytes, bytes], expected: dict[str, str], workdir: Path) -> None:
    assert not (workdir / "canary").exists(), "a value ran a command"
    for name, value in expected.items():
        assert seen.get(name.encode()) == value.encode(), name


@pytest.mark.parametrize("mode", ["eval", "source"])
@pytest.mark.parametrize("shell", SH_FAMILY)
@FAST
@given(env=ENVS)
def test_sh_values_round_trip_and_run_nothing(shell, mode, env, tmp_path):
    _check(eval_in_sh(shell, render("sh", env), tmp_path, mode), env, tmp_path)


@FAST
@given(env=ENVS)
def test_csh_values_round_trip_through_source_in_interactive_tcsh(env, tmp_path):
    _check(eval_in_tcsh(render("csh", env), tmp_path, "source"), env, tmp_path)


@FAST
@given(env=ENVS)
def test_csh_eval_of_backquote_keeps_values_except_newlines_and_runs_nothing(env, tmp_path):
    # csh's backquote makes each newline a word break, so `\`+newline arrives as `\ `.
    expected = {name: value.replace("\n", "\\ ") for name, value in env.items()}
    _check(eval_in_tcsh(render("csh", env), tmp_path, "eval"), expected, tmp_path)


@pytest.mark.parametrize("shell", [*SH_FAMILY, "tcsh"])
def test_very_long_values_round_trip(shell, tmp_path):
    env = {"JW_LONG": "a'b$c`d!e\\f\n" * 6000}  # Linux caps one variable at 128 KiB
    if shell == "tcsh":
        seen = eval_in_tcsh(render("csh", env), tmp_path, "source")
    else:
        seen = eval_in_sh(shell, render("sh", env), tmp_path, "source")
    _check(seen, env, tmp_path)


HOSTILE = "x $(touch canary) `touch canary` 'q\" !! \\ é"


@pytest.fixture
def hostile_job(tmp_path: Path):
    """A job whose scratch dir, ContainerOS and JUPYTER_PATH carry shell syntax."""
    job = emulate_job(tmp_path, "notebook", scratch_name=f"scratch {HOSTILE}")
    ad = job.scratch_dir / ".job.ad"
    text = ad.read_text().replace('ContainerOS = "Rocky9"',
                                  'ContainerOS = "Rocky9$(touch canary)`touch canary`"')
    ad.write_text(text)
    return job.env(JUPYTER_PATH=HOSTILE)


def _jobwrapper_env(environ: dict[str, str], shell: str, cwd: Path) -> str:
    return subprocess.run(["jobwrapper", "env", "--shell", shell], env=environ, cwd=cwd,
                          capture_output=True, text=True, check=True, timeout=30).stdout


@pytest.mark.parametrize("shell", ["bash", "dash", "zsh", "tcsh"])
def test_real_jobwrapper_env_of_a_hostile_job_evaluates_to_its_plan(shell, hostile_job,
                                                                    tmp_path):
    environ = hostile_job
    expected = json.loads(_jobwrapper_env(environ, "json", tmp_path))["set"]
    assert HOSTILE in expected["JUPYTER_PATH"] and HOSTILE in expected["TMPDIR"]
    workdir = tmp_path / "work"
    workdir.mkdir()
    if shell == "tcsh":
        seen = eval_in_tcsh(_jobwrapper_env(environ, "csh", tmp_path), workdir, "source")
    else:
        seen = eval_in_sh(shell, _jobwrapper_env(environ, "sh", tmp_path), workdir, "eval")
    _check(seen, expected, workdir)
    assert not list(tmp_path.rglob("canary")) and not os.path.exists("canary")
