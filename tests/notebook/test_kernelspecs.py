"""Kernel templates: filled for the job, offered only when their interpreter exists."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from jobwrapper.errors import EnvironmentSetupError
from jobwrapper.notebook.kernels import (
    find_programs,
    load_templates,
    plan_kernels,
    required_programs,
    write_kernels,
)


def _fake_program(directory: Path, name: str) -> Path:
    directory.mkdir(exist_ok=True)
    path = directory / name
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


def test_builtin_kernels_need_their_interpreters() -> None:
    names = {t.name: required_programs(t) for t in load_templates(["python", "root", "julia",
                                                                    "r"], [])}
    assert names == {"python3": ["python3"], "root": ["root", "python3"],
                     "julia": ["julia"], "ir": ["R"]}


def test_kernel_without_interpreter_is_not_offered() -> None:
    templates = load_templates(["python", "julia"], [])
    choice = plan_kernels(templates, {"python3": "/env/bin/python"}, {}, "Rocky9 · stable")
    assert [k.name for k in choice.offered] == ["python3"]
    assert choice.skipped == {"julia": "julia not found"}


def test_root_kernel_offered_when_root_is_on_path(tmp_path: Path) -> None:
    _fake_program(tmp_path / "bin", "root")
    templates = load_templates(["root"], [])
    programs = find_programs(["root", "python3"], str(tmp_path / "bin"), "/env/bin/python")
    choice = plan_kernels(templates, programs, {}, "x")
    assert choice.offered[0].spec["argv"][:3] == ["/env/bin/python", "-m",
                                                 "JupyROOT.kernel.rootkernel"]


def test_kernel_env_carries_thread_variables_and_jobwrapper_metadata_is_dropped() -> None:
    templates = load_templates(["python"], [])
    choice = plan_kernels(templates, {"python3": "/p"}, {"OMP_NUM_THREADS": "4"}, "x")
    spec = choice.offered[0].spec
    assert spec["env"]["OMP_NUM_THREADS"] == "4"
    assert "jobwrapper" not in spec.get("metadata", {})
    assert spec["argv"][-1] == "{connection_file}"


def test_site_kernel_is_offered_with_its_logo(tmp_path: Path) -> None:
    program = _fake_program(tmp_path / "bin", "cmsenv-python")
    site = tmp_path / "site" / "cms"
    site.mkdir(parents=True)
    (site / "kernel.json").write_text(json.dumps(
        {"argv": [str(program), "-f", "{connection_file}"], "display_name": "CMS ({label})",
         "language": "python"}))
    (site / "logo-64x64.png").write_bytes(b"png")
    templates = load_templates([], [str(tmp_path / "site")])
    choice = plan_kernels(templates, find_programs(required_programs(templates[0]), ""), {}, "EL9")
    write_kernels(choice, str(tmp_path / "data"))
    written = tmp_path / "data" / "kernels" / "cms"
    assert json.loads((written / "kernel.json").read_text())["display_name"] == "CMS (EL9)"
    assert (written / "logo-64x64.png").read_bytes() == b"png"
    assert stat.S_IMODE((written / "kernel.json").stat().st_mode) == 0o600


def test_broken_site_kernel_template_names_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "site" / "atlas"
    broken.mkdir(parents=True)
    (broken / "kernel.json").write_text('{"argv": ["python3",\n "x"')
    with pytest.raises(EnvironmentSetupError) as error:
        load_templates([], [str(tmp_path / "site")])
    assert str(broken / "kernel.json") in str(error.value)
    assert "line" in str(error.value)


def test_unmounted_site_kernel_dir_is_skipped(tmp_path: Path) -> None:
    assert load_templates([], [str(tmp_path / "cvmfs" / "not-mounted")]) == []
