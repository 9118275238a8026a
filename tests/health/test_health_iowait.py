"""I/O wait: the share of CPU time waiting for I/O between two readings of /proc/stat."""

from __future__ import annotations

from health_fixtures import result, stat_text


def test_iowait_share_is_measured_between_the_two_readings(fake_proc, limits):
    fake_proc.write(stat=stat_text(iowait=500, busy=9500))
    fake_proc.then(stat=stat_text(iowait=520, busy=9580))  # 20 of 100 ticks
    report = fake_proc.check(limits)
    assert result(report, "iowait").attributes["HEALTH_IOWAIT_PERCENT"] == 20.0
    assert report.healthy


def test_iowait_above_threshold_is_unhealthy(fake_proc, limits):
    fake_proc.then(stat=stat_text(iowait=420, busy=580))
    report = fake_proc.check(limits)
    assert not report.healthy
    assert report.failed == ["iowait"]
    assert report.reason == "iowait 42.0% over 5 s > 30%"


def test_iowait_exactly_at_threshold_is_healthy(fake_proc, limits):
    fake_proc.then(stat=stat_text(iowait=300, busy=700))
    report = fake_proc.check(limits)
    assert report.healthy
    assert result(report, "iowait").attributes["HEALTH_IOWAIT_PERCENT"] == 30.0


def test_iowait_just_above_threshold_is_unhealthy(fake_proc, limits):
    fake_proc.then(stat=stat_text(iowait=3001, busy=6999))  # 30.01 %
    assert fake_proc.check(limits).failed == ["iowait"]


def test_iowait_counter_going_backwards_counts_as_no_iowait(fake_proc, limits):
    fake_proc.write(stat=stat_text(iowait=500, busy=0))
    fake_proc.then(stat=stat_text(iowait=400, busy=1000))
    report = fake_proc.check(limits)
    assert result(report, "iowait").attributes["HEALTH_IOWAIT_PERCENT"] == 0.0


def test_missing_stat_makes_iowait_unknown(fake_proc, limits):
    (fake_proc.root / "stat").unlink()
    fake_proc.after.clear()
    report = fake_proc.check(limits)
    iowait = result(report, "iowait")
    assert iowait.attributes == {"HEALTH_IOWAIT_PERCENT": None}
    assert "cannot read" in iowait.unknown and "stat" in iowait.unknown
    assert "iowait" in report.unknown


def test_unreadable_stat_makes_iowait_unknown(fake_proc, limits):
    (fake_proc.root / "stat").unlink()
    (fake_proc.root / "stat").mkdir()  # reading a directory fails, even as root
    fake_proc.after.clear()
    assert "iowait" in fake_proc.check(limits).unknown


def test_stat_without_cpu_line_makes_iowait_unknown(fake_proc, limits):
    fake_proc.write(stat="intr 1 2 3\n")
    fake_proc.then(stat="intr 1 2 3\n")
    assert "no 'cpu' line" in result(fake_proc.check(limits), "iowait").unknown


def test_garbage_in_cpu_line_makes_iowait_unknown(fake_proc, limits):
    fake_proc.then(stat="cpu  12 x 3 4 5 6 7 8\n")
    assert "expected counters" in result(fake_proc.check(limits), "iowait").unknown


def test_cpu_line_without_iowait_field_makes_iowait_unknown(fake_proc, limits):
    fake_proc.then(stat="cpu  12 0 3 4\n")
    assert "no iowait field" in result(fake_proc.check(limits), "iowait").unknown


def test_no_cpu_time_passing_makes_iowait_unknown(fake_proc, limits):
    fake_proc.then(stat=stat_text(iowait=0, busy=0))  # same as before the window
    assert "no CPU time passed" in result(fake_proc.check(limits), "iowait").unknown
