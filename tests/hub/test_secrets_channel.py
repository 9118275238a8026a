"""Which variables are secret, and the 0600 file the hub writes as the user."""

from __future__ import annotations

import io
import json
import os
import stat

import pytest

from jobwrapper.hub import secrets


def test_token_and_anything_holding_it_are_secret():
    env = {
        "JUPYTERHUB_API_TOKEN": "tok123",
        "JPY_API_TOKEN": "tok123",
        "JUPYTERHUB_USER": "alice",
        "SOMETHING_ELSE": "prefix-tok123-suffix",
    }
    public, secret = secrets.split_environment(env, ["tok123"])
    assert public == {"JUPYTERHUB_USER": "alice"}
    assert set(secret) == {"JUPYTERHUB_API_TOKEN", "JPY_API_TOKEN", "SOMETHING_ELSE"}


def test_token_variable_is_secret_even_when_empty():
    public, secret = secrets.split_environment({"JUPYTERHUB_API_TOKEN": ""}, [""])
    assert public == {} and secret == {"JUPYTERHUB_API_TOKEN": ""}


def test_allow_list_with_prefixes():
    env = {"JUPYTERHUB_USER": "a", "MEM_LIMIT": "1", "PATH": "/bin", "HOME": "/h"}
    assert secrets.allowed(env, ["JUPYTERHUB_*", "MEM_LIMIT"]) == {
        "JUPYTERHUB_USER": "a",
        "MEM_LIMIT": "1",
    }


def test_job_dir_per_server():
    assert secrets.job_dir_for("") == ".jupyterhub-condor/default"
    assert secrets.job_dir_for("gpu") == ".jupyterhub-condor/server-gpu"


def test_prepare_creates_private_dirs_and_a_0600_file(tmp_path):
    path = secrets.prepare(tmp_path, ".jupyterhub-condor/default", {"JUPYTERHUB_API_TOKEN": "t"})
    assert json.loads(path.read_text()) == {"JUPYTERHUB_API_TOKEN": "t"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / ".jupyterhub-condor").stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "jupyter").stat().st_mode) == 0o700


def test_prepare_leaves_an_existing_jupyter_dir_alone(tmp_path):
    (tmp_path / "jupyter").mkdir(mode=0o755)
    (tmp_path / "jupyter").chmod(0o755)
    secrets.prepare(tmp_path, ".jupyterhub-condor/default", {})
    assert stat.S_IMODE((tmp_path / "jupyter").stat().st_mode) == 0o755


def test_prepare_refuses_a_symlinked_job_dir(tmp_path):
    (tmp_path / ".jupyterhub-condor").mkdir()
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", tmp_path / ".jupyterhub-condor" / "default")
    with pytest.raises(SystemExit, match="not a directory owned by you"):
        secrets.prepare(tmp_path, ".jupyterhub-condor/default", {"X": "y"})
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_remove_deletes_the_file_and_tolerates_its_absence(tmp_path):
    path = secrets.prepare(tmp_path, ".jupyterhub-condor/default", {"X": "y"})
    secrets.remove(tmp_path, ".jupyterhub-condor/default")
    assert not path.exists()
    secrets.remove(tmp_path, ".jupyterhub-condor/default")


def test_helper_refuses_a_job_dir_outside_home(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("{}"))
    with pytest.raises(SystemExit):
        secrets.main(["prepare", "../x"])
    with pytest.raises(SystemExit):
        secrets.main(["prepare", "/etc"])
