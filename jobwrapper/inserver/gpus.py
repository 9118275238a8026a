"""The job's GPUs in JupyterLab's status bar: utilisation and memory (docs/gpus.md).

Only the GPUs HTCondor assigned to the job are shown. NVML sees every GPU of the
node and ignores ``CUDA_VISIBLE_DEVICES``, so each assigned id is mapped to an NVML
device:

- ``GPU-a1b2c3d4`` (HTCondor's short UUID) or a full UUID: the one device whose NVML
  UUID (``GPU-a1b2c3d4-...``) starts with it;
- ``CUDA0`` (HTCondor's index names) or ``0``: NVML's device index 0.

The ids are the read stage's (``Resources.gpu_ids``), taken from the server's
environment (``assigned_ids``): HTCondor's ``AssignedGPUs``, which the job has as
``_CONDOR_AssignedGPUs``, else Slurm's ``SLURM_JOB_GPUS``, else
``CUDA_VISIBLE_DEVICES``; 10000 means none. (notebook/ and inserver/ share no
module, so the server reads the same variables rather than the read stage's result.)
An id that matches no device is one warning (in the server's log and in ``jobwrapper
doctor``), never an error; without NVML (no driver library in the job) nothing is
shown and the reason is one line.

NVML is reached only through ``load_nvml()`` (the ``pynvml`` module of nvidia-ml-py);
everything else takes that module as a parameter, so tests hand in a fake one.
``GET /jobwrapper/gpus`` answers the JupyterLab plugin (``labextension/@jobwrapper/gpus``);
it does not count as activity, so a polling page keeps no idle session alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

POLL_SECONDS = 5  # how often the JupyterLab plugin asks
SAMPLE_MAX_AGE = 1.0  # seconds a sample is reused for (several open pages)
HIDDEN_GPU = "10000"  # what HTCondor puts in CUDA_VISIBLE_DEVICES when no GPU is assigned
_INDEX_ID = re.compile(r"(?:CUDA)?(\d+)\Z", re.IGNORECASE)
MB = 1024 * 1024

NvmlLoader = Callable[[], Any]


def load_nvml() -> Any:
    """The one place NVML comes from: nvidia-ml-py's ``pynvml`` module."""
    import pynvml

    return pynvml


def assigned_ids(environ: Mapping[str, str]) -> tuple[str, ...]:
    """The job's GPU ids as the read stage found them: ``JOBWRAPPER_GPU_IDS``, which
    jobwrapper's plan sets (job/context.py, job/slurm.py; empty: none). A server not
    started by jobwrapper: HTCondor's AssignedGPUs (the job's ``_CONDOR_AssignedGPUs``),
    in a Slurm job the node's indices (``SLURM_JOB_GPUS``, ``SLURM_STEP_GPUS``), else
    ``CUDA_VISIBLE_DEVICES``; 10000 is none."""
    text = environ.get("JOBWRAPPER_GPU_IDS")
    if text is None:
        text = environ.get("_CONDOR_AssignedGPUs")
    if text is None:
        text = environ.get("SLURM_JOB_GPUS") or environ.get("SLURM_STEP_GPUS") \
            or environ.get("CUDA_VISIBLE_DEVICES", "")
    ids = (item.strip() for item in text.split(","))
    return tuple(item for item in ids if item and item != HIDDEN_GPU)


@dataclass(frozen=True)
class Device:
    """An assigned GPU and its NVML device."""

    index: int  # the job's CUDA index (cuda:N): its place among the assigned ids
    id: str  # HTCondor's id for it
    nvml_index: int  # NVML's index on the node
    uuid: str
    name: str
    handle: Any = field(compare=False, repr=False)


@dataclass(frozen=True)
class GpuView:
    """The assigned GPUs that NVML has, or why none is shown; one warning per id that
    matches no device."""

    devices: tuple[Device, ...] = ()
    reason: str = ""
    warnings: tuple[str, ...] = ()

    @property
    def available(self) -> bool:
        return bool(self.devices)


def _text(value: Any) -> str:
    """NVML strings: str from nvidia-ml-py >= 11.515, bytes before."""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _nvml_devices(nvml: Any) -> list[tuple[int, str, Any]]:
    """(index, uuid, handle) of every device NVML sees; a device NVML cannot open is
    left out (an id assigned to it then matches nothing)."""
    found = []
    for index in range(int(nvml.nvmlDeviceGetCount())):
        try:
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            found.append((index, _text(nvml.nvmlDeviceGetUUID(handle)), handle))
        except nvml.NVMLError:
            continue
    return found


def match_id(gpu_id: str, devices: Sequence[tuple[int, str, Any]]
             ) -> tuple[Optional[tuple[int, str, Any]], str]:
    """The NVML device for one HTCondor id, or None and why not."""
    by_index = _INDEX_ID.match(gpu_id)
    if by_index:
        wanted = int(by_index.group(1))
        hits = [d for d in devices if d[0] == wanted]
    else:
        hits = [d for d in devices if d[1].lower().startswith(gpu_id.lower())]
    if len(hits) == 1:
        return hits[0], ""
    seen = ", ".join(f"{index} {uuid}" for index, uuid, _ in devices) or "none"
    if hits:
        return None, f"GPU id {gpu_id} matches {len(hits)} devices; it is not shown"
    return None, (f"GPU id {gpu_id} (assigned by HTCondor) matches no device NVML sees "
                  f"({seen}); it is not shown")


def map_devices(ids: Sequence[str], nvml: Any) -> GpuView:
    """The assigned ids mapped to NVML devices (NVML initialised already)."""
    devices: list[Device] = []
    warnings: list[str] = []
    nvml_devices = _nvml_devices(nvml)
    for position, gpu_id in enumerate(ids):
        hit, problem = match_id(gpu_id, nvml_devices)
        if hit is None:
            warnings.append(problem)
            continue
        index, uuid, handle = hit
        try:
            name = _text(nvml.nvmlDeviceGetName(handle))
        except nvml.NVMLError:
            name = "GPU"
        devices.append(Device(position, gpu_id, index, uuid, name, handle))
    reason = "" if devices else "none of the job's GPUs (" + ", ".join(ids) + ") is known to NVML"
    return GpuView(tuple(devices), reason, tuple(warnings))


def open_gpus(ids: Sequence[str], load: NvmlLoader = load_nvml) -> tuple[GpuView, Any]:
    """Initialise NVML and map the job's GPUs: (the view, the nvml module or None).
    NVML is not touched when the job has no GPU."""
    if not ids:
        return GpuView(reason="this job has no GPU"), None
    try:
        nvml = load()
    except ImportError:
        return GpuView(reason="nvidia-ml-py is not installed in the server's environment "
                              "(pip install nvidia-ml-py)"), None
    try:
        nvml.nvmlInit()
    except nvml.NVMLError_LibraryNotFound:
        return GpuView(reason="no NVIDIA driver library (libnvidia-ml.so.1) in this job: "
                              "NVML cannot be used; a container needs the node's driver "
                              "libraries (Apptainer: --nv)"), None
    except nvml.NVMLError as error:
        return GpuView(reason=f"NVML does not start: {error}"), None
    try:
        return map_devices(ids, nvml), nvml
    except nvml.NVMLError as error:
        return GpuView(reason=f"NVML cannot list the devices: {error}"), nvml


def _metric(nvml: Any, read: Callable[[], Any]) -> tuple[Any, str]:
    """A value, or None and the error (a metric the GPU does not support: no error)."""
    try:
        return read(), ""
    except nvml.NVMLError_NotSupported:
        return None, ""
    except nvml.NVMLError as error:
        return None, str(error)


def sample_device(nvml: Any, device: Device) -> dict[str, Any]:
    """One device's row: utilisation % and memory in MB (None when NVML cannot say)."""
    handle = device.handle
    utilization, error = _metric(nvml, lambda: int(nvml.nvmlDeviceGetUtilizationRates(
        handle).gpu))
    memory, memory_error = _metric(nvml, lambda: nvml.nvmlDeviceGetMemoryInfo(handle))
    return {
        "index": device.index,
        "id": device.id,
        "nvml_index": device.nvml_index,
        "uuid": device.uuid,
        "name": device.name,
        "utilization_percent": utilization,
        "memory_used_mb": int(memory.used) // MB if memory is not None else None,
        "memory_total_mb": int(memory.total) // MB if memory is not None else None,
        "error": error or memory_error,
    }


def doctor_probe(ids: Sequence[str], load: NvmlLoader = load_nvml) -> tuple[bool, str]:
    """For ``jobwrapper doctor``: (all assigned GPUs shown, one line)."""
    try:
        view, nvml = open_gpus(ids, load)
    except Exception as error:  # never a traceback: one line
        return False, f"not shown in JupyterLab: NVML failed: {error}"
    try:
        shown = ", ".join(f"cuda:{d.index} {d.name} ({d.uuid})" for d in view.devices)
        if view.warnings:
            return False, "; ".join(view.warnings) + (f"; shown: {shown}" if shown else "")
        if not view.available:
            return False, f"not shown in JupyterLab: {view.reason}"
        return True, f"shown in JupyterLab's status bar: {shown}"
    finally:
        if nvml is not None:
            with contextlib.suppress(nvml.NVMLError):
                nvml.nvmlShutdown()


class GpuMonitor:
    """The job's GPUs for the handler: opened once, sampled at most once a second."""

    def __init__(self, ids: Sequence[str], load: NvmlLoader = load_nvml,
                 log: Any = None) -> None:
        self.ids = tuple(ids)
        self.load = load
        self.log = log
        self.view: Optional[GpuView] = None
        self._nvml: Any = None
        self._lock = threading.Lock()
        self._sample: Optional[tuple[float, list[dict[str, Any]]]] = None

    def open(self) -> GpuView:
        """Open NVML once; log the reason and each warning once."""
        with self._lock:
            if self.view is None:
                try:
                    self.view, self._nvml = open_gpus(self.ids, self.load)
                except Exception as error:  # never a crash: the item stays hidden
                    self.view = GpuView(reason=f"NVML failed: {error}")
                if self.log is not None:
                    for warning in self.view.warnings:
                        self.log.warning("jobwrapper: %s", warning)
                    if self.ids and not self.view.available:
                        self.log.warning("jobwrapper: GPUs not shown: %s", self.view.reason)
            return self.view

    def status(self) -> dict[str, Any]:
        """The JSON answer: whether anything is shown, why not, and a row per device."""
        view = self.open()
        devices: list[dict[str, Any]] = []
        if view.available:
            with self._lock:
                now = time.monotonic()
                if self._sample is None or now - self._sample[0] > SAMPLE_MAX_AGE:
                    self._sample = (now, [sample_device(self._nvml, d) for d in view.devices])
                devices = self._sample[1]
        return {"available": view.available, "reason": view.reason,
                "warnings": list(view.warnings), "poll_seconds": POLL_SECONDS,
                "devices": devices}


def _handler() -> type:
    """The handler class (built lazily: jupyter-server is imported only in the server)."""
    from jupyter_server.base.handlers import APIHandler
    from tornado import web

    class GpuHandler(APIHandler):
        """GET: the job's GPUs, their utilisation and memory."""

        _track_activity = False  # a page polling every few seconds is not activity

        def initialize(self, monitor: GpuMonitor) -> None:
            self.monitor = monitor

        @web.authenticated
        async def get(self) -> None:
            loop = asyncio.get_running_loop()
            self.finish(await loop.run_in_executor(None, self.monitor.status))

    return GpuHandler


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Add ``/jobwrapper/gpus``; NVML is opened in the background after the start."""
    from jupyter_server.utils import url_path_join
    from tornado.ioloop import IOLoop

    monitor = GpuMonitor(assigned_ids(os.environ), log=serverapp.log)
    base_url = serverapp.web_app.settings["base_url"]
    serverapp.web_app.add_handlers(
        ".*", [(url_path_join(base_url, "jobwrapper/gpus"), _handler(), {"monitor": monitor})])
    if monitor.ids:
        IOLoop.current().add_callback(
            lambda: IOLoop.current().run_in_executor(None, monitor.open))


load_jupyter_server_extension = _load_jupyter_server_extension
