"""The shadows' memory look at scale: /proc is read once per interval for the whole
pool (ProcessTable), and a job's memory is that of the processes below its shadow.

Before, every shadow read every process's stat and environ at each look: with 1,000
jobs (~4,000 processes) 200 looks a second, ~15 CPU-seconds a second on the hub
machine (bench/scale).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jobwrapper.localpool.config import PoolLayout
from jobwrapper.localpool.execute import processes
from jobwrapper.localpool.execute.processes import ProcessTable, descendants, tree_memory_mb


@pytest.fixture
def scans(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the reads of /proc's process tree."""
    calls: list[int] = []
    real = processes.process_parents

    def counting() -> dict[int, int]:
        calls.append(1)
        return real()

    monkeypatch.setattr(processes, "process_parents", counting)
    return calls


def test_many_shadows_share_one_read_of_proc_per_interval(tmp_path: Path, scans: list[int]):
    layout = PoolLayout(tmp_path / "pool")
    layout.ensure()
    assert os.stat(layout.process_table).st_mode & 0o777 == 0o666  # every shadow's user
    shadows = [ProcessTable(layout.process_table, max_age=60) for _ in range(100)]
    tables = [shadow.parents() for shadow in shadows]
    assert len(scans) == 1
    assert tables[0][os.getpid()] == os.getppid() and all(t == tables[0] for t in tables)


def test_a_table_older_than_the_interval_is_read_again(tmp_path: Path, scans: list[int]):
    path = tmp_path / "processes"
    path.write_text("")
    table = ProcessTable(path, max_age=0.2)
    table.parents()
    table.parents()
    time.sleep(0.3)
    table.parents()
    assert len(scans) == 2


def test_without_the_shared_file_each_look_reads_proc(tmp_path: Path, scans: list[int]):
    table = ProcessTable(tmp_path / "missing", max_age=60)
    assert os.getpid() in table.parents() and os.getpid() in table.parents()
    assert len(scans) == 2


def test_descendants_follow_the_tree_and_leave_out_the_root():
    parents = {2: 1, 3: 2, 4: 3, 5: 1, 6: 99}
    assert sorted(descendants(parents, 2)) == [3, 4]
    assert sorted(descendants(parents, 1)) == [2, 3, 4, 5]


def test_a_jobs_memory_counts_its_children_and_grandchildren(tmp_path: Path):
    # a child that starts a grandchild which touches 60 MB: both are below us
    code = ("import subprocess, sys, time\n"
            "subprocess.Popen([sys.executable, '-c', 'import time; b = bytearray(60 << 20); "
            "b[::4096] = bytes(len(b[::4096])); print(1, flush=True); time.sleep(30)'])\n"
            "time.sleep(30)\n")
    child = subprocess.Popen([sys.executable, "-c", code])
    try:
        table = ProcessTable(tmp_path / "missing", max_age=0)
        deadline = time.monotonic() + 20
        used = 0
        while time.monotonic() < deadline and used < 60:
            used = tree_memory_mb(os.getpid(), table)
            time.sleep(0.2)
        assert used >= 60
    finally:
        for pid in descendants(processes.process_parents(), child.pid):
            os.kill(pid, 9)
        child.kill()
        child.wait()
