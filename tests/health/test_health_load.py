"""Load per core: the 5-minute load average over the machine's online CPUs."""

from __future__ import annotations

from health_fixtures import result, stat_text


def test_load_per_core_uses_the_five_minute_average_and_cpu_lines_of_stat(fake_proc, limits):
    fake_proc.write(loadavg="9.00 2.00 0.10 1/200 77\n")
    fake_proc.then(stat=stat_text(iowait=0, busy=1000, cores=8))
    load = result(fake_proc.check(limits), "load")
    assert load.attributes == {"HEALTH_LOAD_PER_CORE": 0.25, "HEALTH_CORES": 8}


def test_cores_come_from_cpuinfo_when_stat_lists_no_cpus(fake_proc, limits):
    fake_proc.write(cpuinfo="processor\t: 0\nmodel name\t: x\n\nprocessor\t: 1\n")
    fake_proc.then(stat="cpu  1000 0 0 0 0 0 0 0\n")
    assert result(fake_proc.check(limits), "load").attributes["HEALTH_CORES"] == 2


def test_load_per_core_above_threshold_is_unhealthy(fake_proc, limits):
    fake_proc.write(loadavg="0.10 6.40 0.10 1/200 77\n")  # 1.6 on 4 cores
    report = fake_proc.check(limits)
    assert not report.healthy
    assert report.reason == "load 1.60 per core > 1.5"


def test_load_per_core_exactly_at_threshold_is_healthy(fake_proc, limits):
    fake_proc.write(loadavg="0.10 6.00 0.10 1/200 77\n")  # 1.5 on 4 cores
    assert fake_proc.check(limits).healthy


def test_load_per_core_just_above_threshold_is_unhealthy(fake_proc, limits):
    fake_proc.write(loadavg="0.10 6.04 0.10 1/200 77\n")
    assert fake_proc.check(limits).failed == ["load"]


def test_missing_loadavg_makes_load_unknown(fake_proc, limits):
    (fake_proc.root / "loadavg").unlink()
    load = result(fake_proc.check(limits), "load")
    assert load.attributes == {"HEALTH_LOAD_PER_CORE": None, "HEALTH_CORES": None}
    assert "loadavg" in load.unknown


def test_garbage_loadavg_makes_load_unknown(fake_proc, limits):
    fake_proc.write(loadavg="0.1 high 0.1 1/1 1\n")
    assert "not a load average" in result(fake_proc.check(limits), "load").unknown


def test_short_loadavg_makes_load_unknown(fake_proc, limits):
    fake_proc.write(loadavg="0.1\n")
    assert "three load averages" in result(fake_proc.check(limits), "load").unknown


def test_no_countable_cores_makes_load_unknown(fake_proc, limits):
    fake_proc.then(stat="cpu  1000 0 0 0 0 0 0 0\n")  # no cpuN lines, no cpuinfo
    assert "no CPUs listed" in result(fake_proc.check(limits), "load").unknown
