"""The internals jobwrapper/inserver/compat.py relies on are still where it expects
them: these fail on an upgrade of simpervisor or jupyter-server-proxy that moves them."""

from __future__ import annotations

from importlib.metadata import version

from jobwrapper.inserver import compat


def _major_minor(distribution: str) -> tuple[int, int]:
    major, minor = version(distribution).split(".")[:2]
    return int(major), int("".join(c for c in minor if c.isdigit()) or 0)


def test_the_installed_versions_are_the_tested_ones():
    for distribution, (low, high) in compat.TESTED.items():
        assert low <= _major_minor(distribution) <= high, distribution


def test_simpervisor_still_has_the_flag_and_the_handler_list():
    from simpervisor import atexitasync

    assert hasattr(atexitasync, "signal_handler_set")
    assert isinstance(atexitasync._handlers, list)


def test_jupyter_server_proxy_still_looks_up_entry_points_through_its_config_module():
    from jupyter_server_proxy import config as proxy_config

    assert callable(proxy_config.entry_points)


def test_the_entry_point_filter_drops_only_what_it_is_told_to():
    from jupyter_server_proxy import config as proxy_config

    original = proxy_config.entry_points
    try:
        assert compat.filter_proxy_entry_points(lambda entry: entry.name != "desktop",
                                                "jupyter_serverproxy_servers")
        names = [e.name for e in proxy_config.entry_points(group="jupyter_serverproxy_servers")]
        assert "desktop" not in names
    finally:
        proxy_config.entry_points = original
