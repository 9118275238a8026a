"""Kernels are offered only when their language support is there (IRkernel, IJulia,
JupyROOT): fake install trees, and the real R + IRkernel from Debian when installed."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from jobwrapper.notebook.kernels import load_templates, plan_kernels
from jobwrapper.notebook.kernels_support import (
    check_support,
    r_library_paths,
)


def _program(path: Path, body: str = "exit 0") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def _fake_r(tmp_path: Path, libs: list[Path]) -> tuple[Path, Path]:
    """An R that prints ``libs`` as .libPaths() and counts its runs in ``calls``."""
    calls = tmp_path / "calls"
    printed = "\\n".join(str(lib) for lib in libs)
    r = _program(tmp_path / "r" / "bin" / "R", f'echo run >> "{calls}"\nprintf "{printed}\\n"')
    return r, calls


def _choice(offer: list[str], programs: dict[str, str], env: dict[str, str],
            cache: Path) -> tuple[list[str], dict[str, str]]:
    templates = load_templates(offer, [])
    unsupported = check_support(templates, programs, env, str(cache))
    choice = plan_kernels(templates, programs, {}, "x", unsupported)
    return [k.name for k in choice.offered], choice.skipped


def test_r_without_irkernel_is_skipped_with_one_line(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    r, _ = _fake_r(tmp_path, [lib])
    offered, skipped = _choice(["r"], {"R": str(r)}, {}, tmp_path / "cache.json")
    assert offered == []
    assert skipped["ir"].startswith(f"IRkernel is not installed for {r} (looked in {lib})")
    assert "\n" not in skipped["ir"]


def test_r_with_irkernel_in_a_library_path_is_offered(tmp_path: Path) -> None:
    site, user = tmp_path / "site", tmp_path / "user"
    (user / "IRkernel").mkdir(parents=True)
    (user / "IRkernel" / "DESCRIPTION").write_text("Package: IRkernel\n")
    site.mkdir()
    r, _ = _fake_r(tmp_path, [site, user])
    offered, skipped = _choice(["r"], {"R": str(r)}, {}, tmp_path / "cache.json")
    assert offered == ["ir"], skipped


def test_r_library_paths_are_asked_once_per_executable_and_mtime(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    r, calls = _fake_r(tmp_path, [lib])
    cache = tmp_path / "cache" / "kernel-support.json"
    for _ in range(3):
        assert r_library_paths(str(r), {}, str(cache)) == [str(lib)]
    assert calls.read_text().count("run") == 1
    assert json.loads(cache.read_text())["R"]
    # another R_LIBS_USER, or a new R (mtime), asks again
    r_library_paths(str(r), {"R_LIBS_USER": "/x"}, str(cache))
    assert calls.read_text().count("run") == 2
    later = time.time() + 5
    os.utime(r, (later, later))
    r_library_paths(str(r), {}, str(cache))
    assert calls.read_text().count("run") == 3


def test_irkernel_installed_after_the_paths_were_cached_is_noticed(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    r, _ = _fake_r(tmp_path, [lib])
    cache = tmp_path / "cache.json"
    assert _choice(["r"], {"R": str(r)}, {}, cache)[0] == []
    (lib / "IRkernel").mkdir()
    (lib / "IRkernel" / "DESCRIPTION").write_text("Package: IRkernel\n")
    assert _choice(["r"], {"R": str(r)}, {}, cache)[0] == ["ir"]


def test_an_r_that_fails_is_one_line_and_an_unwritable_cache_is_no_error(tmp_path: Path) -> None:
    r = _program(tmp_path / "bin" / "R", "echo broken >&2; exit 2")
    offered, skipped = _choice(["r"], {"R": str(r)}, {}, Path("/proc/nope/cache.json"))
    assert offered == []
    assert skipped["ir"] == f"{r} did not tell its library paths"


def _ijulia(depot: Path) -> None:
    src = depot / "packages" / "IJulia" / "AbCd1" / "src"
    src.mkdir(parents=True)
    (src / "IJulia.jl").write_text("module IJulia end\n")


def test_julia_needs_ijulia_in_a_depot(tmp_path: Path) -> None:
    julia = _program(tmp_path / "julia" / "bin" / "julia")
    home = tmp_path / "home"
    env = {"HOME": str(home)}
    offered, skipped = _choice(["julia"], {"julia": str(julia)}, env, tmp_path / "c.json")
    assert offered == []
    assert skipped["julia"].startswith(f"IJulia is not installed for {julia}")
    assert str(home / ".julia") in skipped["julia"]
    _ijulia(home / ".julia")
    assert _choice(["julia"], {"julia": str(julia)}, env, tmp_path / "c.json")[0] == ["julia"]


def test_julia_depot_path_with_an_empty_entry_keeps_the_defaults(tmp_path: Path) -> None:
    julia = _program(tmp_path / "julia" / "bin" / "julia")
    site = tmp_path / "site-depot"
    env = {"HOME": str(tmp_path / "home"), "JULIA_DEPOT_PATH": f"{site}:"}
    assert _choice(["julia"], {"julia": str(julia)}, env, tmp_path / "c.json")[0] == []
    _ijulia(tmp_path / "julia" / "share" / "julia")  # <prefix>/share/julia, a default
    assert _choice(["julia"], {"julia": str(julia)}, env, tmp_path / "c.json")[0] == ["julia"]


@pytest.mark.parametrize("where", ["lib", "lib/root", "lib/python3.11/site-packages",
                                   "pythonpath"])
def test_root_needs_jupyroot_next_to_its_install(tmp_path: Path, where: str) -> None:
    root = _program(tmp_path / "root" / "bin" / "root")
    programs = {"root": str(root), "python3": "/env/bin/python"}
    env = {"PYTHONPATH": str(tmp_path / "pp")}
    offered, skipped = _choice(["root"], programs, env, tmp_path / "c.json")
    assert offered == []
    assert skipped["root"].startswith(f"ROOT's Jupyter support (JupyROOT) was not found for "
                                      f"{root}")
    base = tmp_path / "pp" if where == "pythonpath" else tmp_path / "root" / where
    (base / "JupyROOT" / "kernel").mkdir(parents=True)
    (base / "JupyROOT" / "kernel" / "rootkernel.py").write_text("")
    assert _choice(["root"], programs, env, tmp_path / "c.json")[0] == ["root"]


def test_missing_interpreter_keeps_its_reason_and_python_is_not_checked(tmp_path: Path) -> None:
    offered, skipped = _choice(["python", "r", "julia"], {"python3": "/env/bin/python"}, {},
                               tmp_path / "c.json")
    assert offered == ["python3"]
    assert skipped == {"ir": "R not found", "julia": "julia not found"}


def test_a_site_kernel_named_ir_is_not_checked_for_irkernel(tmp_path: Path) -> None:
    r = _program(tmp_path / "bin" / "R", "exit 3")
    site = tmp_path / "site" / "ir"
    site.mkdir(parents=True)
    (site / "kernel.json").write_text(json.dumps(
        {"argv": [str(r), "-f", "{connection_file}"], "display_name": "site R"}))
    templates = load_templates(["r"], [str(tmp_path / "site")])
    programs = {"R": str(r), str(r): str(r)}
    unsupported = check_support(templates, programs, {}, str(tmp_path / "c.json"))
    choice = plan_kernels(templates, programs, {}, "x", unsupported)
    assert [k.spec["display_name"] for k in choice.offered] == ["site R"]


# --- the real R and IRkernel (Debian: r-base-core, r-cran-irkernel; scripts/setup) ---

REAL_R = shutil.which("R")


def _real_r_has_irkernel() -> bool:
    return bool(REAL_R) and check_support(load_templates(["r"], []), {"R": REAL_R},
                                          dict(os.environ), None) == {}


needs_irkernel = pytest.mark.skipif(not _real_r_has_irkernel(),
                                    reason="R with IRkernel is not installed (scripts/setup)")


@pytest.mark.processes
@needs_irkernel
def test_real_r_kernel_is_offered_and_runs_1_plus_1(tmp_path: Path) -> None:
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    assert REAL_R
    templates = load_templates(["r"], [])
    unsupported = check_support(templates, {"R": REAL_R}, dict(os.environ),
                                str(tmp_path / "cache.json"))
    choice = plan_kernels(templates, {"R": REAL_R}, {"OMP_NUM_THREADS": "1"}, "test",
                          unsupported)
    assert [k.name for k in choice.offered] == ["ir"]
    from jobwrapper.notebook.kernels import write_kernels
    write_kernels(choice, str(tmp_path / "data"))
    specs = KernelSpecManager(kernel_dirs=[str(tmp_path / "data" / "kernels")])
    manager = KernelManager(kernel_name="ir", kernel_spec_manager=specs)
    manager.start_kernel()
    try:
        client = manager.client()
        client.start_channels()
        client.wait_for_ready(timeout=60)
        outputs: list[str] = []

        def keep(msg: dict) -> None:
            content = msg["content"]
            if msg["msg_type"] in ("execute_result", "display_data"):
                outputs.append(content["data"]["text/plain"])
            elif msg["msg_type"] == "stream":
                outputs.append(content["text"])

        reply = client.execute_interactive("1+1", timeout=60, output_hook=keep)
        assert reply["content"]["status"] == "ok"
        assert any("[1] 2" in text for text in outputs), outputs
        client.stop_channels()
    finally:
        manager.shutdown_kernel(now=True)


@pytest.mark.skipif(not REAL_R, reason="R is not installed (scripts/setup)")
def test_real_r_library_paths_are_cached(tmp_path: Path) -> None:
    assert REAL_R
    cache = tmp_path / "cache.json"
    first = r_library_paths(REAL_R, dict(os.environ), str(cache))
    assert first and all(os.path.isabs(p) for p in first)
    started = time.perf_counter()
    assert r_library_paths(REAL_R, dict(os.environ), str(cache)) == first
    assert time.perf_counter() - started < 0.05


def test_the_r_paths_are_cached_in_the_users_home_so_the_next_job_finds_them(tmp_path):
    from jobwrapper.notebook.kernels_support import cache_file

    home = tmp_path / "home"
    home.mkdir()
    assert cache_file(str(tmp_path / "private"), {"HOME": str(home)}) == str(
        home / ".cache" / "jobwrapper" / "kernel-support.json")


@pytest.mark.parametrize("home", ["", "relative", "/nonexistent-home"])
def test_without_a_usable_home_the_cache_is_the_jobs_own(tmp_path, home):
    from jobwrapper.notebook.kernels_support import cache_file

    assert cache_file(str(tmp_path / "private"), {"HOME": home}) == str(
        tmp_path / "private" / "cache" / "kernel-support.json")
