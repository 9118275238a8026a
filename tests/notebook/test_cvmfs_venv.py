"""CVMFS virtualenvs: activated like bin/activate; a missing one is one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobwrapper.errors import EnvironmentSetupError
from jobwrapper.job.venv import activate_venv


def test_venv_bin_goes_first_on_path(cvmfs_venv: Path) -> None:
    activation = activate_venv(str(cvmfs_venv), "stable", "Rocky9", "/usr/bin:/bin")
    assert activation.env["PATH"] == f"{cvmfs_venv}/bin:/usr/bin:/bin"
    assert activation.env["VIRTUAL_ENV"] == str(cvmfs_venv)


def test_venv_activation_unsets_pythonhome(cvmfs_venv: Path) -> None:
    activation = activate_venv(str(cvmfs_venv), "stable", "Rocky9", "/usr/bin")
    assert "PYTHONHOME" in activation.unset


def test_missing_venv_names_the_path_and_the_environments(tmp_path: Path) -> None:
    missing = tmp_path / "cvmfs" / "nothing"
    with pytest.raises(EnvironmentSetupError) as error:
        activate_venv(str(missing), "testing", "Rocky9", "/usr/bin", ["stable", "testing"])
    message = str(error.value)
    assert str(missing) in message
    assert "stable, testing" in message
