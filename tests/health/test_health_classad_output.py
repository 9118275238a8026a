"""The STARTD_CRON output, read back with HTCondor's own old-syntax ClassAd parser."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from health_fixtures import is_undefined, parse_classad

from jobwrapper.health import startd_cron_output
from jobwrapper.health.classad_text import classad_string


def test_output_parses_as_a_classad_with_the_verdict_and_measured_values(fake_proc, limits):
    ad = parse_classad(startd_cron_output(fake_proc.check(limits)))
    assert ad["HEALTHY_FOR_INTERACTIVE_USE"] is True
    assert ad["HEALTH_REASON"] == "all checks passed"
    assert ad["HEALTH_IOWAIT_PERCENT"] == 0.0
    assert ad["HEALTH_SWAP_PAGES_PER_SECOND"] == 0.0
    assert ad["HEALTH_LOAD_PER_CORE"] == 0.25
    assert ad["HEALTH_CORES"] == 4
    assert ad["HEALTH_MEM_AVAILABLE_MB"] == 8192.0
    assert ad["HEALTH_ADMIN_STATE"] == "auto"
    assert ad["HEALTH_FAILED"] == "" and ad["HEALTH_UNKNOWN"] == ""
    assert ad["HEALTH_WINDOW_SECONDS"] == 5.0
    assert ad["HEALTH_CHECKED_AT"] == 1_700_000_000


def test_verdict_is_the_first_line_and_the_ad_ends_with_update_true(fake_proc, limits):
    lines = startd_cron_output(fake_proc.check(limits)).splitlines()
    assert lines[0] == "HEALTHY_FOR_INTERACTIVE_USE = True"
    assert lines[-1] == "- update:true"


def test_without_collector_update_the_ad_ends_with_a_plain_dash(fake_proc, limits):
    output = startd_cron_output(fake_proc.check(limits), update_collector=False)
    assert output.splitlines()[-1] == "-"


def test_unknown_values_are_published_as_undefined_and_listed(fake_proc, limits):
    (fake_proc.root / "vmstat").unlink()
    (fake_proc.root / "loadavg").unlink()
    output = startd_cron_output(fake_proc.check(limits))
    assert "HEALTH_SWAP_PAGES_PER_SECOND = undefined\n" in output
    ad = parse_classad(output)
    assert is_undefined(ad["HEALTH_SWAP_PAGES_PER_SECOND"])
    assert is_undefined(ad["HEALTH_LOAD_PER_CORE"])
    assert ad["HEALTH_UNKNOWN"] == "swap,load"
    assert ad["HEALTHY_FOR_INTERACTIVE_USE"] is False


@pytest.mark.parametrize(
    "reason",
    [
        'disk "sdb" failing',
        "share \\\\fs\\scratch is slow",
        "ends with a backslash \\",
        'backslash before quote \\"x\\"',
        "non-ASCII: Wartung für /scratch",
    ],
)
def test_admin_reason_survives_the_old_classad_parser_unchanged(fake_proc, limits, reason):
    Path(limits.state_file).write_text(f"unhealthy {reason}\n")
    ad = parse_classad(startd_cron_output(fake_proc.check(limits)))
    assert ad["HEALTH_REASON"] == f"{limits.state_file} says unhealthy: {reason}"
    assert ad["HEALTHY_FOR_INTERACTIVE_USE"] is False


def test_classad_string_escapes_quotes_and_keeps_backslashes():
    assert classad_string('a "b" c:\\d') == '"a \\"b\\" c:\\d"'


def test_classad_string_turns_line_breaks_into_spaces():
    assert classad_string("one\ntwo\u2028three") == '"one two three"'


def test_output_with_unhealthy_verdict_parses_as_false(fake_proc, limits):
    report = fake_proc.check(replace(limits, mem_available_min_mb=10**6))
    ad = parse_classad(startd_cron_output(report))
    assert ad["HEALTHY_FOR_INTERACTIVE_USE"] is False
    assert ad["HEALTH_FAILED"] == "memory"
