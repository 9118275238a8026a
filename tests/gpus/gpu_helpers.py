"""A fake node for servers started in tests: fakenvml/ (the fake pynvml) first on the
server's PYTHONPATH, its devices in a JSON file."""

from __future__ import annotations

import json
from pathlib import Path

FAKE_NVML_DIR = Path(__file__).resolve().parent / "fakenvml"

UUIDS = ["GPU-a1b2c3d4-1111-2222-3333-444455556666",
         "GPU-b2c3d4e5-1111-2222-3333-444455556666",
         "GPU-c3d4e5f6-1111-2222-3333-444455556666"]


def write_fake_node(path: Path, util: int = 37, init_error: object = None) -> Path:
    """Three GPUs on the fake node; the job gets some of them."""
    devices = [{"uuid": uuid, "name": f"NVIDIA Fake {i}", "util": util + i,
                "used_mb": 3174 + i, "total_mb": 16384} for i, uuid in enumerate(UUIDS)]
    path.write_text(json.dumps({"init_error": init_error, "devices": devices}))
    return path


def fake_nvml_env(node_file: Path, assigned: str) -> dict[str, str]:
    """The server's environment: the fake pynvml first on the path, HTCondor's ids."""
    return {"PYTHONPATH": str(FAKE_NVML_DIR), "FAKE_NVML_FILE": str(node_file),
            "_CONDOR_AssignedGPUs": assigned, "CUDA_VISIBLE_DEVICES": assigned}
