"""`condor_qedit [-forward] JOB ATTR VALUE ...` and the job's `condor_chirp get_job_attr`.

As HTCondor 25.0.13 (measured, docs/localpool.md): `Set attribute "ATTR" for 1
matching jobs.` per attribute on stdout, exit 0; for a job that is not in the queue or
not the caller's, on stderr `Failed to set attribute "ATTR" by constraint: (
(ClusterId == N ) )` and `Queue transaction failed.  No attributes were set.`, exit 1.

A plain edit changes only the schedd's copy (`condor_q` shows it); the job's
`.job.ad` is never rewritten, and the shadow (periodic_remove) keeps its value. With
`-forward` the shadow takes the edit too, and `condor_chirp get_job_attr` in the job
sees it. Here: the edits go to `edits.jsonl` in the job's record (appended under a
lock, as the job's owner); the shadow takes them within a poll (shadow.take_edits) and
writes what it forwarded to `forwarded.json`, which the local `condor_chirp` reads.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from jobwrapper.localpool.config import PoolError, PoolLayout
from jobwrapper.localpool.records import load_record, read_json, write_ad

EDITS_FILE = "edits.jsonl"
FORWARDED_FILE = "forwarded.json"
ATTRIBUTE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}\Z")
# Attributes the schedd owns: condor_qedit refuses them on HTCondor too.
PROTECTED = {"clusterid", "procid", "owner", "jobstatus", "globaljobid", "user"}
USAGE = "Usage: condor_qedit [-forward] <cluster>[.<proc>] <attr> <value> [<attr> <value>...]"


def parse_value(text: str) -> Any:
    """A ClassAd literal: integer, real, true/false or a quoted string. The local pool
    takes no other expression (HTCondor would store one unevaluated)."""
    if re.fullmatch(r"-?[0-9]{1,18}", text):
        return int(text)
    if re.fullmatch(r"-?[0-9]+\.[0-9]*([eE][-+]?[0-9]+)?", text):
        return float(text)
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if len(text) >= 2 and text[0] == text[-1] == '"' and '"' not in text[1:-1]:
        return text[1:-1]
    raise PoolError(f"the local pool takes only literal values (a number, true/false or "
                    f"a quoted string), not {text!r}")


def parse_args(argv: list[str]) -> tuple[bool, int, list[tuple[str, Any]]]:
    """(forward, cluster, edits) from condor_qedit's arguments."""
    args = list(argv)
    forward = False
    while args and args[0] in ("-forward", "-jobids"):
        if args.pop(0) == "-forward":
            forward = True
    if not args:
        raise PoolError(USAGE)
    match = re.fullmatch(r"([0-9]{1,12})(?:\.0)?", args.pop(0))
    if not match:
        raise PoolError("the local pool edits one job given as N or N.0; " + USAGE)
    edits: list[tuple[str, str]] = []
    while args:
        item = args.pop(0)
        if "=" in item:
            name, _, value = item.partition("=")
        elif args:
            name, value = item, args.pop(0)
        else:
            raise PoolError(USAGE)
        edits.append((name.strip(), value.strip()))
    if not edits:
        raise PoolError(USAGE)
    checked = []
    for name, value in edits:
        if not ATTRIBUTE.match(name) or name.lower() in PROTECTED:
            raise PoolError(f"cannot edit attribute {name!r}")
        checked.append((name, parse_value(value)))
    return forward, int(match.group(1)), checked


def qedit(argv: list[str], layout: PoolLayout) -> int:
    """Edit one job's ad; see the module's text."""
    forward, cluster, edits = parse_args(argv)
    job = load_record(layout, cluster)
    if job is None or os.getuid() not in (0, job.owner_uid):
        sys.stdout.flush()
        sys.stderr.write(f'Failed to set attribute "{edits[0][0]}" by constraint: '
                         f"( (ClusterId == {cluster} ) )\n"
                         "Queue transaction failed.  No attributes were set.\n")
        return 1
    append_edits(job.path, [{"name": n, "value": v, "forward": forward} for n, v in edits])
    # The schedd's copy changes at once (condor_q); the shadow, which rewrites it, takes
    # the edits from edits.jsonl within EDITS_INTERVAL and keeps them.
    write_ad(job.path, {**job.ad, **dict(edits)})
    for name, _ in edits:
        print(f'Set attribute "{name}" for 1 matching jobs.')
    return 0


def append_edits(record: Path, edits: list[dict[str, Any]]) -> None:
    """Append edits for the shadow (one JSON object a line, under a lock)."""
    fd = os.open(record / EDITS_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    with os.fdopen(fd, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        for edit in edits:
            handle.write(json.dumps(edit) + "\n")


def read_edits(record: Path, offset: int) -> tuple[list[dict[str, Any]], int]:
    """Edits appended after ``offset`` and the new offset (for the shadow)."""
    try:
        with open(record / EDITS_FILE, "rb") as handle:
            fcntl.flock(handle, fcntl.LOCK_SH)
            handle.seek(offset)
            data = handle.read()
    except FileNotFoundError:
        return [], offset
    complete = data[: data.rfind(b"\n") + 1]
    edits = []
    for line in complete.splitlines():
        try:
            edit = json.loads(line)
        except ValueError:
            continue
        if isinstance(edit, dict) and isinstance(edit.get("name"), str):
            edits.append(edit)
    return edits, offset + len(complete)


def chirp(argv: list[str], layout: PoolLayout) -> int:
    """`condor_chirp get_job_attr NAME` in a job: the shadow's value (the job ad it
    started with, plus what condor_qedit -forward sent); `UNDEFINED` if none."""
    if len(argv) != 2 or argv[0] != "get_job_attr":
        raise PoolError("the local pool's condor_chirp knows only: get_job_attr ATTR")
    name = argv[1]
    ad_path = os.environ.get("_CONDOR_JOB_AD", "")
    values: dict[str, Any] = {}
    try:
        with open(ad_path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                key, sep, value = line.partition("=")
                if sep:
                    values[key.strip().lower()] = value.strip()
    except OSError:
        raise PoolError("not in a job (no $_CONDOR_JOB_AD)") from None
    cluster = str(values.get("clusterid", ""))
    if cluster.isdigit():
        try:
            forwarded = read_json(layout.record(int(cluster)) / FORWARDED_FILE)
            values.update({str(k).lower(): _literal(v) for k, v in forwarded.items()})
        except (OSError, ValueError, AttributeError):
            pass
    print(values.get(name.lower(), "UNDEFINED"))
    return 0


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    return str(value)
