"""The admin state file: 'unhealthy <reason>', 'healthy [<reason>]' or 'auto'."""

from __future__ import annotations

from pathlib import Path

from health_fixtures import result, stat_text


def write_state(limits, text: str) -> None:
    Path(limits.state_file).write_text(text)


def test_no_state_file_lets_the_measurements_decide(fake_proc, limits):
    report = fake_proc.check(limits)
    assert report.healthy
    assert result(report, "admin").attributes == {"HEALTH_ADMIN_STATE": "auto"}


def test_unhealthy_state_file_makes_a_healthy_node_unhealthy_with_its_reason(fake_proc, limits):
    write_state(limits, "unhealthy disk replacement, ticket 4711\n")
    report = fake_proc.check(limits)
    assert not report.healthy
    assert report.failed == ["admin"]
    assert report.reason == f"{limits.state_file} says unhealthy: disk replacement, ticket 4711"


def test_unhealthy_without_reason_is_still_unhealthy(fake_proc, limits):
    write_state(limits, "unhealthy")
    assert not fake_proc.check(limits).healthy


def test_healthy_state_file_overrides_failed_checks(fake_proc, limits):
    write_state(limits, "healthy known slow disk, fine for notebooks\n")
    fake_proc.then(stat=stat_text(iowait=900, busy=100))
    report = fake_proc.check(limits)
    assert report.healthy
    assert report.failed == ["iowait"]  # still published, so admins see it
    assert report.reason.startswith("forced healthy by the admin state file (ignoring: iowait")


def test_auto_state_file_lets_the_measurements_decide(fake_proc, limits):
    write_state(limits, "auto back from maintenance\n")
    fake_proc.then(stat=stat_text(iowait=900, busy=100))
    assert fake_proc.check(limits).failed == ["iowait"]


def test_comments_and_blank_lines_in_state_file_are_ignored(fake_proc, limits):
    write_state(limits, "# managed by puppet\n\n  UNHEALTHY\tkernel update  \n# end\n")
    report = fake_proc.check(limits)
    assert report.reason == f"{limits.state_file} says unhealthy: kernel update"


def test_empty_state_file_means_auto(fake_proc, limits):
    write_state(limits, "# nothing enforced\n")
    assert result(fake_proc.check(limits), "admin").attributes["HEALTH_ADMIN_STATE"] == "auto"


def test_garbage_state_file_makes_the_admin_check_unknown_and_the_node_unhealthy(fake_proc, limits):
    write_state(limits, "maintenance\n")
    report = fake_proc.check(limits)
    assert report.unknown == ["admin"]
    assert result(report, "admin").attributes == {"HEALTH_ADMIN_STATE": None}
    assert not report.healthy
    assert "starts with 'maintenance'" in report.reason


def test_two_states_in_state_file_make_the_admin_check_unknown(fake_proc, limits):
    write_state(limits, "healthy\nunhealthy\n")
    assert "2 lines where one is expected" in result(fake_proc.check(limits), "admin").unknown


def test_unreadable_state_file_makes_the_admin_check_unknown(fake_proc, limits):
    Path(limits.state_file).mkdir()
    assert "cannot read" in result(fake_proc.check(limits), "admin").unknown


def test_huge_state_file_makes_the_admin_check_unknown(fake_proc, limits):
    write_state(limits, "unhealthy " + "x" * 5000)
    assert "larger than 4096 bytes" in result(fake_proc.check(limits), "admin").unknown


def test_control_characters_in_the_admin_reason_become_spaces(fake_proc, limits):
    write_state(limits, "unhealthy bad\x1b[31m\x07 reason\r\n")
    assert fake_proc.check(limits).reason.endswith("says unhealthy: bad [31m  reason")
