"""The job's callback accepts `{"port": N}` and nothing else (handler logic, no hub)."""

from __future__ import annotations

import pytest
from jupyterhub import apihandlers

from jobwrapper.hub import api


@pytest.mark.parametrize("port", [1, 8888, 65535])
def test_port_in_range_is_accepted(port):
    assert api.parse_port_report({"port": port}) == port


@pytest.mark.parametrize(
    "body",
    [
        {"port": 0},
        {"port": -1},
        {"port": 65536},
        {"port": True},
        {"port": "8888"},
        {"port": 8888.0},
        {"port": None},
        {"port": [8888]},
        {},
        {"port": 8888, "ip": "10.0.0.1"},
        {"exec_prefix": "touch /tmp/x;"},
        {"batch_query_cmd": "id"},
        [8888],
        "8888",
        None,
    ],
)
def test_anything_else_is_refused(body):
    with pytest.raises(api.PortError):
        api.parse_port_report(body)


class FakeSpawner:
    def __init__(self, token):
        self.api_token = token


class FakeUser:
    def __init__(self, **spawners):
        self.spawners = spawners


def test_only_the_servers_own_token_finds_its_spawner():
    own = FakeSpawner("t-own")
    user = FakeUser(**{"": own, "other": FakeSpawner("t-other")})
    assert api.spawner_for_token(user, "t-own") is own
    assert api.spawner_for_token(user, "t-personal") is None
    assert api.spawner_for_token(user, "") is None
    assert api.spawner_for_token(FakeUser(**{"": FakeSpawner("")}), "") is None


def test_strict_handler_is_the_only_one_on_the_route():
    import batchspawner.api  # noqa: F401  (its import registers its handler)

    routes = [entry for entry in apihandlers.default_handlers if entry[0] == api.ROUTE]
    assert routes == [(api.ROUTE, api.PortReportHandler)]


def test_install_replaces_a_later_batchspawner_registration():
    from batchspawner.api import BatchSpawnerAPIHandler

    handlers = [(api.ROUTE, api.PortReportHandler), (api.ROUTE, BatchSpawnerAPIHandler)]
    api.install(handlers)
    assert handlers == [(api.ROUTE, api.PortReportHandler)]
