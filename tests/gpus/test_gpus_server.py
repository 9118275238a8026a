"""GET /jobwrapper/gpus through a real jupyter-server, with the fake pynvml first on
the server's PYTHONPATH (NVML is never loaded for real: no GPU on the test machines)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests
from gpu_helpers import UUIDS, fake_nvml_env, write_fake_node
from jupyter_harness import jupyter_server, wait_until

pytestmark = pytest.mark.processes


def test_the_assigned_gpus_through_the_server(tmp_path: Path) -> None:
    node = write_fake_node(tmp_path / "node.json")
    env = fake_nvml_env(node, "GPU-c3d4e5f6,GPU-a1b2c3d4,GPU-deadbeef")
    with jupyter_server(tmp_path / "server", extra_env=env) as server:
        before = server.api("GET", "api/status").json()["last_activity"]
        answer = server.api("GET", "jobwrapper/gpus")
        assert answer.status_code == 200
        status = answer.json()
        assert status["available"] and status["poll_seconds"] == 5
        assert [(d["index"], d["nvml_index"], d["uuid"], d["utilization_percent"])
                for d in status["devices"]] == [(0, 2, UUIDS[2], 39), (1, 0, UUIDS[0], 37)]
        assert status["devices"][0]["memory_used_mb"] == 3176
        assert status["devices"][0]["memory_total_mb"] == 16384
        assert len(status["warnings"]) == 1 and "GPU-deadbeef" in status["warnings"][0]
        wait_until(lambda: "GPU id GPU-deadbeef (assigned by HTCondor) matches no device"
                   in server.log(), 10, "the warning in the server's log")
        assert server.log().count("GPU-deadbeef") == 1, "one warning, not one per request"

        write_fake_node(node, util=80)
        time.sleep(1.1)  # samples are reused for a second
        assert server.api("GET", "jobwrapper/gpus").json()["devices"][0][
            "utilization_percent"] == 82

        assert requests.get(server.url + "jobwrapper/gpus", timeout=10).status_code == 403
        after = server.api("GET", "api/status").json()["last_activity"]
        assert after == before, "polling the GPUs is not activity (idle sessions still end)"


@pytest.mark.parametrize(("assigned", "init_error", "reason"), [
    ("10000", None, "this job has no GPU"),
    ("GPU-a1b2c3d4", "library_not_found", "no NVIDIA driver library (libnvidia-ml.so.1)"),
])
def test_nothing_to_show_is_said_once(tmp_path: Path, assigned: str, init_error: object,
                                      reason: str) -> None:
    node = write_fake_node(tmp_path / "node.json", init_error=init_error)
    with jupyter_server(tmp_path / "server", extra_env=fake_nvml_env(node, assigned)) as server:
        status = server.api("GET", "jobwrapper/gpus").json()
        assert not status["available"] and status["devices"] == []
        assert status["reason"].startswith(reason)
        if init_error:
            wait_until(lambda: "GPUs not shown: no NVIDIA driver library" in server.log(),
                       10, "the reason in the log")
        else:
            assert "GPUs not shown" not in server.log()
