"""Lmod: modules load through Debian's lmod, its output is parsed, never exec'd."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from notebook_helpers import LMOD_CMD, needs_lmod

from jobwrapper.errors import EnvironmentSetupError
from jobwrapper.job.modules import find_lmod, kernel_relevant, load_modules, parse_lmod_python

pytestmark = needs_lmod


def _environ() -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp")}


def test_loading_a_module_returns_its_variables(module_tree: Path) -> None:
    loaded = load_modules(LMOD_CMD, ["physics"], _environ(), [str(module_tree)])
    assert loaded.env["PHYSICS_HOME"] == "/opt/physics"
    assert loaded.env["PATH"].split(":")[0] == "/opt/physics/bin"


def test_quotes_and_dollars_in_module_values_arrive_verbatim(module_tree: Path) -> None:
    loaded = load_modules(LMOD_CMD, ["physics"], _environ(), [str(module_tree)])
    assert loaded.env["PHYSICS_NOTE"] == 'it\'s "quoted" $HOME'


def test_site_modulepath_comes_first(module_tree: Path) -> None:
    environ = {**_environ(), "MODULEPATH": "/elsewhere"}
    loaded = load_modules(LMOD_CMD, ["physics"], environ, [str(module_tree)])
    assert loaded.env["MODULEPATH"].split(":")[0] == str(module_tree)


def test_missing_module_names_it_and_the_modules_that_exist(module_tree: Path) -> None:
    with pytest.raises(EnvironmentSetupError) as error:
        load_modules(LMOD_CMD, ["nosuchmodule"], _environ(), [str(module_tree)])
    message = str(error.value)
    assert "nosuchmodule" in message
    assert "physics/1.0" in message
    assert "\n" not in message


def test_broken_modulefile_is_an_error_not_silence(module_tree: Path) -> None:
    with pytest.raises(EnvironmentSetupError, match="Lmod could not load broken"):
        load_modules(LMOD_CMD, ["broken"], _environ(), [str(module_tree)])


def test_output_that_is_not_an_assignment_is_refused() -> None:
    with pytest.raises(ValueError, match="unexpected line"):
        parse_lmod_python('import os\n__import__("os").system("touch /tmp/x")\n')


def test_deleted_variables_are_reported_as_unset() -> None:
    env, unset, status = parse_lmod_python(
        "import os\nos.environ[\"A\"] = '';\ndel os.environ[\"A\"]\n_mlstatus = True\n")
    assert (env, unset, status) == ({}, ["A"], True)


def test_site_lmod_path_wins_over_environment(tmp_path: Path) -> None:
    assert find_lmod({"LMOD_CMD": str(tmp_path / "missing")}, LMOD_CMD) == LMOD_CMD


def test_kernels_do_not_get_lmod_bookkeeping() -> None:
    env = {"_ModuleTable001_": "x", "__LMOD_REF_COUNT_PATH": "y", "PATH": "/p"}
    assert kernel_relevant(env) == {"PATH": "/p"}
