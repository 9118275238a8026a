"""`condor_submit [FILE|-]`: queue one job and start its detached shadow.

Output and exit codes as HTCondor 25.0's (cross-checked): `Submitting job(s)` is
printed first, then `.` and `1 job(s) submitted to cluster N.` (exit 0); a bad
description leaves `Submitting job(s)` without a newline on stdout and prints
condor_submit's `ERROR: ...` lines on stderr (exit 1). `condor_submit -` is verbose,
as the real one is: it prints `** Proc N.0:` and the job ad, and no summary line.
"""

from __future__ import annotations

import os
import pwd
import sys
import time
import traceback
from pathlib import Path

from jobwrapper.localpool.ads.classads import render_ad
from jobwrapper.localpool.ads.jobad import SubmitContext, queue_ad
from jobwrapper.localpool.ads.jobspec import build_spec
from jobwrapper.localpool.commands.submit_file import SubmitError, expand_macros, parse_submit
from jobwrapper.localpool.config import PoolConfig, PoolError, PoolLayout
from jobwrapper.localpool.execute import negotiator
from jobwrapper.localpool.execute.shadow import detach_stdio, run_shadow
from jobwrapper.localpool.records import allocate_cluster, create_record, write_ad, write_private

USAGE = "Usage: condor_submit [options] [- | <submit-file>]"


def _read_description(argv: list[str]) -> tuple[str, str, bool]:
    """(submit text, file name for JobSubmitFile, whether it is `-`) from the command
    line or stdin."""
    files = [arg for arg in argv if arg == "-" or not arg.startswith("-")]
    options = [arg for arg in argv if arg.startswith("-") and arg != "-"]
    if options:
        raise SubmitError(f"option {options[0]} is not supported by this local pool; {USAGE}")
    if len(files) > 1:
        raise SubmitError(f"only one submit file may be given; {USAGE}")
    if not files or files[0] == "-":
        return sys.stdin.read(), "", bool(files)
    try:
        return Path(files[0]).read_text(), files[0], False
    except OSError as error:
        raise SubmitError(f"Failed to open command file ({files[0]}) ({error.strerror})",
                          blank=True) from None


def start_shadow(layout: PoolLayout, config: PoolConfig, cluster: int) -> None:
    """Double-fork a detached shadow and wait until it has taken charge of the job."""
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        code = 0
        try:
            os.close(read_end)
            os.setsid()
            if os.fork() != 0:
                os._exit(0)
            detach_stdio(layout.record(cluster) / "shadow.log")
            run_shadow(layout, config, cluster, write_end)
        except BaseException:  # the shadow must never return into condor_submit's code
            traceback.print_exc()
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    os.waitpid(child, 0)
    with os.fdopen(read_end, "rb") as pipe:
        answer = pipe.read()
    if answer != b"ok":
        raise PoolError(f"the job's shadow did not start; see {layout.record(cluster)}/shadow.log")


def submit(argv: list[str], layout: PoolLayout, config: PoolConfig) -> int:
    """The condor_submit command; returns its exit code."""
    text, file_name, verbose = _read_description(argv)
    if not verbose:
        print("Submitting job(s)", end="", flush=True)
    parsed = parse_submit(text, file_name or "<stdin>")
    layout.ensure()
    cluster = allocate_cluster(layout)
    expanded = expand_macros(parsed, cluster)
    spec, mode = build_spec(expanded, Path.cwd(), dict(os.environ))
    account = pwd.getpwuid(os.getuid())
    context = SubmitContext(
        cluster=cluster,
        owner=account.pw_name,
        home=account.pw_dir,
        domain=config.domain(),
        qdate=int(time.time()),
        submit_file=file_name,
    )
    ad = queue_ad(expanded, spec, mode, context)
    record = create_record(layout, cluster)
    write_private(record, "spec.json", spec.to_dict())
    write_ad(record, ad)
    start_shadow(layout, config, cluster)
    if config.submit_send_reschedule and config.negotiator_interval > 0:
        negotiator.request_cycle(layout)  # after the shadow took charge: it sees this one
    if verbose:
        print(f"\n** Proc {cluster}.0:\n{render_ad(ad)}", flush=True)
    else:
        print(f".\n1 job(s) submitted to cluster {cluster}.", flush=True)
    return 0
