"""Users' own environments in ~/jupyter/envs become kernels when they have ipykernel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path
from types import SimpleNamespace

import pytest

from jobwrapper.notebook.kernels import plan_kernels, write_kernels
from jobwrapper.notebook.kernels_user import kernel_name, read_user_environments


def _env(root: Path, name: str, *, python: bool = True, ipykernel: bool = True,
         conda: bool = False) -> Path:
    prefix = root / "envs" / name
    (prefix / "bin").mkdir(parents=True)
    if python:
        (prefix / "bin" / "python").write_text("#!/bin/sh\nexit 0\n")
        (prefix / "bin" / "python").chmod(0o755)
    if ipykernel:
        package = prefix / "lib" / "python3.11" / "site-packages" / "ipykernel"
        package.mkdir(parents=True)
        (package / "__init__.py").write_text("")
    if conda:
        (prefix / "conda-meta").mkdir()
    return prefix


def _plan(notebook_dir: Path, env: dict[str, str]):
    templates, programs, reasons = read_user_environments(str(notebook_dir), "/job/bin:/usr/bin")
    return plan_kernels(templates, programs, env, "Rocky9 · stable", reasons)


def test_a_venv_with_ipykernel_is_a_kernel_with_the_jobs_threads_and_limits(
        tmp_path: Path) -> None:
    prefix = _env(tmp_path, "analysis")
    choice = _plan(tmp_path, {"OMP_NUM_THREADS": "4", "CPU_LIMIT": "4", "PATH": "/job/bin"})
    (plan,) = choice.offered
    assert plan.name == "user-analysis"
    assert plan.spec["argv"][:3] == [f"{prefix}/bin/python", "-m", "ipykernel_launcher"]
    assert plan.spec["display_name"] == "Python 3 (analysis · Rocky9 · stable)"
    env = plan.spec["env"]
    assert env["OMP_NUM_THREADS"] == "4" and env["CPU_LIMIT"] == "4"
    assert env["PATH"] == f"{prefix}/bin:/job/bin:/usr/bin"
    assert env["VIRTUAL_ENV"] == str(prefix)


def test_a_conda_environment_sets_conda_prefix(tmp_path: Path) -> None:
    prefix = _env(tmp_path, "My Conda Env", conda=True)
    (plan,) = _plan(tmp_path, {}).offered
    assert plan.name == "user-my-conda-env"
    assert plan.spec["env"]["CONDA_PREFIX"] == str(prefix)
    assert "VIRTUAL_ENV" not in plan.spec["env"]


def test_a_broken_environment_is_one_line_naming_it_and_no_kernel(tmp_path: Path) -> None:
    no_ipykernel = _env(tmp_path, "old", ipykernel=False)
    no_python = _env(tmp_path, "notes", python=False)
    _env(tmp_path, "good")
    choice = _plan(tmp_path, {})
    assert [k.name for k in choice.offered] == ["user-good"]
    assert choice.skipped["user-old"].startswith(f"your environment {no_ipykernel} has no "
                                                 "ipykernel; install it with")
    assert choice.skipped["user-notes"].startswith(f"your environment {no_python} has no "
                                                   "bin/python")
    assert all("\n" not in why for why in choice.skipped.values())
    write_kernels(choice, str(tmp_path / "data"))
    assert sorted(os.listdir(tmp_path / "data" / "kernels")) == ["user-good"]


def test_no_envs_directory_and_hidden_entries_give_nothing(tmp_path: Path) -> None:
    assert read_user_environments(str(tmp_path), "") == ([], {}, {})
    (tmp_path / "envs" / ".cache").mkdir(parents=True)
    (tmp_path / "envs" / "README").write_text("")
    assert read_user_environments(str(tmp_path), "") == ([], {}, {})


def test_kernel_names_are_kernel_name_letters() -> None:
    assert kernel_name("/x/envs/Py 3.11 (test)") == "user-py-3.11-test"
    assert kernel_name("/x/envs/+++") == "user-env"


def test_the_site_switch_forbids_them(tmp_path: Path) -> None:
    from jobwrapper.config import load_config
    from jobwrapper.notebook.plan import read_user_kernels

    _env(tmp_path / "jupyter", "analysis")
    config = tmp_path / "site.toml"

    for allowed, expected in (("true", ["user-analysis"]), ("false", [])):
        config.write_text(f"[kernels]\nuser_environments = {allowed}\n")
        context = SimpleNamespace(scratch_dir=str(tmp_path), environ={"PATH": "/usr/bin"},
                                  config=load_config(str(config)))  # what it reads
        templates, _, _ = read_user_kernels(context, None)  # type: ignore[arg-type]
        assert [t.name for t in templates] == expected


# --- a real venv with ipykernel, started through jupyter_client ---

def _real_venv(root: Path) -> Path:
    prefix = root / "envs" / "real"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(prefix)], check=True)
    purelib = sysconfig.get_paths()["purelib"]  # this venv's, where ipykernel is
    (site,) = prefix.glob("lib/python*/site-packages")
    (site / "ipykernel").symlink_to(Path(purelib) / "ipykernel")
    (site / "jobwrapper-test.pth").write_text(purelib + "\n")
    return prefix


@pytest.mark.processes
def test_a_real_users_venv_kernel_runs_with_the_jobs_threads(tmp_path: Path) -> None:
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    prefix = _real_venv(tmp_path)
    choice = _plan(tmp_path, {"OMP_NUM_THREADS": "3"})
    assert [k.name for k in choice.offered] == ["user-real"], choice.skipped
    write_kernels(choice, str(tmp_path / "data"))
    written = json.loads((tmp_path / "data" / "kernels" / "user-real" / "kernel.json")
                         .read_text())
    assert written["env"]["OMP_NUM_THREADS"] == "3"
    specs = KernelSpecManager(kernel_dirs=[str(tmp_path / "data" / "kernels")])
    manager = KernelManager(kernel_name="user-real", kernel_spec_manager=specs)
    manager.start_kernel()
    try:
        client = manager.client()
        client.start_channels()
        client.wait_for_ready(timeout=60)
        out: list[str] = []
        reply = client.execute_interactive(
            "import os, sys; print(sys.prefix, os.environ['OMP_NUM_THREADS'])", timeout=60,
            output_hook=lambda m: out.append(m["content"].get("text", ""))
            if m["msg_type"] == "stream" else None)
        assert reply["content"]["status"] == "ok"
        assert "".join(out).split() == [str(prefix), "3"]
        client.stop_channels()
    finally:
        manager.shutdown_kernel(now=True)


# --- jobwrapper kernel add / remove / list ---

def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The real command line: errors are one line on stderr with an exit code."""
    environ = {"PATH": os.environ.get("PATH", ""), **env}
    if not environ.get("JOBWRAPPER_CONFIG"):
        site = Path(env["HOME"]).parent / "empty-site.toml"
        site.write_text("")
        environ["JOBWRAPPER_CONFIG"] = str(site)
    return subprocess.run([sys.executable, "-m", "jobwrapper", *args], env=environ,
                          capture_output=True, text=True, timeout=60, check=False)


def test_kernel_add_then_the_job_offers_it_and_remove_stops_it(tmp_path: Path) -> None:
    shared = _env(tmp_path / "shared", "cms-2024")
    home = tmp_path / "home"
    env = {"HOME": str(home)}
    added = _cli(["kernel", "add", str(shared), "--name", "CMS"], env)
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith(f"user-cms: {shared}")
    assert _cli(["kernel", "list"], env).stdout == f"user-cms\t{shared}\n"
    (plan,) = _plan(home / "jupyter", {}).offered
    assert plan.name == "user-cms" and plan.spec["env"]["VIRTUAL_ENV"] == str(shared)
    assert _cli(["kernel", "remove", "user-cms"], env).returncode == 0
    assert _plan(home / "jupyter", {}).offered == ()


def test_kernel_add_refuses_a_broken_environment_in_one_line(tmp_path: Path) -> None:
    broken = _env(tmp_path / "shared", "old", ipykernel=False)
    result = _cli(["kernel", "add", str(broken)], {"HOME": str(tmp_path / "home")})
    assert result.returncode == 5
    assert result.stderr.startswith(f"jobwrapper: your environment {broken} has no ipykernel")
    assert result.stderr.count("\n") == 1
    assert not (tmp_path / "home" / "jupyter").exists()
    missing = _cli(["kernel", "add", str(tmp_path / "nope")], {"HOME": str(tmp_path / "home")})
    assert missing.returncode == 5
    assert missing.stderr == f"jobwrapper: {tmp_path / 'nope'}: no such directory; give the " \
                             "path of a venv or conda environment\n"


def test_an_added_environment_missing_on_this_node_is_one_line(tmp_path: Path) -> None:
    from jobwrapper.notebook.kernels_user import write_registry

    write_registry(str(tmp_path), {"gone": "/cvmfs/not/mounted/env"})
    choice = _plan(tmp_path, {})
    assert choice.offered == ()
    assert choice.skipped == {"user-gone": "your environment /cvmfs/not/mounted/env does not "
                              "exist on this node; jobwrapper kernel remove gone if it is gone"}


def test_kernel_add_is_refused_when_the_site_forbids_it(tmp_path: Path) -> None:
    shared = _env(tmp_path / "shared", "x")
    config = tmp_path / "site.toml"
    config.write_text("[kernels]\nuser_environments = false\n")
    result = _cli(["kernel", "add", str(shared)],
                  {"HOME": str(tmp_path / "home"), "JOBWRAPPER_CONFIG": str(config)})
    assert result.returncode == 5
    assert "kernels.user_environments = false" in result.stderr
