"""Faults in the job's environment: one line naming the problem, exit code 5, and
no process left behind."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from notebook_helpers import JOBWRAPPER, group_alive, make_job, needs_lmod, site_config_text

pytestmark = needs_lmod


def _lab_fails(environ: dict[str, str]) -> tuple[int, str]:
    process = subprocess.Popen([JOBWRAPPER, "lab"], env=environ, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True,
                               cwd=environ["_CONDOR_SCRATCH_DIR"])
    _, stderr = process.communicate(timeout=60)
    assert group_alive(process.pid) == []
    return process.returncode, stderr


def test_missing_module(tmp_path: Path, module_tree: Path, cvmfs_venv: Path) -> None:
    text = site_config_text(module_tree, cvmfs_venv).replace('"physics"', '"nosuch/2.0"')
    code, stderr = _lab_fails(make_job(tmp_path, text))
    assert code == 5
    assert stderr.count("\n") == 1
    assert "nosuch/2.0" in stderr and "physics/1.0" in stderr


def test_missing_environment(tmp_path: Path, module_tree: Path, cvmfs_venv: Path) -> None:
    text = site_config_text(module_tree, cvmfs_venv).replace("stable.os.Rocky9",
                                                             "testing.os.Rocky9")
    code, stderr = _lab_fails(make_job(tmp_path, text))
    assert code == 5
    assert stderr.count("\n") == 1
    assert "environment 'stable' is not defined for container OS 'Rocky9'" in stderr
    assert "testing" in stderr


def test_missing_venv(tmp_path: Path, module_tree: Path) -> None:
    code, stderr = _lab_fails(make_job(tmp_path, site_config_text(module_tree,
                                                                  tmp_path / "nothing")))
    assert code == 5
    assert str(tmp_path / "nothing") in stderr and stderr.count("\n") == 1


def test_broken_kernel_template(tmp_path: Path, module_tree: Path, cvmfs_venv: Path) -> None:
    site = tmp_path / "sitekernels" / "atlas"
    site.mkdir(parents=True)
    (site / "kernel.json").write_text(json.dumps({"argv": "python3 -m x"}))
    text = site_config_text(module_tree, cvmfs_venv) + (
        f'[kernels]\nextra_dirs = ["{tmp_path / "sitekernels"}"]\n')
    code, stderr = _lab_fails(make_job(tmp_path, text))
    assert code == 5
    assert str(site / "kernel.json") in stderr and stderr.count("\n") == 1
