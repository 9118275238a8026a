"""The internals jobwrapper/compat.py patches are still where it expects them: these
fail on an upgrade that moves them, before a hub or a server misbehaves quietly."""

from __future__ import annotations

import inspect
from importlib.metadata import version

import pytest
from jupyterhub import apihandlers
from jupyterhub.app import JupyterHub

from jobwrapper import compat
from jobwrapper.hub import api


def test_jupyterhub_is_a_tested_version():
    low, high = compat.TESTED_JUPYTERHUB
    assert low <= compat.jupyterhub_version() <= high


def test_the_api_handler_list_is_a_list_of_route_handler_pairs():
    assert isinstance(apihandlers.default_handlers, list)
    assert all(len(entry) >= 2 for entry in apihandlers.default_handlers)


def test_only_our_handler_serves_the_batchspawner_route():
    import batchspawner.api  # noqa: F401 - registers batchspawner's own handler

    served = [entry[1] for entry in apihandlers.default_handlers if entry[0] == api.ROUTE]
    assert served == [api.PortReportHandler]


def test_init_spawners_is_a_coroutine_wrapped_once():
    import jobwrapper.hub.spawner  # noqa: F401 - installs the start check

    assert inspect.iscoroutinefunction(JupyterHub.init_spawners)
    assert JupyterHub.init_spawners._jobwrapper_wrapped is True
    compat.run_before_spawners(lambda app: None)
    assert getattr(JupyterHub.init_spawners.__wrapped__, "_jobwrapper_wrapped", False) is False


def test_an_untested_jupyterhub_is_one_line(monkeypatch):
    monkeypatch.setattr(compat, "jupyterhub_version", lambda: (7, 0))
    with pytest.raises(compat.UpstreamChanged, match="outside the versions"):
        compat.replace_api_route("/x", object, [])


def test_the_stand_alone_secrets_helper_keeps_the_contracts_names():
    # hub/secrets.py runs as a file (python -I, as the user) and cannot import the contract
    from jobwrapper import protocol
    from jobwrapper.hub import secrets as helper

    assert (helper.SECRETS_FILE_NAME, helper.SECRETS_ENV) == (
        protocol.SECRETS_FILE_NAME, protocol.SECRETS_ENV)


# ---- inside the Jupyter server ----

def _major_minor(distribution: str) -> tuple[int, int]:
    major, minor = version(distribution).split(".")[:2]
    return int(major), int("".join(c for c in minor if c.isdigit()) or 0)


def test_the_installed_versions_are_the_tested_ones():
    for distribution, (low, high) in compat.TESTED_IN_SERVER.items():
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
