"""A server start's fast path: stage timestamps for benches, no click before exec, Lmod
started early and used only when it is exactly the run the job needs, each ad read once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from notebook_helpers import LMOD_CMD, needs_lmod, root_args

from jobwrapper import protocol
from jobwrapper.config import SiteConfig, load_config
from jobwrapper.job import early, modules, timestamps
from jobwrapper.job.context import HostLimits, read_context

STAGES = ["main", "config", "imports", "ads", "lmod", "kernels", "exec"]

# `jobwrapper lab` in-process up to its exec, which is replaced by a report.
UP_TO_EXEC = """
import json, os, sys
from jobwrapper.job import early, modules
if os.environ.get("WRONG_GUESS"):  # an early Lmod run the read stage will not ask for
    real_start = early.start_lmod_early
    def start_wrongly(environ, config):
        modules.start_lmod(os.environ["WRONG_GUESS"], ["load", "physics"], {"X": "1"})
        return real_start(environ, config)
    early.start_lmod_early = start_wrongly
def report(path, argv, env):
    print(json.dumps({"argv": list(argv), "click": "click" in sys.modules,
                      "lmod_left": len(modules._started),
                      "physics": env.get("PHYSICS_HOME"),
                      "timestamps_passed_on": "JOBWRAPPER_TIMESTAMPS" in env}), flush=True)
    os._exit(0)
os.execvpe = report
sys.argv = ["jobwrapper", "lab", *sys.argv[1:]]
from jobwrapper.cli import main
main()
"""


def up_to_exec(environ: dict[str, str]) -> dict[str, object]:
    result = subprocess.run([sys.executable, "-c", UP_TO_EXEC, *root_args()], env=environ,
                            cwd=environ["_CONDOR_SCRATCH_DIR"], capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def read_stamps(path: Path) -> list[list[str]]:
    return [line.split() for line in path.read_text().splitlines()]


@needs_lmod
def test_a_lab_start_stamps_its_stages_in_order_and_loads_no_click(
        job_environ: dict[str, str], tmp_path: Path) -> None:
    stamps = tmp_path / "stamps"
    report = up_to_exec({**job_environ, protocol.TIMESTAMPS_ENV: str(stamps)})
    assert report["argv"][0].endswith("jupyter-lab")
    assert report["click"] is False
    assert report["physics"] == "/opt/physics"  # the module's variables, from Lmod
    assert report["timestamps_passed_on"] is False
    lines = read_stamps(stamps)
    assert [line[0] for line in lines] == STAGES
    assert len({line[3] for line in lines}) == 1  # one process
    walls = [int(line[1]) for line in lines]
    cpus = [int(line[2]) for line in lines]
    assert walls == sorted(walls) and cpus == sorted(cpus)


@needs_lmod
def test_an_early_lmod_run_nobody_asked_for_is_ended_before_exec(
        job_environ: dict[str, str]) -> None:
    report = up_to_exec({**job_environ, "WRONG_GUESS": LMOD_CMD})
    assert report["argv"][0].endswith("jupyter-lab")
    assert report["lmod_left"] == 0
    assert report["physics"] == "/opt/physics"


@needs_lmod
def test_without_the_variable_nothing_is_written(job_environ: dict[str, str],
                                                 tmp_path: Path) -> None:
    report = up_to_exec(job_environ)
    assert report["argv"][0].endswith("jupyter-lab")
    assert not list(tmp_path.glob("**/*stamps*"))


def test_the_variable_is_named_in_the_protocol() -> None:
    assert timestamps._ENV == protocol.TIMESTAMPS_ENV


def test_a_file_that_cannot_be_written_does_not_stop_a_start(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(protocol.TIMESTAMPS_ENV, str(tmp_path / "no" / "such" / "dir"))
    timestamps.stamp("main")  # no error
    monkeypatch.setenv(protocol.TIMESTAMPS_ENV, str(tmp_path / "stamps"))
    timestamps.stamp("main")
    timestamps.stamp("exec")
    assert [line[0] for line in read_stamps(tmp_path / "stamps")] == ["main", "exec"]


@pytest.fixture
def popens(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every Lmod process started, by its arguments."""
    started: list[list[str]] = []
    real = modules._popen_lmod

    def counting(lmod_cmd: str, args: list[str], environ: dict[str, str]):
        started.append(list(args))
        return real(lmod_cmd, args, environ)

    monkeypatch.setattr(modules, "_popen_lmod", counting)
    yield started
    modules.discard_started()


def _environ() -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp")}


@needs_lmod
def test_an_early_lmod_run_is_used_for_exactly_the_same_run(
        module_tree: Path, popens: list[list[str]]) -> None:
    environ = modules.module_environ(_environ(), LMOD_CMD, [str(module_tree)])
    modules.start_lmod(LMOD_CMD, ["load", "physics"], environ)
    loaded = modules.load_modules(LMOD_CMD, ["physics"], _environ(), [str(module_tree)])
    assert loaded.env["PHYSICS_HOME"] == "/opt/physics"
    assert popens == [["load", "physics"]]  # one Lmod run, the early one
    assert not modules._started


@needs_lmod
def test_an_early_lmod_run_for_another_environment_is_not_used(
        module_tree: Path, popens: list[list[str]]) -> None:
    other = modules.module_environ({**_environ(), "EXTRA": "1"}, LMOD_CMD, [str(module_tree)])
    modules.start_lmod(LMOD_CMD, ["load", "physics"], other)
    loaded = modules.load_modules(LMOD_CMD, ["physics"], _environ(), [str(module_tree)])
    assert "EXTRA" not in loaded.env
    assert popens == [["load", "physics"], ["load", "physics"]]
    process = modules._started[0][3]
    modules.discard_started()
    assert process.returncode is not None and not modules._started


@needs_lmod
def test_an_early_lmod_error_is_reported_as_always(module_tree: Path,
                                                   popens: list[list[str]]) -> None:
    environ = modules.module_environ(_environ(), LMOD_CMD, [str(module_tree)])
    modules.start_lmod(LMOD_CMD, ["load", "broken"], environ)
    with pytest.raises(modules.EnvironmentSetupError, match="Lmod could not load broken"):
        modules.load_modules(LMOD_CMD, ["broken"], _environ(), [str(module_tree)])
    assert popens == [["load", "broken"]]


def test_an_lmod_that_cannot_start_early_is_forgotten(tmp_path: Path) -> None:
    modules.start_lmod(str(tmp_path / "no-lmod"), ["load", "physics"], _environ())
    assert not modules._started


def _config(tmp_path: Path) -> SiteConfig:
    path = tmp_path / "config.toml"
    path.write_text('[environments.stable.os.Rocky9]\nmodules = ["physics"]\n'
                    '[environments.beta.os.default]\nmodules = ["beta"]\n')
    return load_config(str(path))


@pytest.mark.parametrize(("lines", "expected"), [
    ('ContainerOS = "Rocky9"\n', ("stable", "Rocky9")),
    ('ContainerOS = "Rocky9"\nJupyterEnvironment = "beta"\n', ("beta", "Rocky9")),
    ('JupyterEnvironment = "../x"\n', ("stable", None)),
    ("JupyterEnvironment = 3\nContainerOS = 4\n", ("stable", None)),
])
def test_the_guess_reads_the_environment_and_container_os(
        tmp_path: Path, lines: str, expected: tuple[str, str | None]) -> None:
    ad = tmp_path / ".job.ad"
    ad.write_text("ClusterId = 1\n" + lines)
    name, container_os, ad_bytes = early.guess_environment(
        {"_CONDOR_JOB_AD": str(ad)}, _config(tmp_path))
    assert (name, container_os) == expected
    assert ad_bytes == {str(ad): ad.read_bytes()}


def test_without_a_job_ad_the_guess_is_the_default(tmp_path: Path) -> None:
    config = _config(tmp_path)
    assert early.guess_environment({}, config) == ("stable", None, {})
    missing = {"_CONDOR_JOB_AD": str(tmp_path / "missing.ad")}
    assert early.guess_environment(missing, config) == ("stable", None, {})


def test_the_read_stage_takes_an_ad_read_already(tmp_path: Path) -> None:
    ad = tmp_path / ".job.ad"
    ad.write_text('ClusterId = 7\nProcId = 0\nContainerOS = "Rocky9"\n')
    environ = {"_CONDOR_JOB_AD": str(ad)}
    host = HostLimits(cores=1, memory_mb=None)
    data = ad.read_bytes()
    ad.unlink()  # only the bytes given can be read now
    context = read_context(environ, SiteConfig(), host, ad_bytes={str(ad): data})
    assert context.job_id == "7.0" and context.container_os == "Rocky9"
    assert not any("does not exist" in warning for warning in context.warnings)
    assert read_context(environ, SiteConfig(), host).job_id is None  # the file is gone
