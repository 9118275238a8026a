"""`condor_rm N [N.0 ...]`: mark jobs for removal (SIGTERM to their shadows).

Messages and exit codes as HTCondor 25.0's condor_rm (cross-checked): `All jobs in
cluster N have been marked for removal` (exit 0); `Couldn't find/remove all jobs in
cluster N` on stderr, after an empty line, (exit 1) for a job that is not in the
queue, that is already being removed, or that the caller may not remove (only the
owner and root may). With `N.0` the schedd's reason is printed instead: `Job N.0 not
found`, `Job N.0 already marked for removal`, `Permission denied to remove job N.0`.

Several ids in one call, as 25.0.13 answers them (measured for jobwrapper.dask's
`condor_rm A.0 B.0 ...`): the `N.P` ids are one request, each removed job is a line on
stdout and each refused one a line on stderr, the empty line comes first only when none
was removed, and the exit code is 0 when any was; several cluster ids are one
constraint, `(ClusterId == A || ClusterId == B)`, in both messages.
"""

from __future__ import annotations

import os
import pwd
import signal
import sys

from jobwrapper.localpool.config import PoolLayout
from jobwrapper.localpool.execute.shadow import REMOVED_BY_FILE
from jobwrapper.localpool.records import JobRecord, load_record, queued_jobs

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


def _failure(message: str) -> None:
    """condor_rm's errors: on stderr, after an empty line."""
    print(f"\n{message}", file=sys.stderr)


def _refusal(job: JobRecord | None, job_id: str) -> str:
    """Why the schedd does not remove `job` ('' when it does): its per-job answer."""
    if job is None:
        return f"Job {job_id} not found"
    if not may_manage(job):
        return f"Permission denied to remove job {job_id}"
    if job.status == 3:
        return f"Job {job_id} already marked for removal"
    return ""


def _remove_jobs(layout: PoolLayout, args: list[str], me: str) -> bool:
    """`condor_rm N.P ...`: per-job answers; True when any job was removed."""
    removed: list[str] = []
    refusals: list[str] = []
    for arg in args:
        cluster, _, proc = arg.partition(".")
        job_id = f"{int(cluster)}.{int(proc)}"
        job = load_record(layout, int(cluster)) if int(proc) == 0 else None
        refusal = _refusal(job, job_id)
        if not refusal and job is not None and request_removal(job, me):
            removed.append(job_id)
        else:
            refusals.append(refusal or f"Job {job_id} not found")
    for job_id in removed:
        print(f"Job {job_id} marked for removal")
    if refusals:
        print(("" if removed else "\n") + "\n".join(refusals), file=sys.stderr)
    return bool(removed)


def _remove_clusters(layout: PoolLayout, clusters: list[int], me: str) -> bool:
    """`condor_rm N [M ...]`: one cluster by its name, several as one constraint."""
    jobs = [load_record(layout, cluster) for cluster in clusters]
    removable = [job for job in jobs if job is not None and not _refusal(job, "")]
    ok = bool(removable) and all([request_removal(job, me) for job in removable])
    if len(clusters) == 1:
        what = f"in cluster {clusters[0]}"
    else:
        what = "matching constraint (" + " || ".join(
            f"ClusterId == {cluster}" for cluster in clusters) + ")"
    if ok:
        print(f"All jobs {what} have been marked for removal")
    else:
        _failure(f"Couldn't find/remove all jobs {what}")
    return ok


def _remove_owned(layout: PoolLayout, owner: str | None, me: str) -> bool:
    """`condor_rm USER` / `condor_rm -all`: every job of one user (or of the caller)."""
    wanted = owner or me
    jobs = [job for job in queued_jobs(layout)
            if job.ad.get("Owner") == wanted and job.status != 3]
    ok = bool(jobs) and all(may_manage(job) and request_removal(job, me) for job in jobs)
    if ok:
        print(f"All jobs of user \"{wanted}\" have been marked for removal")
    else:
        _failure(f"Couldn't find/remove all jobs of user \"{wanted}\"")
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
    job_ids = [target for target in targets if "." in target and
               target.replace(".", "", 1).isdigit()]
    clusters = [int(target) for target in targets if target.isdigit()]
    if job_ids:
        ok = _remove_jobs(layout, job_ids, me) and ok
    if clusters:
        ok = _remove_clusters(layout, clusters, me) and ok
    for target in targets:
        if not target.replace(".", "", 1).isdigit():
            ok = _remove_owned(layout, target, me) and ok
    return 0 if ok else 1
