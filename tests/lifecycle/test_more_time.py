"""More time: the job follows a raised MaxRuntime it reads with condor_chirp
(jobwrapper/inserver/moretime.py); warnings and the self-ending follow the new limit."""

from __future__ import annotations

import time
from pathlib import Path

from jupyter_harness import jupyter_server, wait_until

from jobwrapper.inserver.moretime import ad_limit, parse_limit


def test_a_raised_limit_moves_the_end(tmp_path: Path) -> None:
    limit_file = tmp_path / "limit"
    limit_file.write_text("30\n")
    chirp = tmp_path / "chirp"
    chirp.write_text(f"#!/bin/sh\n[ \"$1 $2\" = 'get_job_attr MaxRuntime' ] && cat {limit_file}\n")
    chirp.chmod(0o755)
    ad = tmp_path / ".job.ad"
    ad.write_text("MaxRuntime = 30\nClusterId = 7\n")
    config = f"""
[shutdown]
warn_minutes = []
warn_seconds = [10]
end_before_limit_seconds = 5
grace_seconds = 2

[runtime]
check_seconds = 1
chirp = "{chirp}"
"""
    end = time.time() + 30
    env = {"JOBWRAPPER_RUNTIME_END": str(end), "_CONDOR_JOB_AD": str(ad)}
    with jupyter_server(tmp_path / "server", config, extra_env=env) as server:
        status = server.api("GET", "jobwrapper/runtime").json()
        assert status == {"runtime_end": end, "runtime_hours": 1, "can_ask": True}
        limit_file.write_text("3600\n")  # condor_qedit -forward MaxRuntime 3600
        wait_until(lambda: "More time: this job now ends at" in server.log(), 10,
                   "the new limit followed")
        assert server.api("GET", "jobwrapper/runtime").json()["runtime_end"] == end - 30 + 3600
        time.sleep(max(0.0, end - time.time()))
        assert server.process.poll() is None, "the old limit no longer ends the job"
        refused = server.api("POST", "jobwrapper/runtime", json={"runtime_hours": "2"})
        assert refused.status_code == 400


def test_limits_from_chirp_and_the_ad() -> None:
    assert parse_limit("7200\n") == 7200 and parse_limit("7200.0") == 7200
    assert parse_limit("UNDEFINED") is None and parse_limit("-1") is None


def test_the_first_runtime_attribute_of_the_ad(tmp_path: Path) -> None:
    ad = tmp_path / ".job.ad"
    ad.write_text('Owner = "x"\nAllowedExecuteDuration = 90\nMaxRuntime = 60\n')
    assert ad_limit(str(ad), ["MaxRuntime", "AllowedExecuteDuration"]) == ("MaxRuntime", 60)
    assert ad_limit(str(tmp_path / "none"), ["MaxRuntime"]) is None


def test_a_grant_the_shadow_did_not_take_is_asked_for_again(monkeypatch) -> None:
    """HTCondor 25.0.13 drops a -forward edit close after another: the job checks with
    condor_chirp and asks the hub again (the same hours) until the shadow has it."""
    import asyncio
    import logging
    from types import SimpleNamespace

    from jobwrapper.config import parse_config
    from jobwrapper.inserver import moretime

    monkeypatch.setattr(moretime, "CONFIRM_INTERVAL", 0.0)
    lifecycle = SimpleNamespace(runtime_end=None, ending=None, log=logging.getLogger("t"))
    watch = moretime.RuntimeWatch(lifecycle, parse_config("", "site.toml"))
    watch.attribute, watch.limit = "MaxRuntime", 7200
    seen = iter([3600, 3600, 7200])
    asked: list[int] = []

    async def ask_hub(hours: int) -> int:
        asked.append(hours)
        return hours * 3600

    monkeypatch.setattr(watch, "read_limit", lambda: next(seen))
    monkeypatch.setattr(watch, "ask_hub", ask_hub)
    asyncio.run(watch._confirm_task(2, 7200))
    assert asked == [2, 2], "asked again until condor_chirp showed 7200"
