"""The environment a starter gives a job, as on a real HTCondor 25.0 pool.

Compare /work/shared/jobads/*/environ: there is no PATH (unless the job's
environment sets one), the thread variables follow the slot's Cpus unless the job set
them, GPUs are hidden with 10000, and TMPDIR/TMP/TEMP point to a private tmp dir.
Nor is there PWD: a real starter does not set it (a shell job's shell does; the
samples' job was a shell script).
A real starter bind-mounts that dir on /tmp (so TMPDIR=/tmp); this pool cannot, so
TMPDIR is `<scratch>/tmp` and /tmp is the machine's.
"""

from __future__ import annotations

import os
import secrets
import time

from jobwrapper.job.threads import HTCONDOR_THREAD_VARIABLES
from jobwrapper.localpool.ads.jobad import Slot

# The starter's STARTER_NUM_THREADS_ENV_VARS default: one list for the job side and the pool.
THREAD_VARIABLES = HTCONDOR_THREAD_VARIABLES
NO_GPU = "10000"


def ancestor_marker(shadow_pid: int) -> tuple[str, str]:
    """HTCondor's `_CONDOR_ANCESTOR_<pid>` variable: it finds a job's escaped processes."""
    return (
        f"_CONDOR_ANCESTOR_{shadow_pid}",
        f"{shadow_pid}:{int(time.time())}:{secrets.randbelow(2**32)}",
    )


def job_environment(
    requested: dict[str, str],
    slot: Slot,
    scratch_dir: str,
    job_iwd: str,
    home: str,
    shadow_pid: int,
    marker: tuple[str, str],
) -> dict[str, str]:
    """The full environment of the job's process."""
    environment = dict(requested)
    tmp = os.path.join(scratch_dir, "tmp")
    gpus = "" if slot.gpus else NO_GPU
    environment.setdefault("HOME", home)
    for name in THREAD_VARIABLES:
        environment.setdefault(name, str(slot.cpus))
    environment.update(
        {
            "BATCH_SYSTEM": "HTCondor",
            "CONDOR_STARTER_PID": str(shadow_pid),
            "APPTAINER_CACHEDIR": scratch_dir,
            "SINGULARITY_CACHEDIR": scratch_dir,
            "TMPDIR": tmp,
            "TMP": tmp,
            "TEMP": tmp,
            "_CHIRP_DELAYED_UPDATE_PREFIX": "Chirp*",
            "_CONDOR_SCRATCH_DIR": scratch_dir,
            "_CONDOR_JOB_AD": f"{scratch_dir}/.job.ad",
            "_CONDOR_MACHINE_AD": f"{scratch_dir}/.machine.ad",
            "_CONDOR_CHIRP_CONFIG": f"{scratch_dir}/.chirp.config",
            "_CONDOR_JOB_IWD": job_iwd,
            "_CONDOR_JOB_PIDS": "",
            "_CONDOR_SLOT": slot.name.split("@")[0],
            "_CONDOR_AssignedGPUs": gpus,
        }
    )
    if not slot.gpus:
        environment.update(
            {
                "CUDA_VISIBLE_DEVICES": NO_GPU,
                "GPU_DEVICE_ORDINAL": NO_GPU,
                "NVIDIA_VISIBLE_DEVICES": "none",
            }
        )
    environment[marker[0]] = marker[1]
    return environment
