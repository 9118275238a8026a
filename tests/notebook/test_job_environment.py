"""The job's environment (modules + venv) added to the plan, for env/run/login shells."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from notebook_helpers import make_job, needs_lmod, site_config_text

from jobwrapper.errors import EnvironmentSetupError
from jobwrapper.job.pipeline import read
from jobwrapper.job.plan import plan
from jobwrapper.notebook.plan import with_environment

pytestmark = needs_lmod


def test_modules_and_venv_join_the_plan(job_environ: dict[str, str], cvmfs_venv: Path) -> None:
    context = read(job_environ)
    setup, problem = with_environment(context, plan(context, os.getuid()))
    assert problem is None
    assert setup.env["PHYSICS_HOME"] == "/opt/physics"
    assert setup.env["PATH"].split(":")[:2] == [f"{cvmfs_venv}/bin", "/opt/physics/bin"]
    assert "PYTHONHOME" in setup.unset


def test_broken_environment_is_a_warning_for_login_shells(tmp_path: Path, module_tree: Path,
                                                          cvmfs_venv: Path) -> None:
    text = site_config_text(module_tree, cvmfs_venv).replace('"physics"', '"nosuch"')
    context = read(make_job(tmp_path, text))
    before = plan(context, os.getuid())
    setup, problem = with_environment(context, before, strict=False)
    assert setup == before
    assert "nosuch" in problem


def test_broken_environment_is_an_error_for_run(tmp_path: Path, module_tree: Path,
                                                cvmfs_venv: Path) -> None:
    text = site_config_text(module_tree, cvmfs_venv).replace('"physics"', '"nosuch"')
    context = read(make_job(tmp_path, text))
    with pytest.raises(EnvironmentSetupError, match="nosuch"):
        with_environment(context, plan(context, os.getuid()))
