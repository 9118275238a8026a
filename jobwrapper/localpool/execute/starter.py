"""What a starter does on the execute side: scratch dir, ads, environment, launch, output.

The scratch dir is `<pool>/execute/dir_<shadow pid>` (a real starter names it after
its own pid), private to the job's owner, with `tmp/` and `var/tmp/` inside. With
file transfer (should_transfer_files = YES) the job runs there and its stdout/stderr
go to `_condor_stdout`/`_condor_stderr`, copied to `output`/`error` at the end
(unless stream_output/stream_error); without, it runs in Iwd (or remote_initialdir)
and writes `output`/`error` directly.
"""

from __future__ import annotations

import dataclasses
import os
import pwd
import subprocess
import sys
import traceback
from pathlib import Path

from jobwrapper.localpool.ads.classads import Ad, render_ad
from jobwrapper.localpool.ads.jobad import Slot, machine_ad, starter_ad
from jobwrapper.localpool.ads.jobspec import JobSpec
from jobwrapper.localpool.config import PoolConfig, PoolLayout
from jobwrapper.localpool.execute import netns, transfer
from jobwrapper.localpool.execute.environment import ancestor_marker, job_environment
from jobwrapper.localpool.records import ShadowInfo, write_private


@dataclasses.dataclass
class StarterJob:
    """A job set up on the execute side, ready to launch."""

    spec: JobSpec
    scratch: Path
    cwd: str
    argv: list[str]
    environment: dict[str, str]
    stdout: str
    stderr: str
    marker: tuple[str, str]
    before: dict[str, float]
    netns_pid: int = 0


def _scratch_dir(layout: PoolLayout, pid: int) -> Path:
    path, suffix = layout.execute / f"dir_{pid}", 0
    while path.exists():
        suffix += 1
        path = layout.execute / f"dir_{pid}_{suffix}"
    path.mkdir(mode=0o700)
    for private in ("tmp", "var", "var/tmp"):
        (path / private).mkdir(mode=0o700)
    return path


def _stdio_path(spec: JobSpec, scratch: Path, name: str, submitted: str, stream: bool) -> str:
    if not submitted:
        return os.devnull
    if spec.transfer_files and not stream:
        return str(scratch / name)
    return os.path.join(spec.iwd, submitted)


def prepare(
    layout: PoolLayout, spec: JobSpec, ad: Ad, slot: Slot, info: ShadowInfo, started: int
) -> StarterJob:
    """Create the scratch dir, transfer input, write ads and compute the environment."""
    scratch = _scratch_dir(layout, info.pid)
    info.scratch_dir = str(scratch)
    if spec.transfer_files:
        transfer.transfer_input(Path(spec.iwd), scratch, spec.transfer_input)
        cwd = str(scratch)
    else:
        cwd = spec.remote_iwd or spec.iwd
    (scratch / ".job.ad").write_text(render_ad(starter_ad(ad, spec, str(scratch))))
    (scratch / ".machine.ad").write_text(render_ad(machine_ad(slot, ad, started, ad["MyAddress"])))
    # A real chirp config names the starter's chirp proxy; nothing listens here.
    (scratch / ".chirp.config").write_text("127.0.0.1 9618 0\n")
    marker = ancestor_marker(info.pid)
    home = pwd.getpwuid(os.getuid()).pw_dir
    environment = job_environment(spec.environment, slot, str(scratch), cwd, home, info.pid, marker)
    return StarterJob(
        spec=spec,
        scratch=scratch,
        cwd=cwd,
        argv=[spec.executable, *spec.arguments],
        environment=environment,
        stdout=_stdio_path(spec, scratch, "_condor_stdout", spec.output, spec.stream_output),
        stderr=_stdio_path(spec, scratch, "_condor_stderr", spec.error, spec.stream_error),
        marker=marker,
        before=transfer.snapshot(scratch),
    )


def save_environment(record: Path, job: StarterJob) -> None:
    """The job's environment and cwd for condor_ssh_to_job (owner-only file)."""
    write_private(record, "environ.json", {"environment": job.environment, "cwd": job.cwd})


def launch(job: StarterJob, config: PoolConfig) -> subprocess.Popen[bytes]:
    """Start the job in its own session (and network namespace when configured)."""
    preexec = None
    if config.netns:
        if not netns.available():
            raise OSError("the pool is configured with netns = true, but this user cannot "
                          "create network namespaces")
        job.netns_pid = netns.create(config.outbound_ports)
        preexec = netns.preexec(job.netns_pid)
    with open(job.stdout, "wb") as stdout, open(job.stderr, "wb") as stderr:
        return subprocess.Popen(
            job.argv,
            cwd=job.cwd,
            env=job.environment,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
            close_fds=True,
            preexec_fn=preexec,
        )


def transfer_back(job: StarterJob) -> None:
    """Copy output files and stdout/stderr back to Iwd (file transfer jobs only)."""
    spec = job.spec
    if not spec.transfer_files:
        return
    iwd = Path(spec.iwd)
    try:
        entries = spec.transfer_output
        if entries is None:
            entries = transfer.changed_files(job.scratch, job.before)
        missing = transfer.transfer_output(job.scratch, iwd, entries)
        if missing:
            print(f"output files not found in the job: {', '.join(missing)}", file=sys.stderr)
        for name, submitted, stream in (
            ("_condor_stdout", spec.output, spec.stream_output),
            ("_condor_stderr", spec.error, spec.stream_error),
        ):
            if submitted and not stream and (job.scratch / name).exists():
                transfer.install_file(job.scratch / name, iwd / submitted)
    except OSError:
        traceback.print_exc()
