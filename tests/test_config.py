"""The site config: validation errors name file, key and line; docs cover every key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from jobwrapper.config import (
    DEFAULT_PATH,
    ENVIRONMENT_OS_SCHEMA,
    PROXY_SCHEMA,
    SCHEMA,
    SiteConfig,
    config_path,
    load_config,
    parse_config,
)
from jobwrapper.errors import EXIT_CONFIG, ConfigError

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "config.md"
EXAMPLE = ROOT / "docs" / "config.example.toml"


def error_for(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "/etc/jobwrapper/config.toml")
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_empty_config_gives_the_defaults():
    config = parse_config("", "site.toml")
    assert config.get("job", "runtime_limit_attributes") == ["MaxRuntime", "AllowedExecuteDuration"]
    assert config.get("job", "default_environment") == "stable"


def test_a_set_key_overrides_its_default():
    config = parse_config('[job]\ndefault_environment = "testing"\n', "site.toml")
    assert config.get("job", "default_environment") == "testing"


def test_unknown_key_names_file_line_and_key():
    message = error_for('[job]\ncontainer_attribute = "ContainerOS"\nruntime_limit = 5\n')
    assert message.startswith("/etc/jobwrapper/config.toml:3: job.runtime_limit: unknown key")
    assert "runtime_limit_attributes" in message  # the known keys are listed


def test_wrong_type_names_file_line_key_and_expected_type():
    message = error_for('\n[shutdown]\n\nwarn_minutes = "15"\n')
    assert message == ("/etc/jobwrapper/config.toml:4: shutdown.warn_minutes: "
                       "must be a list of integers")


def test_bool_is_not_an_integer():
    assert "must be an integer" in error_for("[shutdown]\ngrace_seconds = true\n")


def test_unknown_section_is_named_with_its_line():
    message = error_for('[job]\nfix_user_name = true\n[jobs]\nx = 1\n')
    assert message.startswith("/etc/jobwrapper/config.toml:3: jobs: unknown section")


def test_choice_outside_the_allowed_values_is_an_error():
    message = error_for('[server]\nmode = "udp"\n')
    assert message == "/etc/jobwrapper/config.toml:2: server.mode: must be one of: tcp, socket"


def test_direct_address_that_is_not_an_ip_literal_names_file_line_and_key():
    message = error_for('[server]\nbind = "direct"\ndirect_address = "wn1.example.org"\n')
    assert message == ("/etc/jobwrapper/config.toml:3: server.direct_address: "
                       "'wn1.example.org' is not an IP address (e.g. 10.1.2.3 or fd00::2)")


@pytest.mark.parametrize("address", ["0.0.0.0", "::"])
def test_direct_address_refuses_the_unspecified_address(address):
    message = error_for(f'[server]\ndirect_address = "{address}"\n')
    assert message.startswith(f"/etc/jobwrapper/config.toml:2: server.direct_address: "
                              f"{address} is the unspecified address (all interfaces)")


def test_direct_address_takes_ipv4_and_ipv6_literals():
    for address in ("10.1.2.3", "fd00::2"):
        config = parse_config(f'[server]\ndirect_address = "{address}"\n', "site.toml")
        assert config.get("server", "direct_address") == address


def test_extra_thread_variable_must_be_a_variable_name():
    assert "'A B' is not a variable name" in error_for(
        '[job]\nextra_thread_variables = ["A B"]\n')


def test_toml_syntax_error_names_the_file_and_line():
    message = error_for("[job\n")
    assert message.startswith("/etc/jobwrapper/config.toml: not valid TOML:")
    assert re.search(r"line 1", message)


def test_environment_os_table_keys_are_checked():
    message = error_for('[environments.stable.os.Rocky9]\nmodules = ["a"]\nvenvv = "/x"\n')
    assert message.startswith("/etc/jobwrapper/config.toml:3: environments.stable.os.Rocky9.venvv")


def test_environment_for_an_os_falls_back_to_default():
    config = parse_config('[environments.stable.os.default]\nmodules = ["root"]\n'
                          '[environments.stable.os.Rocky9]\nvenv = "/cvmfs/x"\n', "site.toml")
    assert config.environment("stable", "Rocky9").venv == "/cvmfs/x"
    assert config.environment("stable", "Debian12").modules == ("root",)
    assert config.environment("testing", "Rocky9") is None


def test_proxy_keys_are_checked():
    message = error_for('[proxies.desk]\ncommand = ["x"]\nport = 5\n')
    assert message.startswith("/etc/jobwrapper/config.toml:3: proxies.desk.port: unknown key")


def test_config_error_exit_code_is_3():
    assert ConfigError("x").exit_code == EXIT_CONFIG == 3


def test_missing_default_config_means_defaults():
    if Path(DEFAULT_PATH).exists():
        pytest.skip(f"{DEFAULT_PATH} exists on this machine")
    assert load_config(DEFAULT_PATH) == SiteConfig()


def test_missing_config_named_by_the_variable_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="named by JOBWRAPPER_CONFIG does not exist"):
        load_config(str(tmp_path / "nope.toml"))


def test_config_that_is_not_utf8_is_an_error(tmp_path):
    (tmp_path / "c.toml").write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(str(tmp_path / "c.toml"))


def test_config_path_comes_from_the_variable():
    assert config_path({"JOBWRAPPER_CONFIG": "/x.toml"}) == "/x.toml"
    assert config_path({}) == DEFAULT_PATH


# --- the docs follow the schema --------------------------------------------------------

def documented_keys() -> set[str]:
    """Keys documented in docs/config.md: headings like ### `job.container_attribute`."""
    return set(re.findall(r"^#+ `([A-Za-z0-9_.<>*]+)`", DOCS.read_text(), re.MULTILINE))


def schema_keys() -> set[str]:
    keys = {f"{section}.{key}" for section, table in SCHEMA.items() for key in table}
    keys |= {f"environments.<name>.os.<os>.{key}" for key in ENVIRONMENT_OS_SCHEMA}
    keys |= {f"proxies.<name>.{key}" for key in PROXY_SCHEMA}
    return keys


def test_every_schema_key_is_documented():
    assert schema_keys() - documented_keys() == set()


def test_docs_document_no_key_that_does_not_exist():
    assert documented_keys() - schema_keys() == set()


def test_docs_state_each_keys_default():
    text = DOCS.read_text()
    for section, table in SCHEMA.items():
        for key in table:
            block = text.split(f"`{section}.{key}`", 1)[1].split("\n#", 1)[0]
            assert "Default:" in block, f"{section}.{key}"


def test_example_config_parses():
    config = load_config(str(EXAMPLE))
    assert config.path == str(EXAMPLE)
    assert config.environments  # the example shows environments, not only defaults


def test_example_config_sets_every_plain_section():
    config = load_config(str(EXAMPLE))
    plain = {section for section, table in SCHEMA.items() if table}
    assert plain <= set(config.sections)
