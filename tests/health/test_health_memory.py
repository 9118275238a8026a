"""Free memory: MemAvailable from /proc/meminfo, in MiB."""

from __future__ import annotations

from health_fixtures import result


def meminfo(available_kib: int) -> str:
    return f"MemTotal: 65536000 kB\nMemFree: 1 kB\nMemAvailable: {available_kib} kB\n"


def test_mem_available_is_published_in_mib(fake_proc, limits):
    fake_proc.write(meminfo=meminfo(3 * 1024 * 1024))
    memory = result(fake_proc.check(limits), "memory")
    assert memory.attributes == {"HEALTH_MEM_AVAILABLE_MB": 3072.0}


def test_mem_available_below_minimum_is_unhealthy(fake_proc, limits):
    fake_proc.write(meminfo=meminfo(512 * 1024))
    report = fake_proc.check(limits)
    assert not report.healthy
    assert report.reason == "MemAvailable 512 MiB < 1024 MiB"


def test_mem_available_exactly_at_minimum_is_healthy(fake_proc, limits):
    fake_proc.write(meminfo=meminfo(1024 * 1024))
    assert fake_proc.check(limits).healthy


def test_mem_available_just_below_minimum_is_unhealthy(fake_proc, limits):
    fake_proc.write(meminfo=meminfo(1024 * 1024 - 1))
    assert fake_proc.check(limits).failed == ["memory"]


def test_meminfo_without_mem_available_makes_memory_unknown(fake_proc, limits):
    fake_proc.write(meminfo="MemTotal: 1 kB\nMemFree: 1 kB\n")
    memory = result(fake_proc.check(limits), "memory")
    assert memory.attributes == {"HEALTH_MEM_AVAILABLE_MB": None}
    assert "no MemAvailable" in memory.unknown


def test_mem_available_without_a_number_makes_memory_unknown(fake_proc, limits):
    fake_proc.write(meminfo="MemAvailable:\n")
    assert "memory" in fake_proc.check(limits).unknown


def test_missing_meminfo_makes_memory_unknown(fake_proc, limits):
    (fake_proc.root / "meminfo").unlink()
    assert fake_proc.check(limits).unknown == ["memory"]
