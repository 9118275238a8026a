"""Fixtures: a fake /proc whose counters move during the window, fake commands on PATH."""

from __future__ import annotations

import stat
from dataclasses import replace
from pathlib import Path
from typing import Callable

import pytest
from health_fixtures import FakeProc

from jobwrapper.health import HealthThresholds


@pytest.fixture
def fake_proc(tmp_path: Path) -> FakeProc:
    root = tmp_path / "proc"
    root.mkdir()
    return FakeProc(root)


@pytest.fixture
def limits(tmp_path: Path) -> HealthThresholds:
    """Defaults, with the reboot check off and the state file in tmp_path."""
    return replace(
        HealthThresholds(),
        reboot_sources=(),
        state_file=str(tmp_path / "health-override"),
        reboot_required_file=str(tmp_path / "reboot-required"),
    )


@pytest.fixture
def fake_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str, str], Path]:
    """Put an executable shell script named ``name`` on a PATH holding nothing else."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))

    def make(name: str, body: str) -> Path:
        script = bin_dir / name
        script.write_text(f"#!/bin/sh\n{body}\n")
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
        return script

    return make


@pytest.fixture
def empty_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A PATH where no command is installed."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
