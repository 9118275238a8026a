"""Before the runtime limit: users are warned, then the job ends itself cleanly."""

from __future__ import annotations

import time
from pathlib import Path

from jupyter_harness import jupyter_server, marked_processes, wait_until

from jobwrapper.config import parse_config
from jobwrapper.inserver.lifecycle import runtime_end, warning_offsets

# Warn 12 s before the limit, end 5 s before it, kill leftovers 2 s later.
SHORT_JOB = """
[shutdown]
warn_minutes = []
warn_seconds = [12]
end_before_limit_seconds = 5
grace_seconds = 2
"""


def test_warning_reaches_terminal_then_job_ends_itself_before_the_limit(tmp_path: Path) -> None:
    limit = time.time() + 22
    env = {"JOBWRAPPER_RUNTIME_END": str(limit)}
    with jupyter_server(tmp_path, SHORT_JOB, extra_env=env) as server:
        terminal = server.terminal()
        terminal.type("sleep 1005 & echo ready-$((6*7))")
        terminal.wait_for("ready-42")
        output = terminal.wait_for("Runtime limit:", timeout=25)
        assert "Save your notebooks now" in output
        terminal.type("echo still-$((6*7))")
        output = terminal.wait_for("still-42")
        assert "command not found" not in output, "the warning is output, never typed input"
        status = server.api("GET", "jobwrapper/lifecycle").json()
        assert status["announcements"][0]["kind"] == "warning"
        assert status["runtime_end"] == limit
        wait_until(lambda: server.process.poll() is not None, 25, "server ended itself")
        ended = time.time()
        assert ended < limit, "the job must end before the limit, so its files go back"
        wait_until(lambda: not marked_processes(server.mark), 2, "no process left")
        assert "runtime limit is near" in server.log()


def test_warnings_default_to_15_and_5_minutes() -> None:
    assert warning_offsets(parse_config("", "site.toml")) == [900, 300]


def test_warn_seconds_add_to_warn_minutes() -> None:
    site = parse_config("[shutdown]\nwarn_minutes = [1]\nwarn_seconds = [30]\n", "site.toml")
    assert warning_offsets(site) == [60, 30]


def test_no_runtime_end_means_no_limit() -> None:
    assert runtime_end({}) is None
    assert runtime_end({"JOBWRAPPER_RUNTIME_END": "not a number"}) is None
    assert runtime_end({"JOBWRAPPER_RUNTIME_END": "1800000000"}) == 1800000000.0
