"""File transfer between the submit dir (Iwd) and the job's scratch dir.

Input: each `transfer_input_files` entry (relative to Iwd, or absolute) is copied into
the scratch dir (a directory recursively; `dir/` copies its contents). Output: each
`transfer_output_files` entry (or, when none are named, every top-level file the job
created or changed) is copied back into Iwd under its base name; directories are
merged file by file over what is there (a file the job deleted survives there). Every
file lands on the submit side under a temporary name and is renamed into place, so an
interrupted transfer never leaves a half-written file behind.

As HTCondor 25.0 (cross-checked, docs/localpool.md): symlinks are followed and sent
as regular files (a symlink to a directory fails the transfer), permission bits are
kept, empty directories too, and mtimes are not: every file gets the time of its
transfer, on the way in and on the way out.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

# Files the starter itself puts in the scratch dir; never transferred back.
STARTER_FILES = frozenset(
    {".job.ad", ".machine.ad", ".chirp.config", "tmp", "var", "_condor_stdout", "_condor_stderr"}
)


class InputTransferError(OSError):
    """Input entries that could not be read: (path, error) pairs, the first one first."""

    def __init__(self, failures: list[tuple[Path, OSError]]) -> None:
        super().__init__(f"{len(failures)} input files could not be read")
        self.failures = failures


def _input_path(iwd: Path, entry: str) -> Path:
    return iwd / entry.rstrip("/") if not os.path.isabs(entry) else Path(entry.rstrip("/"))


def transfer_input(iwd: Path, scratch: Path, entries: list[str]) -> None:
    """Copy the job's input files and dirs into its scratch dir; InputTransferError
    (before anything is copied) if some cannot be read."""
    failures: list[tuple[Path, OSError]] = []
    for entry in entries:
        source = _input_path(iwd, entry)
        try:
            os.stat(source)
        except OSError as error:
            failures.append((source, error))
    if failures:
        raise InputTransferError(failures)
    for entry in entries:
        source = _input_path(iwd, entry)
        linked_dirs = [path for path in source.rglob("*") if path.is_symlink()
                       and path.is_dir()] if source.is_dir() else []
        if linked_dirs:
            raise InputTransferError([(linked_dirs[0], OSError(
                95, "Transfer of symlinks to directories is not supported"))])
        if source.is_dir() and entry.endswith("/"):
            shutil.copytree(source, scratch, copy_function=_copy_content, dirs_exist_ok=True)
        elif source.is_dir():
            shutil.copytree(source, scratch / source.name, copy_function=_copy_content,
                            dirs_exist_ok=True)
        else:
            _copy_content(source, scratch / source.name)


def _copy_content(source: str | Path, target: str | Path) -> None:
    """Content and permission bits, following symlinks; the mtime is now."""
    shutil.copyfile(source, target)
    shutil.copymode(source, target)


def snapshot(scratch: Path) -> dict[str, float]:
    """Modification times of the scratch dir's top-level files (after input transfer)."""
    times: dict[str, float] = {}
    for entry in os.scandir(scratch):
        if entry.is_file(follow_symlinks=False):
            times[entry.name] = entry.stat(follow_symlinks=False).st_mtime
    return times


def changed_files(scratch: Path, before: dict[str, float]) -> list[str]:
    """Top-level files the job created or changed: HTCondor's default output list."""
    names = []
    for entry in os.scandir(scratch):
        if entry.name in STARTER_FILES or not entry.is_file(follow_symlinks=False):
            continue
        if before.get(entry.name) != entry.stat(follow_symlinks=False).st_mtime:
            names.append(entry.name)
    return sorted(names)


def transfer_output(scratch: Path, iwd: Path, entries: list[str]) -> list[str]:
    """Copy outputs back into Iwd; returns the entries that did not exist in the job."""
    missing = []
    for entry in entries:
        source = scratch / entry.rstrip("/")
        if not os.path.lexists(source):
            missing.append(entry)
            continue
        target = iwd / source.name
        if source.is_dir():
            _merge_dir(source, target)
        else:
            install_file(source, target)
    return missing


def _merge_dir(source: Path, target: Path) -> None:
    target.mkdir(exist_ok=True)
    shutil.copymode(source, target)
    for entry in os.scandir(source):
        child = Path(entry.path)
        if entry.is_dir():
            _merge_dir(child, target / entry.name)
        else:
            install_file(child, target / entry.name)


def install_file(source: Path, target: Path) -> None:
    """Copy one file (or symlink) to a temporary name next to `target`, then rename."""
    temporary = target.with_name(f".{target.name}.transfer-{os.getpid()}")
    try:
        _copy_content(source, temporary)
        os.replace(temporary, target)
    finally:
        if os.path.lexists(temporary):
            os.unlink(temporary)
