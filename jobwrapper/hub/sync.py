"""~/jupyter without loss: the submit side's half of the sync, run as the user.

HTCondor brings a job's `jupyter/` back into the job's initialdir,
`~/.jupyterhub-condor/<server>/jupyter` (the staging dir), never over ~/jupyter. This
helper then merges it three ways, with what the job received as the base:

- `snapshot JOB_DIR` (before submit): ~/jupyter's state as the base on the submit side
  (`JOB_DIR/sync/base.json`); a staging dir left by an interrupted merge is merged first.
- `merge JOB_DIR LABEL` (after the job left the queue): the job's side is its own
  manifests (`jupyter/.jobwrapper-sync/in.json`: what arrived; `out.json`: what left),
  compared on the job's clock, since HTCondor keeps no mtimes; the submit side is
  compared with base.json on its own clock.

| in the job | on the submit side | result |
|---|---|---|
| changed or created | unchanged (or absent) | the job's version |
| unchanged | changed | kept |
| changed or created | changed or created, other content | both: the job's as a copy * |
| deleted | unchanged | moved to `~/.jupyterhub-condor/trash/DATE/<server>/...`, never unlinked |
| deleted | changed | kept |

(*) the submit side's stays, the job's is written beside it as
`NAME (from job LABEL, DATE).EXT`.

Without out.json (the server died without a word) nothing counts as deleted. The plan
is written to a journal before anything changes; an interrupted merge is run again
from it (every step can be repeated). Merges of one user are serialized with a lock.
Nothing outside ~/jupyter is written or followed: a path under a symlinked dir is
rescued to `~/.jupyterhub-condor/rescued/` instead.

Standard library only, run as `python -I sync.py` through the spawner's exec_prefix;
the manifest format comes from jobwrapper/protocol.py, loaded by its path.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import fcntl
import filecmp
import importlib.util
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

ROOT = ".jupyterhub-condor"
NOTEBOOK_DIR = "jupyter"
STATE_DIR = "sync"  # in the job dir: base.json, journal.json
LOG_FILE = "sync.log"


def _protocol() -> Any:
    """jobwrapper/protocol.py (standard library only), by its path beside this file."""
    path = Path(__file__).resolve().parents[1] / "protocol.py"
    spec = importlib.util.spec_from_file_location("jobwrapper_protocol", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


protocol = _protocol()


def _same(a: list | None, b: list | None) -> bool:
    """Two manifest entries describe the same state (dirs: both dirs)."""
    if a is None or b is None:
        return a is b
    if a[0] == "d" or b[0] == "d":
        return a[0] == b[0]
    return list(a[:3]) == list(b[:3])


def _write_atomic(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def _write_json(path: Path, data: Any) -> None:
    _write_atomic(path, json.dumps(data, ensure_ascii=True))


def _read_manifest(path: Path) -> tuple[dict[str, list], bool] | None:
    try:
        return protocol.parse_manifest(path.read_text())
    except (OSError, ValueError):
        return None


def conflict_name(path: str, label: str, when: str) -> str:
    """`dir/NAME (from job LABEL, WHEN).EXT` for `dir/NAME.EXT`."""
    head, name = os.path.split(path)
    stem, dot, ext = name.rpartition(".")
    if not stem:  # no extension, or a dot file
        stem, dot, ext = name, "", ""
    return os.path.join(head, f"{stem} (from job {label}, {when}){dot}{ext}")


class Merge:
    """One merge of a staging dir into ~/jupyter."""

    def __init__(self, home: Path, job_dir: str, label: str, trash_days: int = 30) -> None:
        self.home, self.label, self.trash_days = home, label, trash_days
        self.server = Path(job_dir).name
        self.job_dir = home / job_dir
        self.state = self.job_dir / STATE_DIR
        self.staging = self.job_dir / NOTEBOOK_DIR
        self.target = home / NOTEBOOK_DIR
        self.journal = self.state / "journal.json"
        stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime())
        self.when = stamp
        day = time.strftime("%Y-%m-%d", time.localtime())
        self.trash = home / ROOT / "trash" / day / self.server
        self.rescued = home / ROOT / "rescued" / day / self.server

    # -- the plan --------------------------------------------------------------------
    def plan(self) -> list[dict[str, str]]:
        """The steps, from the manifests and the two trees; changes nothing."""
        base_read = _read_manifest(self.state / "base.json")
        base = base_read[0] if base_read else None
        sync = self.staging / protocol.SYNC_DIR
        arrived = _read_manifest(sync / protocol.MANIFEST_IN)
        left = _read_manifest(sync / protocol.MANIFEST_OUT)
        job_in = arrived[0] if arrived else None
        job_out = left[0] if left and left[1] else None
        # The job's final state is out.json when it is complete (no scan of the staging
        # dir); ~/jupyter is looked at only where the job changed something.
        staged = job_out if job_out is not None else protocol.scan_tree(str(self.staging))
        steps: list[dict[str, str]] = []
        for path in sorted(set(staged) | set(job_in or {})):
            if job_in is not None and job_out is not None:
                if _same(job_in.get(path), job_out.get(path)):
                    continue  # unchanged in the job: whatever ~/jupyter has stays
                deleted = path in job_in and path not in job_out
            else:  # no complete record of what left: compare contents, delete nothing
                deleted = False
            now = protocol.entry_of(str(self.target / path))
            steps.extend(self._steps_for(path, staged.get(path), now,
                                         None if base is None else base.get(path),
                                         base is not None, deleted))
        return steps

    def _steps_for(self, path: str, staged: list | None, now: list | None,
                   based: list | None, have_base: bool, deleted: bool
                   ) -> list[dict[str, str]]:
        """The steps for one path the job changed, created or (`deleted`) removed."""
        submit_changed = (not have_base) or not _same(based, now)
        if deleted:
            if now is not None and not submit_changed and now[0] != "d":
                return [{"op": "trash", "path": path}]
            return []
        if staged is None:
            return []
        if staged[0] == "d":
            return [{"op": "mkdir", "path": path}] if now is None else []
        if staged[0] != "f":
            return []
        if now is None:  # nothing there now (never was, or deleted on the submit side)
            return [{"op": "update", "path": path}]
        if now is not None and now[0] == "f" and self._equal(path):
            return []
        if now is not None and not submit_changed:
            return [{"op": "update", "path": path}]
        return [{"op": "conflict", "path": path,
                 "as": conflict_name(path, self.label, self.when)}]

    def _equal(self, path: str) -> bool:
        try:
            return filecmp.cmp(self.staging / path, self.target / path, shallow=False)
        except OSError:
            return False  # unreadable on the submit side: keep it, the job's goes beside

    # -- applying ------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        """Plan (or resume the journal), apply every step, clean up; the summary."""
        if not self.staging.is_dir():
            return {"merged": False, "why": "nothing came back from the job"}
        self.state.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            steps = json.loads(self.journal.read_text())["steps"]
        except (OSError, ValueError, KeyError):
            steps = self.plan()
            _write_json(self.journal, {"steps": steps})
        summary: dict[str, Any] = {"merged": True, "updated": 0, "trashed": 0,
                                   "conflicts": [], "rescued": []}
        for step in steps:
            self._apply(step, summary)
        self._clear_staging()
        for leftover in (self.journal, self.state / "base.json"):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
        self._log(summary)
        self._expire_trash()
        return summary

    def _clear_staging(self) -> None:
        """Empty the staging dir at once (HTCondor merges output into what is there, so
        the next job needs it gone): rename it away; delete it in the background."""
        spent = self.state / f"spent-{os.getpid()}-{time.time_ns()}"
        os.replace(self.staging, spent)
        remove_in_background(spent)

    def _apply(self, step: dict[str, str], summary: dict[str, Any]) -> None:
        op, path = step["op"], step["path"]
        if op == "trash":
            if self._move_to(self.target / path, self.trash / path):
                summary["trashed"] += 1
            return
        destination = path if op != "conflict" else step["as"]
        if not self._safe_parents(destination):
            if (self.staging / path).exists():
                self._copy(self.staging / path, self.rescued / path)
            summary["rescued"].append(path)
            return
        if op == "mkdir":
            (self.target / path).mkdir(mode=0o700, exist_ok=True)
            return
        if not (self.staging / path).exists():
            return  # applied already (a resumed merge)
        self._copy(self.staging / path, self.target / destination)
        if op == "update":
            summary["updated"] += 1
        else:
            summary["conflicts"].append(destination)

    def _safe_parents(self, path: str) -> bool:
        """Every directory above `path` in ~/jupyter is a real directory (made if
        missing), so nothing is written through a symlink."""
        current = self.target
        if current.is_symlink() or not current.is_dir():
            return False
        for part in Path(path).parts[:-1]:
            current = current / part
            if current.is_symlink():
                return False
            if not current.exists():
                current.mkdir(mode=0o700)
            elif not current.is_dir():
                return False
        return True

    @staticmethod
    def _copy(source: Path, target: Path) -> None:
        """Copy content and permission bits to a temporary name, then rename."""
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.sync-{os.getpid()}")
        try:
            shutil.copyfile(source, temporary, follow_symlinks=False)
            shutil.copymode(source, temporary, follow_symlinks=False)
            os.replace(temporary, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)

    @staticmethod
    def _move_to(source: Path, target: Path) -> bool:
        if not os.path.lexists(source):
            return False
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        while os.path.lexists(target):
            target = target.with_name(target.name + "~")
        os.replace(source, target)
        return True

    def _log(self, summary: dict[str, Any]) -> None:
        with open(self.job_dir / LOG_FILE, "a") as handle:
            handle.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} job {self.label}: "
                         f"{describe(summary)}\n")

    def _expire_trash(self) -> None:
        trash = self.home / ROOT / "trash"
        limit = time.time() - self.trash_days * 86400
        with contextlib.suppress(OSError):
            for day in trash.iterdir():
                if day.is_dir() and not day.is_symlink() and day.stat().st_mtime < limit:
                    shutil.rmtree(day, ignore_errors=True)


def remove_in_background(path: Path) -> None:
    """rmtree in a detached child (a job's jupyter/ may hold thousands of files); the
    caller does not wait. A child that cannot be made: removed here."""
    try:
        child = os.fork()
    except OSError:
        shutil.rmtree(path, ignore_errors=True)
        return
    if child:
        return
    try:  # the child: no tie to the caller's pipes, then the removal, then away
        os.setsid()
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        shutil.rmtree(path, ignore_errors=True)
    finally:
        os._exit(0)


def remove_spent(state: Path) -> None:
    """Staging dirs a background removal did not finish (a reboot): remove them now."""
    for spent in state.glob("spent-*"):
        shutil.rmtree(spent, ignore_errors=True)


def describe(summary: dict[str, Any]) -> str:
    """One line for the user: what the merge did."""
    if not summary.get("merged"):
        return f"~/jupyter unchanged: {summary.get('why', 'nothing to merge')}"
    parts = [f"{summary['updated']} updated", f"{summary['trashed']} deleted (in the trash)"]
    if summary["conflicts"]:
        parts.append(f"{len(summary['conflicts'])} changed on both sides, the job's copies: "
                     + ", ".join(summary["conflicts"][:5]))
    if summary["rescued"]:
        parts.append(f"{len(summary['rescued'])} could not be placed (a symlinked folder), "
                     "kept in ~/.jupyterhub-condor/rescued/")
    return "~/jupyter: " + "; ".join(parts)


@contextlib.contextmanager
def user_lock(home: Path):
    """One merge or snapshot of this user at a time (two servers ending at once)."""
    (home / ROOT).mkdir(mode=0o700, exist_ok=True)
    with open(home / ROOT / ".sync.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def snapshot(home: Path, job_dir: str, label: str, trash_days: int) -> dict[str, Any]:
    """Before a submit: finish a merge left over, then record ~/jupyter as the base."""
    merge = Merge(home, job_dir, label, trash_days)
    leftover = merge.run() if merge.staging.is_dir() else None
    merge.state.mkdir(mode=0o700, parents=True, exist_ok=True)
    remove_spent(merge.state)
    _write_atomic(merge.state / "base.json",
                  protocol.manifest_text(protocol.scan_tree(str(home / NOTEBOOK_DIR)), True))
    return {"snapshot": True, "leftover": leftover}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="sync.py")
    parser.add_argument("command", choices=["snapshot", "merge"])
    parser.add_argument("job_dir", help="the server's dir, relative to the home dir")
    parser.add_argument("label", help="the job id, for conflict copies and the log")
    parser.add_argument("--trash-days", type=int, default=30)
    args = parser.parse_args(argv)
    if os.path.isabs(args.job_dir) or ".." in Path(args.job_dir).parts or \
            not args.job_dir.startswith(ROOT + "/"):
        print(f"sync.py: {args.job_dir!r} is not a dir under ~/{ROOT}", file=sys.stderr)
        return 2
    home = Path(os.path.expanduser("~"))
    try:
        with user_lock(home):
            if args.command == "snapshot":
                result = snapshot(home, args.job_dir, args.label, args.trash_days)
            else:
                result = Merge(home, args.job_dir, args.label, args.trash_days).run()
    except OSError as error:
        full = error.errno == errno.ENOSPC
        print(f"sync.py: {'the disk is full' if full else 'cannot merge'} "
              f"({error.strerror}: {error.filename}); the merge resumes at the next "
              "start or stop", file=sys.stderr)
        return 1
    result["text"] = describe(result) if args.command == "merge" else ""
    print(json.dumps(result, ensure_ascii=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
