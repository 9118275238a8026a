"""The scripts' own bad input: one line saying what to do, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_acceptance_without_condor_commands_in_the_given_dir_is_one_line(tmp_path):
    result = subprocess.run([str(REPO / "scripts" / "acceptance"), "--condor-bin",
                             str(tmp_path)], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 2
    assert result.stderr == (f"scripts/acceptance: {tmp_path}/condor_submit is missing; give "
                             "--condor-bin the directory of HTCondor's commands\n")


def test_restarting_the_hub_of_a_demo_that_does_not_run_is_one_line(tmp_path):
    result = subprocess.run([sys.executable, str(REPO / "demo" / "run_demo.py"),
                             "--restart-hub", "--state", str(tmp_path)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert result.stderr == (f"demo: no running demo found ({tmp_path}/demo.pid); start it "
                             "with scripts/demo\n")
