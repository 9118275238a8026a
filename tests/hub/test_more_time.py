"""More time for a running session: the strict request, the user's maximum, and the
condor_qedit -forward argv run as the user (site/sessiontime.py, api.py)."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any

import pytest

from jobwrapper.hub import api, form
from jobwrapper.hub.jobcontrol import BatchCommandError
from jobwrapper.hub.site import sessiontime
from jobwrapper.protocol import ReportError, parse_runtime_request


@pytest.mark.parametrize("body", [
    {"runtime_hours": 0}, {"runtime_hours": "3"}, {"runtime_hours": 1.5},
    {"runtime_hours": True}, {"runtime_hours": 3, "exec_prefix": "sh"}, [3], "3",
    {"runtime_hours": 10_001}, {},
])
def test_only_exactly_a_whole_number_of_hours(body: Any) -> None:
    with pytest.raises(ReportError):
        parse_runtime_request(body)


def test_a_number_of_hours_is_taken() -> None:
    assert parse_runtime_request({"runtime_hours": 6}) == 6


def test_the_users_maximum_is_the_limit() -> None:
    assert sessiontime.check_request(6, 4, 8) == 6 * 3600
    assert sessiontime.check_request(4, 4, 8) == 4 * 3600  # asked again: the same
    with pytest.raises(sessiontime.MoreTimeRefused, match="at most 8 h"):
        sessiontime.check_request(9, 4, 8)
    with pytest.raises(sessiontime.MoreTimeRefused, match="already has 4 h"):
        sessiontime.check_request(3, 4, 8)


@pytest.mark.parametrize("job_id", ["", "12; rm -rf /", "-forward", "1 2", "$(id)"])
def test_a_job_id_that_is_not_one_never_reaches_the_command(job_id: str) -> None:
    with pytest.raises(sessiontime.MoreTimeRefused):
        sessiontime.qedit_argv("condor_qedit", job_id, 7200)


def _spawner(max_hours: int = 8, fail: bool = False) -> Any:
    ran: list[list[str]] = []

    async def run_batch(argv: list[str]) -> str:
        ran.append(argv)
        if fail:
            raise BatchCommandError("condor_qedit", 1, "Failed to set attribute")
        return 'Set attribute "MaxRuntime" for 1 matching jobs.\n'

    spawner = SimpleNamespace(job_id="42", user_options={"runtime_hours": 2},
                              run_batch=run_batch, ran=ran, _log_name="alice",
                              log=logging.getLogger("test"), config={}, parent=None)
    return spawner


def test_the_hub_runs_qedit_forward_as_argv_and_remembers(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    monkeypatch.setattr(form, "form_config", lambda spawner: SimpleNamespace(max_runtime_hours=8))
    monkeypatch.setattr(sessiontime, "MoreTime",
                        lambda parent: SimpleNamespace(enabled=True, qedit_cmd="condor_qedit"))
    spawner = _spawner()
    assert asyncio.run(sessiontime.extend_runtime(spawner, 5)) == 18000
    assert spawner.ran == [["condor_qedit", "-forward", "42", "MaxRuntime", "18000"]]
    assert spawner.user_options["runtime_hours"] == 5
    with pytest.raises(sessiontime.MoreTimeRefused):
        asyncio.run(sessiontime.extend_runtime(spawner, 9))
    assert len(spawner.ran) == 1, "a refused request runs nothing"


def test_a_failed_qedit_is_refused_without_its_output(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(form, "form_config", lambda spawner: SimpleNamespace(max_runtime_hours=8))
    monkeypatch.setattr(sessiontime, "MoreTime",
                        lambda parent: SimpleNamespace(enabled=True, qedit_cmd="condor_qedit"))
    spawner = _spawner(fail=True)
    with pytest.raises(sessiontime.MoreTimeRefused, match="did not take"):
        asyncio.run(sessiontime.extend_runtime(spawner, 5))
    assert spawner.user_options["runtime_hours"] == 2


def test_the_route_is_installed_next_to_the_port_report() -> None:
    handlers: list[Any] = []
    api.install_runtime_route(handlers)
    api.install_runtime_route(handlers)
    assert handlers == [(api.RUNTIME_ROUTE, api.RuntimeRequestHandler)]
    assert dict(handlers)[api.RUNTIME_ROUTE] is api.RuntimeRequestHandler
    assert api.RUNTIME_ROUTE == r"/api/jobwrapper/runtime"


def test_the_hub_says_how_long_an_idle_session_waited() -> None:
    spawner = SimpleNamespace(environment={"JOBWRAPPER_IDLE_MINUTES": "120"})
    assert sessiontime.idle_end_text(sessiontime.idle_minutes(spawner)) == (
        "the notebook server ended itself after 2 h without activity")
    assert sessiontime.idle_minutes(SimpleNamespace(environment={})) == 0
    assert "after a time without activity" in sessiontime.idle_end_text(0)
    assert sessiontime.idle_minutes(
        SimpleNamespace(environment={"JOBWRAPPER_IDLE_MINUTES": "<b>"})) == 0
