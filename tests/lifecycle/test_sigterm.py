"""SIGTERM (condor_rm, eviction, runtime limit): everything ends within 10 s, files stay."""

from __future__ import annotations

import signal
from pathlib import Path

from jupyter_harness import jupyter_server, marked_processes, wait_all_gone, wait_until

JOB_DEADLINE = 10.0  # HTCondor-FACTS: the job must exit promptly; our promise is 10 s
FAST = "[shutdown]\ngrace_seconds = 3\n"


def test_sigterm_during_running_cell_ends_everything_and_keeps_written_file(
    tmp_path: Path, kernel_client
) -> None:
    with jupyter_server(tmp_path, FAST) as server:
        _kernel_id, connection = server.start_kernel()
        client = kernel_client(connection)
        result = server.root / "result.txt"
        client.execute(
            f"with open({str(result)!r}, 'w') as f:\n    f.write('x' * 1_000_000)\n"
            "import time\nwhile True:\n    pass\n"
        )
        wait_until(lambda: result.exists() and result.stat().st_size == 1_000_000, 60, "file")
        server.process.send_signal(signal.SIGTERM)
        wait_all_gone(server, JOB_DEADLINE)
        assert result.read_text() == "x" * 1_000_000
        assert server.process.returncode == 0, server.log()
        assert "all processes gone" in server.log()


def test_sigterm_with_sleeping_cell_ends_everything(tmp_path: Path, kernel_client) -> None:
    with jupyter_server(tmp_path, FAST) as server:
        client = kernel_client(server.start_kernel()[1])
        client.execute("import time\nprint('sleeping', flush=True)\ntime.sleep(1000)")
        client.get_iopub_msg(timeout=30)  # busy
        wait_until(lambda: len(marked_processes(server.mark)) >= 2, 30, "kernel running")
        server.process.send_signal(signal.SIGTERM)
        wait_all_gone(server, JOB_DEADLINE)


def test_terminal_background_jobs_and_setsid_orphans_are_killed(tmp_path: Path) -> None:
    with jupyter_server(tmp_path, FAST) as server:
        terminal = server.terminal()
        terminal.type("nohup sleep 1000 >/dev/null 2>&1 &")
        terminal.type("setsid sleep 1001 </dev/null >/dev/null 2>&1 &")
        terminal.type("(setsid sh -c 'sleep 1002' </dev/null >/dev/null 2>&1 &)")
        terminal.type("echo started-$((6*7))")
        terminal.wait_for("started-42")
        terminal.close()
        wait_until(lambda: _sleepers(server) == {"1000", "1001", "1002"}, 20, "sleeps")
        server.process.send_signal(signal.SIGTERM)
        wait_all_gone(server, JOB_DEADLINE)


def test_orphans_reparent_to_the_server(tmp_path: Path) -> None:
    with jupyter_server(tmp_path, FAST) as server:
        terminal = server.terminal()
        terminal.type("(setsid sleep 1003 </dev/null >/dev/null 2>&1 &); echo done-$((6*7))")
        terminal.wait_for("done-42")
        wait_until(lambda: "1003" in _sleepers(server), 20, "sleep started")
        sleeper = next(p for p in marked_processes(server.mark) if _argv(p)[-1:] == ["1003"])
        assert _parent(sleeper) == server.process.pid  # the server is the subreaper


def test_stubborn_processes_are_killed_after_the_default_grace(tmp_path: Path) -> None:
    """Defaults (grace 8 s): a process ignoring SIGTERM and SIGHUP still ends in time."""
    with jupyter_server(tmp_path) as server:
        terminal = server.terminal()
        terminal.type(
            "setsid bash -c 'trap \"\" TERM HUP INT; sleep 1004' </dev/null "
            ">/dev/null 2>&1 & echo ok-$((6*7))"
        )
        terminal.wait_for("ok-42")
        wait_until(lambda: "1004" in _sleepers(server), 20, "stubborn process started")
        server.process.send_signal(signal.SIGTERM)
        wait_all_gone(server, JOB_DEADLINE)
        assert "killing" in server.log()


def _argv(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]
    except OSError:
        return []


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _sleepers(server) -> set[str]:
    return {
        argv[1]
        for argv in map(_argv, marked_processes(server.mark))
        if len(argv) == 2 and argv[0] == "sleep"
    }


def test_broken_site_config_still_ends_everything(tmp_path: Path) -> None:
    with jupyter_server(tmp_path, "[shutdown]\ngrace_seconds = 'soon'\n") as server:
        terminal = server.terminal()
        terminal.type("setsid sleep 1007 </dev/null >/dev/null 2>&1 & echo ok-$((6*7))")
        terminal.wait_for("ok-42")
        server.process.send_signal(signal.SIGTERM)
        wait_all_gone(server, JOB_DEADLINE)
        assert "grace_seconds: must be an integer (using the defaults" in server.log()
