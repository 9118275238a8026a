"""The verdict: failed checks, unknown checks and the unknown_is_healthy policy."""

from __future__ import annotations

from dataclasses import replace

from health_fixtures import stat_text


def test_node_passing_every_check_is_healthy(fake_proc, limits):
    report = fake_proc.check(limits)
    assert (report.healthy, report.reason) == (True, "all checks passed")
    assert report.failed == [] and report.unknown == []


def test_unknown_check_makes_the_node_unhealthy_by_default(fake_proc, limits):
    (fake_proc.root / "meminfo").unlink()
    report = fake_proc.check(limits)
    assert not report.healthy
    assert report.reason.startswith("unknown memory: cannot read ")


def test_unknown_is_healthy_lets_a_node_with_unknown_checks_pass(fake_proc, limits):
    (fake_proc.root / "meminfo").unlink()
    report = fake_proc.check(replace(limits, unknown_is_healthy=True))
    assert report.healthy
    assert report.unknown == ["memory"]
    assert report.reason.startswith("passed, with unknown_is_healthy: unknown memory: ")


def test_unknown_is_healthy_does_not_excuse_a_failed_check(fake_proc, limits):
    (fake_proc.root / "meminfo").unlink()
    fake_proc.then(stat=stat_text(iowait=900, busy=100))
    report = fake_proc.check(replace(limits, unknown_is_healthy=True))
    assert not report.healthy


def test_reason_lists_every_failed_check_then_the_unknown_ones(fake_proc, limits):
    fake_proc.write(loadavg="0 8.00 0 1/1 1\n")
    fake_proc.then(stat=stat_text(iowait=900, busy=100))
    (fake_proc.root / "vmstat").unlink()
    report = fake_proc.check(limits)
    assert report.failed == ["iowait", "load"]
    assert report.reason.split("; ")[0] == "iowait 90.0% over 5 s > 30%"
    assert report.reason.split("; ")[1] == "load 2.00 per core > 1.5"
    assert report.reason.split("; ")[2].startswith("unknown swap: cannot read")


def test_empty_proc_directory_reports_every_proc_check_unknown(tmp_path, limits):
    from jobwrapper.health import check_node

    report = check_node(limits, tmp_path, wait=lambda seconds: None, clock=iter([0, 5]).__next__)
    assert report.unknown == ["iowait", "swap", "load", "memory"]
    assert not report.healthy
