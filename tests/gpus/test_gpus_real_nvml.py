"""The real nvidia-ml-py at the boundary: without a driver (the test machines) NVML's
own LibraryNotFound is the reason shown; on a machine with an NVIDIA GPU and driver
the first device is found by index and by HTCondor's short UUID and sampled."""

from __future__ import annotations

import pytest

from jobwrapper.inserver import gpus

pynvml = pytest.importorskip("pynvml")


def _nvml_here() -> str:
    """"library_not_found", "ok", or NVML's error on this machine."""
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError_LibraryNotFound:
        return "library_not_found"
    except pynvml.NVMLError as error:
        return str(error)
    pynvml.nvmlShutdown()
    return "ok"


NVML_HERE = _nvml_here()


@pytest.mark.skipif(NVML_HERE != "library_not_found", reason=f"NVML here: {NVML_HERE}")
def test_without_a_driver_the_real_library_not_found_is_the_reason() -> None:
    answer = gpus.GpuMonitor(("GPU-a1b2c3d4",)).status()
    assert not answer["available"]
    assert answer["reason"].startswith("no NVIDIA driver library (libnvidia-ml.so.1)")


@pytest.mark.skipif(NVML_HERE != "ok", reason=f"no working NVML here: {NVML_HERE}")
def test_a_real_gpu_by_index_and_by_short_uuid() -> None:
    pynvml.nvmlInit()
    uuid = gpus._text(pynvml.nvmlDeviceGetUUID(pynvml.nvmlDeviceGetHandleByIndex(0)))
    short = uuid[:12]  # GPU-xxxxxxxx, as HTCondor assigns it
    answer = gpus.GpuMonitor(("CUDA0", short)).status()
    assert answer["available"] and answer["warnings"] == []
    assert [d["uuid"] for d in answer["devices"]] == [uuid, uuid]
    device = answer["devices"][0]
    assert device["memory_total_mb"] > 0
    assert 0 <= device["memory_used_mb"] <= device["memory_total_mb"]
    assert device["utilization_percent"] is None or 0 <= device["utilization_percent"] <= 100
