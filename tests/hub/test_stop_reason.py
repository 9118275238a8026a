"""Why a running server stopped: kept in the spawner's state until the next start."""

from __future__ import annotations

import asyncio
import re
from types import SimpleNamespace

from batchspawner import JobStatus
from markupsafe import Markup

from jobwrapper.hub.spawner import JobwrapperSpawner
from jobwrapper.hub.stopreason import MAX_LENGTH, stop_reason_announcement

from .test_spawner_unit import TOKEN, _make, make_spawner

HELD = ("Your notebook job 7 stopped while running: HTCondor put it on hold. Its output "
        "and log are in ~/.jupyterhub-condor/default/ (job.out, job.err, job.log).")


def stopped_spawner(reason: str = HELD) -> JobwrapperSpawner:
    spawner = make_spawner()
    spawner.job_id, spawner.remote_port = "7", 8888
    spawner.record_stop_reason(reason)
    return spawner


def test_the_reason_survives_the_state_round_trip_of_a_new_spawner():
    restored = make_spawner()
    restored.load_state(stopped_spawner().get_state())
    assert restored.last_stop_reason == HELD
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", restored.last_stop_time)


def test_clear_state_forgets_the_job_but_keeps_the_reason():
    spawner = stopped_spawner()
    spawner.clear_state()  # what JupyterHub does after the stop, before saving get_state()
    assert spawner.get_state() == {
        "stop_reason": {"reason": HELD, "time": spawner.last_stop_time}
    }


def test_a_successful_start_forgets_the_reason():
    spawner = stopped_spawner()
    spawner.clear_state()  # JupyterHub clears the state at the beginning of every spawn
    spawner.poll_interval = 0  # start_polling() then starts no periodic callback
    spawner.start_polling()  # JupyterHub calls it once start() has succeeded
    assert spawner.last_stop_reason == ""
    assert "stop_reason" not in spawner.get_state()


def test_no_reason_adds_nothing_to_the_state():
    assert "stop_reason" not in make_spawner().get_state()


def test_a_damaged_stored_reason_is_ignored():
    for broken in ({"stop_reason": "text"}, {"stop_reason": {"reason": 5}},
                   {"stop_reason": None}):
        spawner = make_spawner()
        spawner.load_state(broken)
        assert spawner.stop_reason_notice() == ""


def test_the_reason_is_one_line_without_the_token_and_not_too_long():
    spawner = stopped_spawner(f"The connection to job 7 ended (bad\n{TOKEN}\x1b[31m "
                              + "x" * 5000 + ")")
    assert "\n" not in spawner.last_stop_reason and "\x1b" not in spawner.last_stop_reason
    assert TOKEN not in spawner.last_stop_reason
    assert spawner.last_stop_reason.startswith("The connection to job 7 ended (bad [secret] ")
    assert len(spawner.last_stop_reason) == MAX_LENGTH


def test_the_notice_says_when_and_why():
    spawner = stopped_spawner()
    spawner.last_stop_time = "2026-11-22T07:15:07Z"
    assert spawner.stop_reason_notice() == (
        f"Your previous notebook server ended on 2026-11-22 at 07:15 UTC. {HELD}"
    )


class GoneJobSpawner(JobwrapperSpawner):
    """poll() against a queue that says the job is held; no batch command runs."""

    async def query_job_status(self):
        self.job_status = "5, node7"
        return JobStatus.NOTFOUND  # poll() treats every status but running alike

    async def remove_job_quietly(self):
        pass

    async def end_tunnel(self):
        pass

    async def remove_secrets(self):
        pass


def test_poll_records_why_the_job_is_gone_and_the_hubs_stop_keeps_it():
    spawner = _make(GoneJobSpawner)
    spawner.job_id = "7"
    assert asyncio.run(spawner.poll()) == 1
    spawner.clear_state()  # User.stop() after the poll callback
    restored = make_spawner()
    restored.load_state(spawner.get_state())
    assert restored.last_stop_reason == HELD


# ---- the announcement for c.JupyterHub.template_vars ------------------------------


def user_with(**servers: dict) -> SimpleNamespace:
    spawners = {name: SimpleNamespace(state=state, server=state.pop("running", None))
                for name, state in servers.items()}
    return SimpleNamespace(name="alice", orm_spawners=spawners)


def test_the_announcement_is_escaped_html_naming_each_server():
    state = {"stop_reason": {"reason": "<script>alert(1)</script>", "time": ""}}
    html = stop_reason_announcement(user_with(**{"": dict(state), "gpu": dict(state)}))
    assert isinstance(html, Markup)
    assert "<script>" not in html
    assert html == (
        "Your previous notebook server ended. &lt;script&gt;alert(1)&lt;/script&gt;<br>"
        "Your previous notebook server &#39;gpu&#39; ended. "
        "&lt;script&gt;alert(1)&lt;/script&gt;"
    )


def test_the_announcement_is_empty_without_a_user_a_reason_or_for_a_running_server():
    running = {"stop_reason": {"reason": "old", "time": ""}, "running": object()}
    assert stop_reason_announcement(None) == ""
    assert stop_reason_announcement(user_with(**{"": {}})) == ""
    assert stop_reason_announcement(user_with(**{"": running})) == ""


def test_the_announcement_never_breaks_a_page():
    class Broken:
        name = "alice"

        @property
        def orm_spawners(self):
            raise RuntimeError("database gone")

    assert stop_reason_announcement(Broken()) == ""


def _held(command: str) -> JobwrapperSpawner:
    spawner = make_spawner(exec_prefix="", batch_hold_reason_cmd=command)
    spawner.job_id, spawner.job_status = "7", "5, "
    return spawner


def test_a_held_job_is_explained_with_htcondors_hold_reason():
    spawner = _held("/bin/echo 'Error from slot1_1@wn1: Job has gone over memory limit'")
    assert asyncio.run(spawner.explain_gone("while running")).startswith(
        "Your notebook job 7 stopped while running: HTCondor put it on hold (Error from "
        "slot1_1@wn1: Job has gone over memory limit). Its output")


def test_without_a_hold_reason_the_message_stays_as_before():
    assert asyncio.run(_held("/bin/echo undefined").explain_gone("while running")) == HELD
    assert asyncio.run(_held("/bin/false").explain_gone("while running")) == HELD
