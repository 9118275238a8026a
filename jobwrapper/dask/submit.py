"""A Dask worker job's submit description: pure data in, text out (docs/dask.md).

The worker runs as ``jobwrapper run -- PYTHON -m distributed.cli.dask_worker ...``, so
it gets the environment (Lmod modules, venv) that the worker job's own ad names, as any
batch job does. Nothing secret goes into the description or the worker's argv: the
TLS certificate and key travel as files (``transfer_input_files``) and the argv names
them relative to the worker's scratch dir.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Optional

WORKER_MODULE = "distributed.cli.dask_worker"
CLUSTER_ATTRIBUTE = "JobwrapperDaskCluster"  # every worker job carries its cluster's name
PARENT_ATTRIBUTE = "JobwrapperDaskParent"  # and the notebook job's id, for condor_q
MEMORY_LIMIT_SHARE = 0.9  # the worker's own limit; the nanny and python use the rest


@dataclass(frozen=True)
class TlsFiles:
    """The cluster's certificate files on the notebook's side (absolute paths)."""

    ca_file: str
    cert: str
    key: str

    def paths(self) -> tuple[str, str, str]:
        return (self.ca_file, self.cert, self.key)


@dataclass(frozen=True)
class WorkerJob:
    """Everything one worker job's description says."""

    scheduler: str  # tls://10.1.2.3:40123
    name: str  # the Dask worker's name
    cluster_name: str
    jobwrapper: str  # the executable: jobwrapper in the worker's container
    python: str
    cores: int
    memory_mb: int
    disk_mb: int
    death_timeout: int
    log_dir: str  # initialdir: the worker's stdout, stderr and the user log
    container_attribute: str = "ContainerOS"
    container_os: Optional[str] = None
    environment_attribute: str = "JupyterEnvironment"
    environment: Optional[str] = None
    parent_job: Optional[str] = None
    interface: str = ""
    tls: Optional[TlsFiles] = None
    submit_extra: dict[str, str] = field(default_factory=dict)


def worker_argv(job: WorkerJob) -> list[str]:
    """The worker's command after ``jobwrapper run --``."""
    memory_limit = int(job.memory_mb * MEMORY_LIMIT_SHARE)
    argv = [
        job.python, "-m", WORKER_MODULE, job.scheduler,
        "--name", job.name,
        "--nthreads", str(job.cores),
        "--memory-limit", f"{memory_limit}MiB",
        "--nanny",
        "--death-timeout", str(job.death_timeout),
        # The worker's HTTP server (health, metrics) on loopback: only its comm port and
        # the nanny's (TLS) listen on the network.
        "--no-dashboard", "--dashboard-address", "127.0.0.1:0",
    ]
    if job.interface:
        argv += ["--interface", job.interface]
    if job.tls is not None:
        ca_file, cert, key = (os.path.basename(path) for path in job.tls.paths())
        argv += ["--tls-ca-file", ca_file, "--tls-cert", cert, "--tls-key", key]
    return argv


def quote_arguments(argv: list[str]) -> str:
    """HTCondor's new argument syntax: ``"a 'b c' 'it''s'"``."""
    words = []
    for word in argv:
        quoted = word.replace("'", "''").replace('"', '""')
        if not quoted or any(c in quoted for c in " \t'"):
            quoted = f"'{quoted}'"
        words.append(quoted)
    return '"' + " ".join(words) + '"'


def classad_string(value: str) -> str:
    """A ClassAd string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def submit_description(job: WorkerJob) -> str:
    """The whole submit description of one worker job."""
    for value in (job.log_dir, job.jobwrapper, job.name, job.cluster_name, *_tls_paths(job)):
        if "\n" in value or (value in _tls_paths(job) and "," in value):
            raise ValueError(f"{value!r} cannot go into a submit description")
    lines = [
        f"# A Dask worker of jobwrapper.dask (docs/dask.md), cluster {job.cluster_name}",
        "universe = vanilla",
        f"executable = {job.jobwrapper}",
        "transfer_executable = false",
        "arguments = " + quote_arguments(["run", "--", *worker_argv(job)]),
        f"request_cpus = {job.cores}",
        f"request_memory = {job.memory_mb}",
        f"request_disk = {job.disk_mb * 1024}",
    ]
    if job.container_os:
        lines.append(f"+{job.container_attribute} = {classad_string(job.container_os)}")
    if job.environment:
        lines.append(f"+{job.environment_attribute} = {classad_string(job.environment)}")
    lines.append(f"+{CLUSTER_ATTRIBUTE} = {classad_string(job.cluster_name)}")
    if job.parent_job:
        lines.append(f"+{PARENT_ATTRIBUTE} = {classad_string(job.parent_job)}")
    lines += [
        "should_transfer_files = YES",
        "when_to_transfer_output = ON_EXIT",
    ]
    if job.tls is not None:
        lines.append("transfer_input_files = " + ", ".join(job.tls.paths()))
    lines += [
        # Outside ~/jupyter, which goes home with the notebook: logs are not notebooks.
        f"initialdir = {job.log_dir}",
        "output = worker-$(Cluster).out",
        "error = worker-$(Cluster).err",
        "log = workers.log",
        # Workers are removed, not ended: stream so that their last words are kept.
        "stream_output = true",
        "stream_error = true",
        f"batch_name = {job.cluster_name}",
    ]
    lines += [f"{name} = {value}" for name, value in job.submit_extra.items()]
    lines.append("queue")
    return "\n".join(lines) + "\n"


def _tls_paths(job: WorkerJob) -> tuple[str, ...]:
    return job.tls.paths() if job.tls is not None else ()
