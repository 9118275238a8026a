"""Idle sessions: a warning, then the server ends itself through the SIGTERM path
(jobwrapper/inserver/idle.py); idle kernels are culled by jupyter-server's culler."""

from __future__ import annotations

import time
from pathlib import Path

from jupyter_harness import jupyter_server, marked_processes, wait_until

from jobwrapper.config import parse_config
from jobwrapper.inserver.idle import describe, server_idle_seconds, warning_offsets

# End after 12 s without activity, warn 6 s before; kill leftovers 2 s later.
SHORT_IDLE = """
[idle]
server_seconds = 12
warn_minutes = []
warn_seconds = [6]
check_seconds = 1
kernel_minutes = 1
kernel_check_seconds = 5

[shutdown]
grace_seconds = 2
"""


def test_an_idle_server_warns_then_ends_itself_cleanly(tmp_path: Path) -> None:
    with jupyter_server(tmp_path, SHORT_IDLE) as server:
        started = time.time()
        (tmp_path / "leftover.txt").write_text("kept")
        wait_until(lambda: "No activity for" in server.log(), 20, "the idle warning")
        warned = time.time()
        wait_until(lambda: server.process.poll() is not None, 20, "server ended itself")
        ended = time.time()
        assert ended - started >= 10, "it waited for the idle time"
        assert ended - warned >= 3, "the warning came before the end"
        wait_until(lambda: not marked_processes(server.mark), 3, "no process left")
        log = server.log()
        assert "ending the job: no activity for 12 s" in log
        assert "idle kernels are culled" in log and "'cull_idle_timeout': 60" in log


def test_activity_postpones_the_end(tmp_path: Path) -> None:
    with jupyter_server(tmp_path, SHORT_IDLE) as server:
        deadline = time.time() + 20
        while time.time() < deadline:  # a client using the API every 2 s
            server.api("GET", "api/contents")
            time.sleep(2)
        assert server.process.poll() is None, "an active server keeps running"


def test_the_hub_setting_wins_and_defaults_are_off() -> None:
    site = parse_config("[idle]\nserver_minutes = 30\n", "site.toml")
    assert server_idle_seconds(site, {}) == 1800
    assert server_idle_seconds(site, {"JOBWRAPPER_IDLE_MINUTES": "120"}) == 7200
    assert server_idle_seconds(site, {"JOBWRAPPER_IDLE_MINUTES": "1; x"}) == 1800
    assert server_idle_seconds(parse_config("", "site.toml"), {}) == 0
    assert warning_offsets(parse_config("", "site.toml")) == [600]
    assert describe(7200) == "2 h" and describe(5400) == "1 h 30 min"
