"""Swapping: pages swapped in plus out per second over the window (/proc/vmstat)."""

from __future__ import annotations

from health_fixtures import result


def vmstat(pages_in: int, pages_out: int) -> str:
    return f"nr_free_pages 1\npswpin {pages_in}\npswpout {pages_out}\npgfault 9\n"


def test_swap_rate_counts_pages_in_and_out_per_second(fake_proc, limits):
    fake_proc.write(vmstat=vmstat(1000, 2000))
    fake_proc.then(vmstat=vmstat(1300, 2200))  # 500 pages in 5 s
    swap = result(fake_proc.check(limits), "swap")
    assert swap.attributes == {"HEALTH_SWAP_PAGES_PER_SECOND": 100.0}
    assert swap.problem is None


def test_swap_rate_above_threshold_is_unhealthy(fake_proc, limits):
    fake_proc.write(vmstat=vmstat(0, 0))
    fake_proc.then(vmstat=vmstat(4000, 2000))  # 1200 pages/s
    report = fake_proc.check(limits)
    assert not report.healthy
    assert report.reason == "swapping 1200 pages/s > 1000"


def test_swap_rate_exactly_at_threshold_is_healthy(fake_proc, limits):
    fake_proc.write(vmstat=vmstat(0, 0))
    fake_proc.then(vmstat=vmstat(2500, 2500))  # 1000 pages/s
    assert fake_proc.check(limits).healthy


def test_swap_rate_just_above_threshold_is_unhealthy(fake_proc, limits):
    fake_proc.write(vmstat=vmstat(0, 0))
    fake_proc.then(vmstat=vmstat(2500, 2501))
    assert fake_proc.check(limits).failed == ["swap"]


def test_missing_vmstat_makes_swap_unknown(fake_proc, limits):
    (fake_proc.root / "vmstat").unlink()
    report = fake_proc.check(limits)
    assert result(report, "swap").attributes == {"HEALTH_SWAP_PAGES_PER_SECOND": None}
    assert report.unknown == ["swap"]


def test_vmstat_without_swap_counters_makes_swap_unknown(fake_proc, limits):
    fake_proc.write(vmstat="nr_free_pages 1\n")
    assert "no pswpin/pswpout" in result(fake_proc.check(limits), "swap").unknown


def test_garbage_swap_counter_makes_swap_unknown(fake_proc, limits):
    fake_proc.then(vmstat="pswpin many\npswpout 3\n")
    assert "expected counters" in result(fake_proc.check(limits), "swap").unknown
