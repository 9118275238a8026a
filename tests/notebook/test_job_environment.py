"""The job's environment (modules + venv) added to the plan, for env/run/login shells:
the pipeline's own prepare(), as the commands run it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from notebook_helpers import make_job, needs_lmod, site_config_text

from jobwrapper.errors import EnvironmentSetupError
from jobwrapper.job.pipeline import prepare, read
from jobwrapper.job.plan import plan

pytestmark = needs_lmod


def test_modules_and_venv_join_the_plan(job_environ: dict[str, str], cvmfs_venv: Path) -> None:
    setup = prepare(read(job_environ), write_cache=False, load_environment="strict")
    assert setup.warnings == ()
    assert setup.env["PHYSICS_HOME"] == "/opt/physics"
    assert setup.env["PATH"].split(":")[:2] == [f"{cvmfs_venv}/bin", "/opt/physics/bin"]
    assert "PYTHONHOME" in setup.unset


def test_broken_environment_is_a_warning_for_login_shells(tmp_path: Path, module_tree: Path,
                                                          cvmfs_venv: Path) -> None:
    text = site_config_text(module_tree, cvmfs_venv).replace('"physics"', '"nosuch"')
    context = read(make_job(tmp_path, text))
    before = plan(context, os.getuid())
    setup = prepare(context, write_cache=False, load_environment="warn")
    assert (setup.env, setup.unset) == (before.env, before.unset)
    assert "nosuch" in setup.warnings[-1]


def test_broken_environment_is_an_error_for_run(tmp_path: Path, module_tree: Path,
                                                cvmfs_venv: Path) -> None:
    text = site_config_text(module_tree, cvmfs_venv).replace('"physics"', '"nosuch"')
    context = read(make_job(tmp_path, text))
    with pytest.raises(EnvironmentSetupError, match="nosuch"):
        prepare(context, write_cache=False, load_environment="strict")
