"""The sync's invariant over random interleavings (hypothesis, stateful): edits,
creations, deletions and renames on both sides while a job runs, a job that dies
without a word, and a merge interrupted half-way and run again.

Invariant after every merge: every last version the user wrote on either side is in
~/jupyter, in a conflict copy or in the trash; nothing deleted in the job comes back
unless it was changed on the submit side meanwhile."""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from jobwrapper import protocol
from jobwrapper.hub import sync

JOB_DIR = ".jupyterhub-condor/default"
NAMES = st.sampled_from(["a.txt", "b.txt", "sub/c.ipynb"])
counter = itertools.count()


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


class SyncMachine(RuleBasedStateMachine):
    @initialize()
    def home(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="jwsync-"))
        self.jupyter = self.root / "jupyter"
        self.staging = self.root / JOB_DIR / "jupyter"
        for name in ("a.txt", "b.txt"):
            _write(self.jupyter / name, f"start {name}")
        self.start_job()

    def start_job(self) -> None:
        sync.snapshot(self.root, JOB_DIR, "1.0", 30)
        shutil.copytree(self.jupyter, self.staging)
        protocol.write_manifest(str(self.staging), protocol.MANIFEST_IN)
        self.job_wrote: dict[str, str] = {}
        self.submit_wrote: dict[str, str] = {}
        self.job_deleted: set[str] = set()
        # what each name held when the job started: a file moved away and back in the
        # job is that same file again (same content, same mtime), no new version
        self.base = {str(path.relative_to(self.jupyter)): path.read_text()
                     for path in self.jupyter.rglob("*") if path.is_file()
                     and protocol.SYNC_DIR not in path.parts}

    @rule(name=NAMES, side=st.sampled_from(["job", "submit"]))
    def write(self, name: str, side: str) -> None:
        text = f"{side} {next(counter)}"
        _write((self.staging if side == "job" else self.jupyter) / name, text)
        (self.job_wrote if side == "job" else self.submit_wrote)[name] = text
        if side == "job":
            self.job_deleted.discard(name)

    @rule(name=NAMES, side=st.sampled_from(["job", "submit"]))
    def delete(self, name: str, side: str) -> None:
        path = (self.staging if side == "job" else self.jupyter) / name
        if path.is_file():
            path.unlink()
            if side == "job":
                self.job_wrote.pop(name, None)
                self.job_deleted.add(name)
            else:
                self.submit_wrote.pop(name, None)

    @rule(old=NAMES, new=NAMES)
    def rename_in_the_job(self, old: str, new: str) -> None:
        if old != new and (self.staging / old).is_file():
            (self.staging / new).parent.mkdir(parents=True, exist_ok=True)
            text = (self.staging / old).read_text()
            os.replace(self.staging / old, self.staging / new)
            if self.base.get(new) == text:
                self.job_wrote.pop(new, None)  # back where it was, unchanged
            else:
                self.job_wrote[new] = text
            self.job_wrote.pop(old, None)
            self.job_deleted.add(old)
            self.job_deleted.discard(new)

    @rule(clean_end=st.booleans(), interrupted_after=st.integers(0, 3))
    def job_ends_and_merges(self, clean_end: bool, interrupted_after: int) -> None:
        if clean_end:
            protocol.write_manifest(str(self.staging), protocol.MANIFEST_OUT)
        merge = sync.Merge(self.root, JOB_DIR, "1.0")
        steps = merge.plan()
        merge.state.mkdir(parents=True, exist_ok=True)
        sync._write_json(merge.journal, {"steps": steps})
        scratch = {"updated": 0, "trashed": 0, "conflicts": [], "rescued": []}
        for step in steps[:interrupted_after]:  # the hub dies here ...
            merge._apply(step, scratch)
        sync.Merge(self.root, JOB_DIR, "1.0").run()  # ... and the next run finishes
        self.check(clean_end)
        self.start_job()

    def check(self, clean_end: bool) -> None:
        everything = self.all_texts()
        for side in (self.job_wrote, self.submit_wrote):
            for name, text in side.items():
                assert text in everything, (name, text)
        for name, text in self.submit_wrote.items():
            assert (self.jupyter / name).read_text() == text, name
        if clean_end:
            for name in self.job_deleted - set(self.submit_wrote) - set(self.job_wrote):
                assert not (self.jupyter / name).exists(), name

    def all_texts(self) -> set[str]:
        texts = set()
        # ~/jupyter, the trash and the rescued files; never the merge's own state dir
        # (where a spent staging dir waits for its removal in the background)
        for base in (self.jupyter, self.root / ".jupyterhub-condor" / "trash",
                     self.root / ".jupyterhub-condor" / "rescued"):
            for path in base.rglob("*") if base.exists() else ():
                if path.is_file() and protocol.SYNC_DIR not in path.parts:
                    texts.add(path.read_text(errors="replace"))
        return texts

    @invariant()
    def nothing_outside_the_home(self) -> None:
        assert not any(Path(tempfile.gettempdir()).glob(".*.sync-*"))

    def teardown(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


SyncMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=25,
                                         deadline=None)
test_sync_never_loses_a_version = SyncMachine.TestCase
