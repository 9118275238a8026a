"""The merge of a job's jupyter/ into ~/jupyter (jobwrapper/hub/sync.py): each case of
the table in its docstring, the special files, the journal and the lock."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jobwrapper import protocol
from jobwrapper.hub import sync

JOB_DIR = ".jupyterhub-condor/default"
HELPER = Path(sync.__file__)


class World:
    """A home with ~/jupyter, and a job that received it and sends its jupyter/ back."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.jupyter = home / "jupyter"
        self.jupyter.mkdir()
        self.staging = home / JOB_DIR / "jupyter"

    def write(self, side: Path, path: str, text: str) -> None:
        (side / path).parent.mkdir(parents=True, exist_ok=True)
        (side / path).write_text(text)

    def submit(self) -> None:
        sync.snapshot(self.home, JOB_DIR, "7.0", 30)

    def job_starts(self) -> None:
        """HTCondor's input transfer (new mtimes), then the job's in.json."""
        shutil.copytree(self.jupyter, self.staging, symlinks=False)
        protocol.write_manifest(str(self.staging), protocol.MANIFEST_IN)

    def job_ends(self, complete: bool = True) -> None:
        if complete:
            protocol.write_manifest(str(self.staging), protocol.MANIFEST_OUT)

    def merge(self) -> dict:
        return sync.Merge(self.home, JOB_DIR, "7.0").run()


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def _bump(path: Path, text: str) -> None:
    path.write_text(text)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # a later edit


def test_changed_in_the_job_unchanged_on_the_submit_side_takes_the_jobs(world):
    world.write(world.jupyter, "a.txt", "old")
    world.submit()
    world.job_starts()
    _bump(world.staging / "a.txt", "from the job")
    world.job_ends()
    assert world.merge()["updated"] == 1
    assert (world.jupyter / "a.txt").read_text() == "from the job"


def test_changed_on_the_submit_side_unchanged_in_the_job_is_kept(world):
    world.write(world.jupyter, "a.txt", "old")
    world.submit()
    world.job_starts()
    world.job_ends()
    _bump(world.jupyter / "a.txt", "edited on the submit host")
    world.merge()
    assert (world.jupyter / "a.txt").read_text() == "edited on the submit host"


def test_changed_on_both_keeps_the_submit_sides_and_writes_the_jobs_beside_it(world):
    world.write(world.jupyter, "nb.ipynb", "old")
    world.submit()
    world.job_starts()
    _bump(world.staging / "nb.ipynb", "job")
    world.job_ends()
    _bump(world.jupyter / "nb.ipynb", "submit")
    summary = world.merge()
    assert (world.jupyter / "nb.ipynb").read_text() == "submit"
    (copy,) = summary["conflicts"]
    assert copy.startswith("nb (from job 7.0, ") and copy.endswith(").ipynb")
    assert (world.jupyter / copy).read_text() == "job"


def test_deleted_in_the_job_and_unchanged_goes_to_the_trash_not_away(world):
    world.write(world.jupyter, "gone.txt", "bye")
    world.submit()
    world.job_starts()
    (world.staging / "gone.txt").unlink()
    world.job_ends()
    assert world.merge()["trashed"] == 1
    assert not (world.jupyter / "gone.txt").exists()
    (trashed,) = (world.home / ".jupyterhub-condor" / "trash").rglob("gone.txt")
    assert trashed.read_text() == "bye"


def test_deleted_in_the_job_but_changed_on_the_submit_side_is_kept(world):
    world.write(world.jupyter, "a.txt", "old")
    world.submit()
    world.job_starts()
    (world.staging / "a.txt").unlink()
    world.job_ends()
    _bump(world.jupyter / "a.txt", "still wanted")
    world.merge()
    assert (world.jupyter / "a.txt").read_text() == "still wanted"


def test_created_on_both_with_other_content_is_a_conflict(world):
    world.submit()
    world.job_starts()
    world.write(world.staging, "new.txt", "job")
    world.job_ends()
    world.write(world.jupyter, "new.txt", "submit")
    summary = world.merge()
    assert (world.jupyter / "new.txt").read_text() == "submit"
    assert len(summary["conflicts"]) == 1


def test_created_on_both_with_the_same_content_is_nothing(world):
    world.submit()
    world.job_starts()
    world.write(world.staging, "same.txt", "x")
    world.job_ends()
    world.write(world.jupyter, "same.txt", "x")
    assert world.merge()["conflicts"] == []


def test_a_rename_in_the_job_moves_the_old_name_to_the_trash(world):
    world.write(world.jupyter, "old name.txt", "content")
    world.submit()
    world.job_starts()
    (world.staging / "old name.txt").rename(world.staging / "new name.txt")
    world.job_ends()
    world.merge()
    assert (world.jupyter / "new name.txt").read_text() == "content"
    assert not (world.jupyter / "old name.txt").exists()


def test_without_a_record_of_what_left_nothing_is_deleted(world):
    world.write(world.jupyter, "a.txt", "a")
    world.write(world.jupyter, "b.txt", "b")
    world.submit()
    world.job_starts()
    (world.staging / "b.txt").unlink()
    _bump(world.staging / "a.txt", "from a job that died")
    world.job_ends(complete=False)
    world.merge()
    assert (world.jupyter / "b.txt").read_text() == "b"
    assert (world.jupyter / "a.txt").read_text() == "from a job that died"


def test_nothing_back_from_the_job_changes_nothing(world):
    world.write(world.jupyter, "a.txt", "a")
    world.submit()
    assert world.merge() == {"merged": False, "why": "nothing came back from the job"}
    assert (world.jupyter / "a.txt").read_text() == "a"


def test_empty_dirs_created_in_the_job_arrive(world):
    world.submit()
    world.job_starts()
    (world.staging / "empty").mkdir()
    world.job_ends()
    world.merge()
    assert (world.jupyter / "empty").is_dir()


def test_permissions_of_the_jobs_files_are_kept(world):
    world.submit()
    world.job_starts()
    world.write(world.staging, "private.txt", "x")
    os.chmod(world.staging / "private.txt", 0o600)
    world.job_ends()
    world.merge()
    assert (world.jupyter / "private.txt").stat().st_mode & 0o777 == 0o600


def test_names_with_newlines_and_non_utf8_bytes_arrive(world):
    name = "we\nird \udcff.txt"
    world.submit()
    world.job_starts()
    (world.staging / name).write_text("odd")
    world.job_ends()
    world.merge()
    assert (world.jupyter / name).read_text() == "odd"


def test_nothing_is_written_through_a_symlinked_folder(world, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    world.submit()
    world.job_starts()
    world.write(world.staging, "linked/f.txt", "job")
    world.job_ends()
    (world.jupyter / "linked").symlink_to(outside)
    summary = world.merge()
    assert list(outside.iterdir()) == []
    assert summary["rescued"] == ["linked/f.txt"]
    (rescued,) = (world.home / ".jupyterhub-condor" / "rescued").rglob("f.txt")
    assert rescued.read_text() == "job"


def test_a_submit_side_symlink_the_job_left_alone_stays_a_symlink(world):
    world.write(world.jupyter, "target.txt", "t")
    (world.jupyter / "link.txt").symlink_to("target.txt")
    world.submit()
    world.job_starts()  # HTCondor sends the link as a regular file
    world.job_ends()
    world.merge()
    assert (world.jupyter / "link.txt").is_symlink()


def test_an_unreadable_submit_side_file_is_kept_and_the_jobs_goes_beside_it(world,
                                                                           monkeypatch):
    world.write(world.jupyter, "locked.txt", "old")
    world.submit()
    world.job_starts()
    _bump(world.staging / "locked.txt", "job")
    world.job_ends()
    _bump(world.jupyter / "locked.txt", "submit")

    def unreadable(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(sync.filecmp, "cmp", unreadable)  # (root could read a mode-0 file)
    assert len(world.merge()["conflicts"]) == 1
    assert (world.jupyter / "locked.txt").read_text() == "submit"


def test_an_interrupted_merge_resumes_from_its_journal(world):
    world.write(world.jupyter, "a.txt", "old")
    world.write(world.jupyter, "gone.txt", "x")
    world.submit()
    world.job_starts()
    _bump(world.staging / "a.txt", "job")
    (world.staging / "gone.txt").unlink()
    world.job_ends()
    merge = sync.Merge(world.home, JOB_DIR, "7.0")
    steps = merge.plan()
    merge.state.mkdir(parents=True, exist_ok=True)
    (merge.state / "journal.json").write_text(json.dumps({"steps": steps}))
    merge._apply(steps[0], {"updated": 0, "trashed": 0, "conflicts": [], "rescued": []})
    # (the hub died here) the next run finishes the same plan
    world.merge()
    assert (world.jupyter / "a.txt").read_text() == "job"
    assert not (world.jupyter / "gone.txt").exists()
    assert not (merge.state / "journal.json").exists()


def test_a_snapshot_first_finishes_a_merge_left_over(world):
    world.write(world.jupyter, "a.txt", "old")
    world.submit()
    world.job_starts()
    _bump(world.staging / "a.txt", "job")
    world.job_ends()
    result = sync.snapshot(world.home, JOB_DIR, "8.0", 30)
    assert result["leftover"]["updated"] == 1
    assert not world.staging.exists()


def test_the_helper_runs_alone_and_refuses_dirs_outside_its_root(tmp_path):
    env = {"HOME": str(tmp_path), "PATH": os.environ["PATH"]}
    (tmp_path / "jupyter").mkdir()
    bad = subprocess.run([sys.executable, "-I", str(HELPER), "merge", "../etc", "1.0"],
                         capture_output=True, text=True, env=env, check=False)
    assert bad.returncode == 2 and "is not a dir under ~/.jupyterhub-condor" in bad.stderr
    good = subprocess.run([sys.executable, "-I", str(HELPER), "snapshot", JOB_DIR, "1.0"],
                          capture_output=True, text=True, env=env, check=False)
    assert good.returncode == 0, good.stderr
    assert (tmp_path / JOB_DIR / "sync" / "base.json").is_file()


def test_changed_in_the_job_and_deleted_on_the_submit_side_comes_back(world):
    world.write(world.jupyter, "a.txt", "old")
    world.submit()
    world.job_starts()
    _bump(world.staging / "a.txt", "job")
    world.job_ends()
    (world.jupyter / "a.txt").unlink()
    world.merge()
    assert (world.jupyter / "a.txt").read_text() == "job"


def test_a_full_disk_stops_the_merge_in_one_line_and_it_resumes_later(world, monkeypatch,
                                                                       capsys):
    world.write(world.jupyter, "a.txt", "old")
    world.submit()
    world.job_starts()
    _bump(world.staging / "a.txt", "job")
    world.job_ends()
    monkeypatch.setenv("HOME", str(world.home))

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device", str(world.jupyter / "a.txt"))

    with monkeypatch.context() as patched:
        patched.setattr(sync.shutil, "copyfile", full)
        assert sync.main(["merge", JOB_DIR, "7.0"]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("sync.py: the disk is full")
    assert (world.jupyter / "a.txt").read_text() == "old"  # nothing half-written
    assert (world.home / JOB_DIR / "sync" / "journal.json").exists()
    assert sync.main(["merge", JOB_DIR, "7.0"]) == 0  # space again: it finishes
    assert (world.jupyter / "a.txt").read_text() == "job"
