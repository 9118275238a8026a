"""`condor_rm N [N.0 ...]`: mark jobs for removal (SIGTERM to their shadows).

Messages and exit codes as HTCondor's: `All jobs in cluster N have been marked for
removal` (exit 0); `Couldn't find/remove all jobs in cluster N` on stderr (exit 1)
for a job that is not in the queue or that the caller may not remove (only the
owner and root may). Removing a job that is already being removed succeeds again.
"""

from __future__ import annotations

import os
import pwd
import signal
import sys

from .config import PoolLayout
from .records import JobRecord, load_record, queued_jobs
from .shadow import REMOVED_BY_FILE

USAGE = "Usage: condor_rm [options] [cluster | cluster.proc | user | -all]"


def may_manage(job: JobRecord) -> bool:
    """Only the job's owner and root may remove it or ssh into it."""
    return os.getuid() in (0, job.owner_uid)


def request_removal(job: JobRecord, who: str, sig: int = signal.SIGTERM) -> bool:
    """Tell the job's shadow to remove it; False when the shadow is already gone."""
    if job.shadow is None:
        return False
    try:
        with open(job.path / REMOVED_BY_FILE, "w") as handle:
            handle.write(who + "\n")
    except OSError:
        pass
    try:
        os.kill(job.shadow.pid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _remove_cluster(layout: PoolLayout, arg: str, me: str) -> bool:
    cluster, _, proc = arg.partition(".")
    job = load_record(layout, int(cluster))
    ok = job is not None and proc in ("", "0") and may_manage(job) and request_removal(job, me)
    if proc:
        message = f"Job {arg} marked for removal" if ok else f"Couldn't find/remove job {arg}"
    elif ok:
        message = f"All jobs in cluster {cluster} have been marked for removal"
    else:
        message = f"Couldn't find/remove all jobs in cluster {cluster}"
    print(message, file=sys.stdout if ok else sys.stderr)
    return ok


def _remove_owned(layout: PoolLayout, owner: str | None, me: str) -> bool:
    """`condor_rm USER` / `condor_rm -all`: every job of one user (or of the caller)."""
    wanted = owner or me
    jobs = [job for job in queued_jobs(layout) if job.ad.get("Owner") == wanted]
    ok = bool(jobs) and all(may_manage(job) and request_removal(job, me) for job in jobs)
    if ok:
        print(f"All jobs of user \"{wanted}\" have been marked for removal")
    else:
        print(f"Couldn't find/remove all of user {wanted}'s job(s)", file=sys.stderr)
    return ok


def remove(argv: list[str], layout: PoolLayout) -> int:
    """The condor_rm command; returns its exit code."""
    me = pwd.getpwuid(os.getuid()).pw_name
    targets = [arg for arg in argv if not arg.startswith("-")]
    if not targets and "-all" not in argv:
        print(USAGE, file=sys.stderr)
        return 1
    ok = True
    if "-all" in argv:
        ok = _remove_owned(layout, None, me) and ok
    for target in targets:
        if target.replace(".", "", 1).isdigit():
            ok = _remove_cluster(layout, target, me) and ok
        else:
            ok = _remove_owned(layout, target, me) and ok
    return 0 if ok else 1
