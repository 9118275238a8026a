"""dask-jobqueue's HTCondorCluster with jobwrapper's worker jobs (docs/dask.md).

dask-jobqueue does the plumbing (scale, adapt, ``condor_submit FILE``, the job id from
``submitted to cluster N.``, ``condor_rm N.0`` on close); jobwrapper writes the
description (jobwrapper/dask/submit.py), makes the cluster's TLS files, keeps the
dashboard on loopback behind jupyter-server-proxy and notes each worker job so that
the server's end removes what a killed kernel left (jobwrapper/dask/workers.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, Optional

import dask
from dask_jobqueue.htcondor import HTCondorCluster, HTCondorJob
from distributed.security import Security

from jobwrapper.config import DaskSettings, SiteConfig, load_config
from jobwrapper.dask import workers as worker_jobs
from jobwrapper.dask.submit import TlsFiles, WorkerJob, submit_description
from jobwrapper.errors import ConfigError

DEFAULT_DASHBOARD_LINK = "{scheme}://{host}:{port}/status"
SCHEDD_CHECK_TIMEOUT = 60.0


class JobwrapperWorkerJob(HTCondorJob):
    """One worker job: dask-jobqueue's HTCondorJob with jobwrapper's description."""

    def __init__(self, scheduler: Any = None, name: Any = None, *, template: WorkerJob,
                 state: Path, condor_bin: str, **kwargs: Any) -> None:
        kwargs["security"] = None  # the worker's TLS is in the template, as files
        super().__init__(scheduler=scheduler, name=name, cores=template.cores,
                         memory=f"{template.memory_mb}MiB", disk=f"{template.disk_mb}MiB",
                         **kwargs)
        self.template = dataclasses.replace(template, scheduler=str(scheduler),
                                            name=str(name))
        self.state = state
        self.submit_command = worker_jobs.condor_tool(condor_bin, "condor_submit")
        self.cancel_command = worker_jobs.condor_tool(condor_bin, "condor_rm")

    def job_script(self) -> str:
        return submit_description(self.template)

    async def start(self) -> None:
        await super().start()
        worker_jobs.record_submitted(self.state, self.job_id, self.template.cluster_name)

    async def close(self) -> None:
        await super().close()
        if self.job_id:
            worker_jobs.record_removed(self.state, self.job_id)


class JobwrapperCluster(HTCondorCluster):
    """HTCondorCluster whose workers are jobwrapper worker jobs, at most ``max_workers``."""

    job_cls = JobwrapperWorkerJob

    def __init__(self, *args: Any, max_workers: int, **kwargs: Any) -> None:
        self.max_workers = max_workers
        super().__init__(*args, **kwargs)

    def _get_worker_security(self, security: Any) -> None:
        return None  # in-memory keys never go to a shared dir; TlsFiles carry them

    def scale(self, n: Optional[int] = None, jobs: int = 0, memory: Any = None,
              cores: Any = None) -> Any:
        wanted = n if n is not None else jobs
        if wanted and wanted > self.max_workers:
            raise ValueError(f"{wanted} workers asked for; the site allows "
                             f"{self.max_workers} (dask.max_workers in the site config)")
        return super().scale(n, jobs=jobs, memory=memory, cores=cores)

    def adapt(self, *args: Any, maximum_jobs: Optional[int] = None, **kwargs: Any) -> Any:
        limit = min(maximum_jobs or self.max_workers, self.max_workers)
        return super().adapt(*args, maximum_jobs=limit, **kwargs)

    async def _close(self) -> None:
        await super()._close()
        tls = self._job_kwargs["template"].tls
        for path in tls.paths() if tls is not None else ():  # no worker will start now
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


def cluster(workers: int = 0, *, cores: Optional[int] = None, memory_mb: Optional[int] = None,
            disk_mb: Optional[int] = None, config: Optional[SiteConfig] = None,
            **options: Any) -> JobwrapperCluster:
    """A Dask cluster whose workers are HTCondor jobs in this notebook's container and
    environment; ``workers`` jobs are submitted at once (more with ``.scale``/``.adapt``).

    ``options`` go to dask-jobqueue's HTCondorCluster (e.g. ``scheduler_options``).
    """
    site_config = config or load_config()
    site = site_config.dask
    sizes = {"cores": cores, "memory_mb": memory_mb, "disk_mb": disk_mb}
    for key, value in sizes.items():
        if value is not None and (not isinstance(value, int) or value < 1):
            raise ValueError(f"cluster({key}={value!r}): a whole number of at least 1")
    site = dataclasses.replace(site, **{k: v for k, v in sizes.items() if v is not None})
    if workers > site.max_workers:  # before a scheduler is started for nothing
        raise ValueError(f"{workers} workers asked for; the site allows {site.max_workers} "
                         "(dask.max_workers in the site config)")
    check_schedd(site.condor_bin)
    name = f"dask-{uuid.uuid4().hex[:8]}"
    state = worker_jobs.state_dir()
    cluster_dir = state / name
    cluster_dir.mkdir(mode=0o700)
    security = Security.temporary() if site.tls else None
    template = worker_template(site_config, site, name, cluster_dir,
                               write_tls_files(security, cluster_dir) if security else None)
    _use_proxied_dashboard_link()
    scheduler_options = {"dashboard_address": "127.0.0.1:0",  # jupyter-server-proxy only
                         **options.pop("scheduler_options", {})}
    return JobwrapperCluster(
        n_workers=workers, max_workers=site.max_workers, name=name, security=security,
        interface=site.interface or None, scheduler_options=scheduler_options,
        template=template, state=state, condor_bin=site.condor_bin, **options,
    )


def check_schedd(condor_bin: str) -> None:
    """One ``condor_q -totals`` before a scheduler starts, so that a notebook job that
    cannot submit (no schedd, or an authentication that does not work inside a job)
    says so in one line instead of workers that never come."""
    tool = worker_jobs.condor_tool(condor_bin, "condor_q")
    try:
        result = subprocess.run([tool, "-totals"], capture_output=True, text=True,
                                timeout=SCHEDD_CHECK_TIMEOUT, check=False)
    except OSError as error:
        raise RuntimeError(f"{tool}: {error.strerror}; HTCondor's tools are needed in the "
                           "notebook job (dask.condor_bin in the site config)") from None
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{tool} did not answer in {SCHEDD_CHECK_TIMEOUT:g} s: the "
                           "schedd cannot be reached from this job") from None
    if result.returncode != 0:
        lines = [line.strip() for line in (result.stderr + result.stdout).splitlines()]
        last = next((line for line in reversed(lines) if line), f"exit {result.returncode}")
        raise RuntimeError(f"this job cannot use HTCondor's schedd ({tool}: {last}); "
                           "see docs/dask.md, 'What the site must provide'")


def worker_template(config: SiteConfig, site: DaskSettings, name: str, log_dir: Path,
                    tls: Optional[TlsFiles],
                    environ: Optional[dict[str, str]] = None) -> WorkerJob:
    """The worker job's description, minus the scheduler's address and the worker's name:
    the site's [dask] values, else this notebook job's container and environment."""
    from jobwrapper.job.context import read_context

    context = read_context(dict(os.environ) if environ is None else environ, config)
    return WorkerJob(
        scheduler="", name="", cluster_name=name,
        jobwrapper=site.jobwrapper or find_jobwrapper(),
        python=site.python, cores=site.cores, memory_mb=site.memory_mb,
        disk_mb=site.disk_mb, death_timeout=site.death_timeout, log_dir=str(log_dir),
        container_attribute=config.job.container_attribute,
        container_os=site.container_os or context.container_os,
        environment_attribute=config.job.environment_attribute,
        environment=site.environment or context.environment_name,
        parent_job=context.job_id if context.in_job else None,
        interface=site.interface, tls=tls, submit_extra=dict(site.submit_extra),
    )


def find_jobwrapper() -> str:
    """The notebook's own jobwrapper: on PATH, else beside this Python."""
    found = shutil.which("jobwrapper") or shutil.which("jobwrapper", path=os.path.dirname(
        sys.executable))
    if not found:
        raise ConfigError("dask.jobwrapper: jobwrapper is not on PATH here; set dask.jobwrapper "
                          "in the site config to its path in the workers' container")
    return os.path.abspath(found)


def write_tls_files(security: Security, directory: Path) -> TlsFiles:
    """The worker's CA, certificate and key as 0600 files that file transfer sends."""
    config = security.get_tls_config_for_role("worker")
    files = TlsFiles(str(directory / "ca.pem"), str(directory / "worker.pem"),
                     str(directory / "worker.key"))
    for path, text in zip(files.paths(), (config["ca_file"], config["cert"], config["key"])):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
    return files


def dashboard_link(environ: Optional[dict[str, str]] = None) -> str:
    """The dashboard's URL through jupyter-server-proxy, relative to the server's host."""
    env = os.environ if environ is None else environ
    prefix = env.get("JUPYTERHUB_SERVICE_PREFIX") or "/"
    prefix = prefix if prefix.endswith("/") else prefix + "/"
    return prefix.replace("{", "{{").replace("}", "}}") + "proxy/{port}/status"


def _use_proxied_dashboard_link() -> None:
    if dask.config.get("distributed.dashboard.link") == DEFAULT_DASHBOARD_LINK:
        dask.config.set({"distributed.dashboard.link": dashboard_link()})
