"""The job's GPUs for JupyterLab (jobwrapper/inserver/gpus.py) against a fake NVML:
only the assigned devices, HTCondor's ids mapped by UUID prefix or index, nothing
shown without a GPU or without NVML, one warning per id that matches no device."""

from __future__ import annotations

import logging

import pytest
from fakenvml.pynvml import FakeDevice, FakeNvml

from jobwrapper.inserver import gpus

UUIDS = ["GPU-a1b2c3d4-1111-2222-3333-444455556666",
         "GPU-b2c3d4e5-1111-2222-3333-444455556666",
         "GPU-c3d4e5f6-1111-2222-3333-444455556666",
         "GPU-d4e5f6a7-1111-2222-3333-444455556666"]


def node(**changes: object) -> FakeNvml:
    """Four GPUs on the node, as NVML sees them (it ignores CUDA_VISIBLE_DEVICES)."""
    devices = [FakeDevice(uuid, f"NVIDIA Fake {i}", util=10 * i, used_mb=1024 * i,
                          total_mb=16384) for i, uuid in enumerate(UUIDS)]
    return FakeNvml(devices, **changes)  # type: ignore[arg-type]


def status(ids: tuple[str, ...], nvml: FakeNvml) -> dict:
    return gpus.GpuMonitor(ids, lambda: nvml).status()


def test_only_the_assigned_devices_by_htcondor_short_uuid() -> None:
    answer = status(("GPU-c3d4e5f6", "GPU-a1b2c3d4"), node())
    assert answer["available"] and answer["warnings"] == []
    assert [(d["index"], d["nvml_index"], d["uuid"]) for d in answer["devices"]] == [
        (0, 2, UUIDS[2]), (1, 0, UUIDS[0])], "cuda:N in the assigned order, two of four"
    assert answer["devices"][0] == {
        "index": 0, "id": "GPU-c3d4e5f6", "nvml_index": 2, "uuid": UUIDS[2],
        "name": "NVIDIA Fake 2", "utilization_percent": 20, "memory_used_mb": 2048,
        "memory_total_mb": 16384, "error": ""}


def test_full_uuids_and_upper_case_match_too() -> None:
    answer = status((UUIDS[3].upper(),), node())
    assert [d["nvml_index"] for d in answer["devices"]] == [3]


@pytest.mark.parametrize("ids", [("CUDA1", "CUDA3"), ("1", "3")])
def test_htcondor_index_names_and_plain_indices(ids: tuple[str, ...]) -> None:
    answer = status(ids, node())
    assert [(d["index"], d["nvml_index"]) for d in answer["devices"]] == [(0, 1), (1, 3)]


def test_an_id_that_matches_no_device_is_one_warning_not_a_crash(caplog) -> None:
    nvml = node()
    monitor = gpus.GpuMonitor(("GPU-a1b2c3d4", "GPU-ffffffff", "CUDA9"), lambda: nvml,
                              log=logging.getLogger("server"))
    with caplog.at_level(logging.WARNING):
        first, second = monitor.status(), monitor.status()
    assert [d["nvml_index"] for d in first["devices"]] == [0]
    assert len(first["warnings"]) == 2 and "GPU id GPU-ffffffff (assigned by HTCondor) " \
        "matches no device NVML sees" in first["warnings"][0]
    assert "CUDA9" in first["warnings"][1]
    assert second["warnings"] == first["warnings"]
    logged = [r.getMessage() for r in caplog.records]
    assert len(logged) == 2, "each warning logged once, not at every request"
    assert nvml.calls == ["init"], "NVML opened once"


def test_an_ambiguous_prefix_is_not_shown() -> None:
    nvml = node()
    nvml.devices[1].uuid = "GPU-a1b2c3d4-9999-2222-3333-444455556666"
    answer = status(("GPU-a1b2c3d4",), nvml)
    assert not answer["available"] and "matches 2 devices" in answer["warnings"][0]


def test_no_gpu_hides_the_item_and_never_touches_nvml() -> None:
    def no_nvml() -> FakeNvml:
        raise AssertionError("NVML must not be loaded for a job without GPU")

    answer = gpus.GpuMonitor((), no_nvml).status()
    assert answer == {"available": False, "reason": "this job has no GPU", "warnings": [],
                      "poll_seconds": gpus.POLL_SECONDS, "devices": []}


def test_no_driver_library_hides_the_item_with_the_reason() -> None:
    answer = status(("GPU-a1b2c3d4",), node(init_error="library_not_found"))
    assert not answer["available"] and answer["devices"] == []
    assert answer["reason"].startswith("no NVIDIA driver library (libnvidia-ml.so.1)")


def test_other_nvml_errors_and_a_missing_package_are_reasons_too() -> None:
    answer = status(("GPU-a1b2c3d4",), node(init_error="driver_not_loaded"))
    assert answer["reason"] == "NVML does not start: Driver Not Loaded"

    def missing() -> FakeNvml:
        raise ImportError("No module named 'pynvml'")

    answer = gpus.GpuMonitor(("CUDA0",), missing).status()
    assert not answer["available"] and "nvidia-ml-py is not installed" in answer["reason"]


def test_a_lost_gpu_or_an_unsupported_metric_is_a_row_not_a_failure() -> None:
    nvml = node()
    monitor = gpus.GpuMonitor(("CUDA0", "CUDA1"), lambda: nvml)
    monitor.open()
    nvml.devices[0].util = None  # e.g. some GeForce cards: not supported
    nvml.devices[1].lost = True
    first, second = monitor.status()["devices"]
    assert first["utilization_percent"] is None and first["error"] == ""
    assert first["memory_total_mb"] == 16384
    assert second["utilization_percent"] is None and second["memory_used_mb"] is None
    assert second["error"] == "GPU is lost"


def test_a_device_nvml_cannot_open_matches_nothing() -> None:
    nvml = node()
    nvml.devices[2].lost = True
    answer = status(("GPU-c3d4e5f6", "GPU-d4e5f6a7"), nvml)
    assert [d["nvml_index"] for d in answer["devices"]] == [3]
    assert "GPU-c3d4e5f6" in answer["warnings"][0]


def test_samples_are_reused_for_a_second(monkeypatch) -> None:
    nvml = node()
    monitor = gpus.GpuMonitor(("CUDA1",), lambda: nvml)
    assert monitor.status()["devices"][0]["utilization_percent"] == 10
    nvml.devices[1].util = 99
    assert monitor.status()["devices"][0]["utilization_percent"] == 10
    monkeypatch.setattr(gpus, "SAMPLE_MAX_AGE", -1.0)
    assert monitor.status()["devices"][0]["utilization_percent"] == 99


@pytest.mark.parametrize(("environ", "ids"), [
    ({"_CONDOR_AssignedGPUs": "GPU-a1b2c3d4,GPU-b2c3d4e5", "CUDA_VISIBLE_DEVICES": "0"},
     ("GPU-a1b2c3d4", "GPU-b2c3d4e5")),
    ({"CUDA_VISIBLE_DEVICES": "CUDA0, CUDA1"}, ("CUDA0", "CUDA1")),
    ({"CUDA_VISIBLE_DEVICES": "10000"}, ()),
    ({"SLURM_JOB_GPUS": "2,3", "CUDA_VISIBLE_DEVICES": "0,1"}, ("2", "3")),
    ({"_CONDOR_AssignedGPUs": "", "CUDA_VISIBLE_DEVICES": "0"}, ()),
    ({}, ()),
    ({"JOBWRAPPER_GPU_IDS": "GPU-a1b2c3d4", "_CONDOR_AssignedGPUs": "GPU-b2c3d4e5"},
     ("GPU-a1b2c3d4",)),  # what jobwrapper's read stage found wins
    ({"JOBWRAPPER_GPU_IDS": "", "CUDA_VISIBLE_DEVICES": "0"}, ()),
])
def test_the_assigned_ids_as_the_read_stage_takes_them(environ, ids) -> None:
    assert gpus.assigned_ids(environ) == ids


def test_doctor_probe_says_what_is_shown_and_shuts_nvml_down() -> None:
    nvml = node()
    ok, line = gpus.doctor_probe(("GPU-b2c3d4e5",), lambda: nvml)
    assert ok and line == f"shown in JupyterLab's status bar: cuda:0 NVIDIA Fake 1 ({UUIDS[1]})"
    assert nvml.calls == ["init", "shutdown"]
    ok, line = gpus.doctor_probe(("GPU-b2c3d4e5", "GPU-00000000"), lambda: node())
    assert not ok and "GPU-00000000" in line and "shown: cuda:0" in line
    ok, line = gpus.doctor_probe(("CUDA0",), lambda: node(init_error="library_not_found"))
    assert not ok and line.startswith("not shown in JupyterLab: no NVIDIA driver library")
    assert "\n" not in line
