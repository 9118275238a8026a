"""The [health] table of the site config, validated by thresholds_from_table."""

from __future__ import annotations

import pytest

from jobwrapper.errors import ConfigError
from jobwrapper.health import HealthThresholds, key_help, thresholds_from_table

SOURCE = "/etc/jobwrapper/config.toml"


def config_error(table: object) -> str:
    """The one-line message thresholds_from_table raises for ``table``."""
    with pytest.raises(ConfigError) as caught:
        thresholds_from_table(table, SOURCE)  # type: ignore[arg-type]
    return str(caught.value)


def test_empty_table_gives_the_defaults():
    assert thresholds_from_table({}, SOURCE) == HealthThresholds()


def test_keys_set_in_the_table_replace_their_defaults():
    limits = thresholds_from_table(
        {"iowait_max_percent": 50, "unknown_is_healthy": True, "reboot_sources": ["file"]},
        SOURCE,
    )
    assert limits.iowait_max_percent == 50.0
    assert isinstance(limits.iowait_max_percent, float)
    assert limits.unknown_is_healthy is True
    assert limits.reboot_sources == ("file",)
    assert limits.load_per_core_max == HealthThresholds().load_per_core_max


def test_unknown_key_names_file_key_and_the_known_keys():
    message = config_error({"iowait_max": 30})
    assert message.startswith(f"{SOURCE}: health.iowait_max: unknown key; remove it or use one of:")
    assert "iowait_max_percent" in message
    assert "\n" not in message


def test_string_for_a_number_names_the_key_an_example_and_the_bad_value():
    assert config_error({"iowait_max_percent": "30%"}) == (
        f"{SOURCE}: health.iowait_max_percent: must be a number, "
        "e.g. iowait_max_percent = 30.0 (got '30%')"
    )


def test_boolean_is_not_accepted_as_a_number():
    message = config_error({"load_per_core_max": True})
    assert "health.load_per_core_max: must be a number" in message


def test_nan_is_not_accepted_as_a_threshold():
    message = config_error({"swap_max_pages_per_second": float("nan")})
    assert "health.swap_max_pages_per_second: must be a number" in message


def test_number_is_not_accepted_as_a_boolean():
    message = config_error({"unknown_is_healthy": 1})
    assert "health.unknown_is_healthy: must be true or false" in message


def test_negative_threshold_is_rejected():
    message = config_error({"mem_available_min_mb": -1})
    assert "health.mem_available_min_mb: must not be negative" in message


def test_percentage_above_100_is_rejected():
    message = config_error({"iowait_max_percent": 101})
    assert "health.iowait_max_percent: is a percentage" in message


def test_zero_window_is_rejected():
    message = config_error({"window_seconds": 0})
    assert "health.window_seconds: must be more than 0 seconds" in message


def test_unknown_reboot_source_is_rejected():
    message = config_error({"reboot_sources": ["file", "dnf"]})
    assert 'health.reboot_sources: must be a list of "file", "needs-restarting"' in message


def test_empty_path_is_rejected():
    message = config_error({"state_file": ""})
    assert "health.state_file: must be a non-empty string" in message


def test_health_that_is_not_a_table_is_rejected():
    assert config_error(3) == f"{SOURCE}: health: must be a table; write a [health] section"


def test_every_key_has_help_text():
    assert set(key_help()) == set(HealthThresholds.__dataclass_fields__)
    assert all(text.strip() for text in key_help().values())
