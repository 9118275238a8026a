"""jobwrapper doctor's GPUs row: what JupyterLab's status bar will show, or why not,
in one line (the fake pynvml first on PYTHONPATH of the command)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from gpu_helpers import fake_nvml_env, write_fake_node

from jobwrapper.notebook.doctor import FAIL, OK, SKIP, check_gpus


def context(*ids: str) -> object:
    return SimpleNamespace(resources=SimpleNamespace(gpu_ids=ids))


def test_the_row_follows_the_probe() -> None:
    def probe(ids: tuple[str, ...]) -> tuple[bool, str]:
        raise AssertionError("not asked for a job without GPU")

    assert check_gpus(context(), probe).status == SKIP  # type: ignore[arg-type]
    assert check_gpus(context("CUDA0"), None).status == SKIP  # type: ignore[arg-type]
    row = check_gpus(context("CUDA0"), lambda ids: (True, f"shown: {ids}"))  # type: ignore[arg-type]
    assert (row.name, row.status, row.detail) == ("GPUs", OK, "shown: ('CUDA0',)")
    assert check_gpus(context("CUDA0"), lambda ids: (False, "x")).status == FAIL  # type: ignore[arg-type]


def doctor_gpu_row(tmp_path: Path, assigned: str, init_error: object = None) -> tuple[str, str]:
    node = write_fake_node(tmp_path / "node.json", init_error=init_error)
    machine_ad = tmp_path / ".machine.ad"
    machine_ad.write_text(f'AssignedGPUs = "{assigned}"\nGPUs = 2\n')
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("_CONDOR", "SLURM"))}
    environ.update(fake_nvml_env(node, assigned))
    environ.pop("_CONDOR_AssignedGPUs")  # doctor uses the read stage: the machine ad
    environ.update({"_CONDOR_MACHINE_AD": str(machine_ad), "HOME": str(tmp_path),
                    "JOBWRAPPER_CONFIG": str(tmp_path / "none.toml")})
    (tmp_path / "none.toml").write_text("")
    result = subprocess.run([sys.executable, "-m", "jobwrapper", "doctor"], env=environ,
                            capture_output=True, text=True, timeout=120, check=False)
    lines = [line for line in result.stdout.splitlines() if line.startswith("GPUs ")]
    assert len(lines) == 1, result.stdout + result.stderr
    match = re.match(r"GPUs\s+(OK|FAIL|SKIP)\s+(.*)\Z", lines[0])
    assert match, lines[0]
    return match.group(1), match.group(2)


def test_doctor_names_an_id_that_matches_no_device(tmp_path: Path) -> None:
    status, detail = doctor_gpu_row(tmp_path, "GPU-b2c3d4e5,GPU-deadbeef")
    assert status == FAIL
    assert detail.startswith("GPU id GPU-deadbeef (assigned by HTCondor) matches no device")
    assert detail.endswith("; shown: cuda:0 NVIDIA Fake 1 "
                           "(GPU-b2c3d4e5-1111-2222-3333-444455556666)")


def test_doctor_says_why_without_nvml(tmp_path: Path) -> None:
    status, detail = doctor_gpu_row(tmp_path, "GPU-b2c3d4e5", "library_not_found")
    assert status == FAIL and "no NVIDIA driver library (libnvidia-ml.so.1)" in detail


def test_doctor_lists_the_shown_gpus(tmp_path: Path) -> None:
    status, detail = doctor_gpu_row(tmp_path, "CUDA2")
    assert (status, detail) == (OK, "shown in JupyterLab's status bar: cuda:0 NVIDIA Fake 2 "
                                    "(GPU-c3d4e5f6-1111-2222-3333-444455556666)")
