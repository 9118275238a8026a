"""A fake of nvidia-ml-py's ``pynvml`` for tests on machines without a GPU.

Two uses, one fake:

- unit tests build ``FakeNvml([...])`` and hand it to jobwrapper.inserver.gpus
  (which takes the nvml module as a parameter);
- a real jupyter-server started with this directory first on ``PYTHONPATH`` imports
  this file as ``pynvml``; it then reads its devices from the JSON file named by
  ``FAKE_NVML_FILE`` on every call (a test can change them while the server runs).
  Nothing in jobwrapper reads that variable: it exists only here, in tests/.

JSON: ``{"init_error": "library_not_found" | "driver_not_loaded" | null,
"devices": [{"uuid": "GPU-...", "name": "...", "util": 37, "used_mb": 100,
"total_mb": 16384}]}``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Optional

NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_GPU_IS_LOST = 15
_MESSAGES = {
    NVML_ERROR_NOT_SUPPORTED: "Not Supported",
    NVML_ERROR_DRIVER_NOT_LOADED: "Driver Not Loaded",
    NVML_ERROR_LIBRARY_NOT_FOUND: "NVML Shared Library Not Found",
    NVML_ERROR_GPU_IS_LOST: "GPU is lost",
}


class NVMLError(Exception):
    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return _MESSAGES.get(self.value, f"NVML Error with code {self.value}")


class NVMLError_NotSupported(NVMLError):
    def __init__(self) -> None:
        super().__init__(NVML_ERROR_NOT_SUPPORTED)


class NVMLError_DriverNotLoaded(NVMLError):
    def __init__(self) -> None:
        super().__init__(NVML_ERROR_DRIVER_NOT_LOADED)


class NVMLError_LibraryNotFound(NVMLError):
    def __init__(self) -> None:
        super().__init__(NVML_ERROR_LIBRARY_NOT_FOUND)


class NVMLError_GpuIsLost(NVMLError):
    def __init__(self) -> None:
        super().__init__(NVML_ERROR_GPU_IS_LOST)


INIT_ERRORS = {"library_not_found": NVMLError_LibraryNotFound,
               "driver_not_loaded": NVMLError_DriverNotLoaded}


@dataclass
class FakeDevice:
    uuid: str
    name: str = "NVIDIA Fake GPU"
    util: Optional[int] = 0  # None: not supported
    used_mb: int = 0
    total_mb: int = 16384
    lost: bool = False  # every call on it raises GpuIsLost


class FakeNvml:
    """An object with pynvml's names, over a list of devices in NVML's index order."""

    NVMLError = NVMLError
    NVMLError_NotSupported = NVMLError_NotSupported
    NVMLError_DriverNotLoaded = NVMLError_DriverNotLoaded
    NVMLError_LibraryNotFound = NVMLError_LibraryNotFound
    NVMLError_GpuIsLost = NVMLError_GpuIsLost

    def __init__(self, devices: list[FakeDevice], init_error: Optional[str] = None) -> None:
        self.devices = devices
        self.init_error = init_error
        self.initialised = False
        self.calls: list[str] = []

    def _device(self, handle: int) -> FakeDevice:
        if not self.initialised:
            raise NVMLError(1)  # Uninitialized
        device = self.devices[handle]
        if device.lost:
            raise NVMLError_GpuIsLost()
        return device

    def nvmlInit(self) -> None:
        self.calls.append("init")
        if self.init_error:
            raise INIT_ERRORS[self.init_error]()
        self.initialised = True

    def nvmlShutdown(self) -> None:
        self.calls.append("shutdown")
        self.initialised = False

    def nvmlDeviceGetCount(self) -> int:
        return len(self.devices)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        if not 0 <= index < len(self.devices):
            raise NVMLError(2)  # Invalid Argument
        return index

    def nvmlDeviceGetUUID(self, handle: int) -> str:
        return self._device(handle).uuid

    def nvmlDeviceGetName(self, handle: int) -> str:
        return self._device(handle).name

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> Any:
        device = self._device(handle)
        if device.util is None:
            raise NVMLError_NotSupported()
        return SimpleNamespace(gpu=device.util, memory=0)

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> Any:
        device = self._device(handle)
        used, total = device.used_mb * 1024 * 1024, device.total_mb * 1024 * 1024
        return SimpleNamespace(used=used, total=total, free=total - used)


def _from_file() -> FakeNvml:
    path = os.environ.get("FAKE_NVML_FILE", "")
    with open(path) if path else open(os.devnull) as handle:
        data = json.loads(handle.read() or "{}")
    devices = [FakeDevice(**d) for d in data.get("devices", [])]
    return FakeNvml(devices, data.get("init_error"))


_state: Optional[FakeNvml] = None


def _current() -> FakeNvml:
    """Imported as pynvml by a server: the devices of FAKE_NVML_FILE, re-read each
    call; whether NVML was initialised is kept."""
    global _state
    fresh = _from_file()
    if _state is not None:
        fresh.initialised = _state.initialised
    _state = fresh
    return fresh


def nvmlInit() -> None:
    _current().nvmlInit()


def nvmlShutdown() -> None:
    _current().nvmlShutdown()


def nvmlDeviceGetCount() -> int:
    return _current().nvmlDeviceGetCount()


def nvmlDeviceGetHandleByIndex(index: int) -> int:
    return _current().nvmlDeviceGetHandleByIndex(index)


def nvmlDeviceGetUUID(handle: int) -> str:
    return _current().nvmlDeviceGetUUID(handle)


def nvmlDeviceGetName(handle: int) -> str:
    return _current().nvmlDeviceGetName(handle)


def nvmlDeviceGetUtilizationRates(handle: int) -> Any:
    return _current().nvmlDeviceGetUtilizationRates(handle)


def nvmlDeviceGetMemoryInfo(handle: int) -> Any:
    return _current().nvmlDeviceGetMemoryInfo(handle)
