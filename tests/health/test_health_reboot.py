"""Pending reboots: /run/reboot-required and `needs-restarting -r` (exit 1: reboot)."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path

from health_fixtures import result


def both_sources(limits):
    return replace(limits, reboot_sources=("file", "needs-restarting"))


def test_needs_restarting_exit_1_means_reboot_required_and_unhealthy(
    fake_proc, limits, fake_command
):
    fake_command("needs-restarting", 'test "$1" = -r && exit 1; exit 9')
    report = fake_proc.check(both_sources(limits))
    assert result(report, "reboot").attributes == {"HEALTH_REBOOT_REQUIRED": True}
    assert not report.healthy
    assert report.reason == "reboot required (needs-restarting -r exited 1)"


def test_needs_restarting_exit_0_means_no_reboot_required(fake_proc, limits, fake_command):
    fake_command("needs-restarting", 'test "$1" = -r && exit 0; exit 9')
    report = fake_proc.check(both_sources(limits))
    assert result(report, "reboot").attributes == {"HEALTH_REBOOT_REQUIRED": False}
    assert report.healthy


def test_needs_restarting_not_installed_makes_reboot_unknown(fake_proc, limits, empty_path):
    report = fake_proc.check(both_sources(limits))
    assert report.unknown == ["reboot"]
    assert result(report, "reboot").attributes == {"HEALTH_REBOOT_REQUIRED": None}
    assert "needs-restarting is not installed" in report.reason
    assert not report.healthy


def test_needs_restarting_failing_otherwise_makes_reboot_unknown(fake_proc, limits, fake_command):
    fake_command("needs-restarting", "echo 'rpmdb locked' >&2; exit 2")
    reboot = result(fake_proc.check(both_sources(limits)), "reboot")
    assert reboot.unknown == "reboot: needs-restarting -r failed with exit status 2"


def test_needs_restarting_taking_too_long_makes_reboot_unknown(fake_proc, limits, fake_command):
    sleep = shutil.which("sleep", path=os.defpath)
    fake_command("needs-restarting", f"exec {sleep} 5")
    slow = replace(both_sources(limits), needs_restarting_timeout_seconds=0.2)
    assert "took longer than 0.2 s" in result(fake_proc.check(slow), "reboot").unknown


def test_reboot_required_file_means_reboot_required_even_without_needs_restarting(
    fake_proc, limits, empty_path
):
    Path(limits.reboot_required_file).write_text("*** System restart required ***\n")
    report = fake_proc.check(both_sources(limits))
    assert result(report, "reboot").attributes == {"HEALTH_REBOOT_REQUIRED": True}
    assert report.reason == f"reboot required ({limits.reboot_required_file} exists)"


def test_file_source_alone_answers_no_reboot_when_the_file_is_absent(fake_proc, limits, empty_path):
    report = fake_proc.check(replace(limits, reboot_sources=("file",)))
    assert result(report, "reboot").attributes == {"HEALTH_REBOOT_REQUIRED": False}
    assert report.healthy


def test_uncheckable_reboot_required_file_makes_reboot_unknown(fake_proc, limits, tmp_path):
    too_long = str(tmp_path / ("x" * 300))  # ENAMETOOLONG, even for root
    only_file = replace(limits, reboot_sources=("file",), reboot_required_file=too_long)
    assert "cannot check" in result(fake_proc.check(only_file), "reboot").unknown


def test_pending_reboot_can_be_published_without_making_the_node_unhealthy(
    fake_proc, limits, fake_command
):
    fake_command("needs-restarting", "exit 1")
    tolerant = replace(both_sources(limits), reboot_required_is_unhealthy=False)
    report = fake_proc.check(tolerant)
    assert report.healthy
    assert result(report, "reboot").attributes == {"HEALTH_REBOOT_REQUIRED": True}


def test_empty_reboot_sources_skip_the_reboot_check(fake_proc, limits, empty_path):
    report = fake_proc.check(replace(limits, reboot_sources=()))
    assert "reboot" not in [item.name for item in report.results]
    assert report.healthy
