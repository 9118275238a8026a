"""JobwrapperSpawner without a hub: the job's environment and its submit description."""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from jobwrapper.hub.jobcontrol import SpawnFailed
from jobwrapper.hub.spawner import JobwrapperSpawner
from jobwrapper.localpool.ads.quoting import split_v2, strip_new_syntax

TOKEN = "t0ken-abc123"


def _make(cls: type, **traits) -> JobwrapperSpawner:
    user = SimpleNamespace(name="root", escaped_name="root", url="/user/root/")
    hub = SimpleNamespace(
        public_host="", api_url="http://127.0.0.1:8081/hub/api/", base_url="/hub/"
    )
    spawner = cls(user=user, hub=hub, **traits)
    spawner.api_token = TOKEN
    spawner.oauth_client_id = "jupyterhub-user-root"
    return spawner


make_spawner = functools.partial(_make, JobwrapperSpawner)


def submit_value(description: str, command: str) -> str:
    for line in description.splitlines():
        name, _, value = line.partition("=")
        if name.strip().lower() == command:
            return value.strip()
    raise AssertionError(f"{command} not in the description")


def test_secret_variables_leave_the_environment_and_public_ones_are_allow_listed():
    spawner = make_spawner(
        environment={"SITE_SETTING": "on", "TOKEN_URL": lambda s: f"http://x/?t={s.api_token}"},
        env_keep=["PATH"],
    )
    public, secret = spawner._job_environment()
    assert set(secret) == {"JUPYTERHUB_API_TOKEN", "JPY_API_TOKEN", "TOKEN_URL"}
    assert public["SITE_SETTING"] == "on"
    assert public["JOBWRAPPER_HUB_SECRETS"] == ".jobwrapper-hub-secrets.json"
    assert "PATH" not in public and "HOME" not in public and "USER" not in public
    assert all(TOKEN not in value for value in public.values())


def test_direct_mode_tells_the_job_to_bind_direct():
    public, _ = make_spawner(connect_to_job_cmd="")._job_environment()
    assert public["JOBWRAPPER_SERVER_BIND"] == "direct"


def test_tunnel_mode_tells_the_job_to_bind_loopback():
    public, _ = make_spawner()._job_environment()
    assert public["JOBWRAPPER_SERVER_BIND"] == "loopback"


def test_the_bind_reaches_the_submit_environment_whatever_the_allow_list():
    spawner = make_spawner(connect_to_job_cmd="", job_environment_allow=[])
    public, _ = spawner._job_environment()
    environment = submit_value(spawner._submit_description(public), "environment")
    assert "JOBWRAPPER_SERVER_BIND='direct'" in environment


def test_submit_description_has_no_token_and_passes_server_args_after_a_separator():
    spawner = make_spawner(args=["--ServerApp.some_option=1"])
    public, _ = spawner._job_environment()
    description = spawner._submit_description(public)
    assert TOKEN not in description
    arguments = split_v2(strip_new_syntax(submit_value(description, "arguments")))
    assert arguments == ["singleuser", "--", "--ServerApp.some_option=1"]
    assert submit_value(description, "initialdir") == "/root/.jupyterhub-condor/default"


def test_form_options_become_submit_lines():
    spawner = make_spawner()
    spawner.user_options = {"cpus": 2, "memory_mb": 4096}
    description = spawner._submit_description({})
    assert "request_cpus = 2\nrequest_memory = 4096\n" in description


def test_keep_claim_idle_adds_its_attribute_after_the_users_options():
    spawner = make_spawner(keep_claim_idle=120)
    spawner.user_options = {"cpus": 2}
    description = spawner._submit_description({})
    assert description.endswith("request_cpus = 2\nrequest_memory = 2048\n"
                                "+KeepClaimIdle = 120\nqueue\n")


def test_a_negative_keep_claim_idle_is_refused_in_one_line_naming_it():
    from traitlets import TraitError

    with pytest.raises(TraitError) as refused:
        make_spawner(keep_claim_idle=-1)
    assert "'keep_claim_idle'" in str(refused.value) and "\n" not in str(refused.value)


def test_without_keep_claim_idle_the_description_keeps_no_claim():
    assert "KeepClaimIdle" not in make_spawner()._submit_description({})


def test_bad_options_fail_with_a_message_for_the_user():
    spawner = make_spawner()
    spawner.user_options = {"cpus": "2; getenv = true"}
    with pytest.raises(SpawnFailed, match="could not be described: option cpus"):
        spawner._submit_description({})


def test_a_replaced_mapping_cannot_set_what_the_template_owns():
    spawner = make_spawner(options_to_submit_lines=lambda options: ["getenv = True"])
    with pytest.raises(SpawnFailed, match="getenv"):
        spawner._submit_description({})


def test_the_port_is_taken_only_while_starting_and_only_once():
    spawner = make_spawner()
    assert spawner.receive_port(8888) is False  # not starting
    spawner._starting = True
    assert spawner.receive_port(8888) is True
    assert spawner.receive_port(9999) is False
    assert spawner.remote_port == 8888


def test_state_round_trips_what_a_restart_needs():
    spawner = make_spawner()
    spawner.job_id, spawner.remote_port, spawner.local_port = "12", 8888, 40000
    spawner.job_host, spawner.tunnel_pid = "node1", 4242
    restored = make_spawner()
    restored.load_state(spawner.get_state())
    assert (restored.job_id, restored.remote_port, restored.local_port) == ("12", 8888, 40000)
    assert (restored.job_host, restored.tunnel_pid) == ("node1", 4242)
    restored.clear_state()
    assert restored.get_state() == {}


class ScriptedSpawner(JobwrapperSpawner):
    """start() against a scripted queue: idle once, then running on node7."""

    def __init__(self, **traits) -> None:
        super().__init__(**traits)
        self.statuses = ["1, ", "2, slot1_1@node7"]

    async def write_secrets(self, secret):
        self.secret = secret

    async def submit_job(self, description):
        self.job_id = "5"
        return self.job_id

    async def query_job_status(self):
        from batchspawner import JobStatus

        self.job_status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return JobStatus.PENDING if self.job_status.startswith("1,") else JobStatus.RUNNING


def scripted(**traits) -> ScriptedSpawner:
    spawner = _make(ScriptedSpawner, **traits)
    spawner.startup_poll_interval = 0.01
    return spawner


def start_with_port_report(spawner: JobwrapperSpawner, port: int):
    return start_reported_within(spawner, port, 120)


def test_direct_mode_returns_the_execute_host_and_the_servers_port():
    spawner = scripted(connect_to_job_cmd="")
    assert start_with_port_report(spawner, 8888) == ("node7", 8888)
    messages = [event["message"] for event in spawner._events]
    assert messages[:3] == [
        "Submitted job 5 to the HTCondor pool.",
        "Job 5 is idle in the queue, waiting for a free slot.",
        "Job 5 is running on node7.",
    ]
    assert set(spawner.secret) == {"JUPYTERHUB_API_TOKEN", "JPY_API_TOKEN"}


def test_tunnel_mode_returns_the_hub_side_port_on_localhost():
    fake = Path(__file__).with_name("fake_connect.py")
    spawner = scripted(
        connect_to_job_cmd=f"{sys.executable} {fake} listen {{port}} {{rport}} {{job_id}}",
        exec_prefix="",
        connect_to_job_startup_check=0.3,
    )
    ip, port = start_with_port_report(spawner, 8888)
    assert (ip, port) == ("127.0.0.1", spawner.local_port) and port != 8888
    assert spawner._events[-1]["message"] == f"Tunnel up: hub port {port} leads to the job."
    assert spawner.get_state()["remote_port"] == 8888



def start_reported_within(spawner: JobwrapperSpawner, port: int, seconds: float):
    """start() with the port reported at once; TimeoutError if it takes `seconds`."""
    async def scenario():
        async def report():
            while not spawner.job_id:
                await asyncio.sleep(0.01)
            assert spawner.receive_port(port)

        reporter = asyncio.ensure_future(report())
        try:
            return await asyncio.wait_for(spawner.start(), seconds)
        finally:
            await reporter
            await spawner.end_tunnel()

    return asyncio.run(scenario())


def test_a_port_report_ends_the_wait_for_running_before_the_next_query():
    fake = Path(__file__).with_name("fake_connect.py")
    spawner = scripted(
        connect_to_job_cmd=f"{sys.executable} {fake} listen {{port}} {{rport}} {{job_id}}",
        exec_prefix="",
    )
    spawner.statuses = ["1, "]  # the queue never says Running: only the report can end it
    spawner.startup_poll_interval = 600.0
    ip, port = start_reported_within(spawner, 8888, 60)
    assert (ip, port) == ("127.0.0.1", spawner.local_port)


def test_a_tunnelled_report_before_the_queue_says_running_logs_no_error(caplog):
    # batchspawner's state_gethost logs an ERROR for a status without a host: at 1,000
    # users 538 such lines said nothing was wrong
    fake = Path(__file__).with_name("fake_connect.py")
    spawner = scripted(
        connect_to_job_cmd=f"{sys.executable} {fake} listen {{port}} {{rport}} {{job_id}}",
        exec_prefix="",
    )
    spawner.statuses = ["1, "]
    spawner.startup_poll_interval = 600.0
    start_reported_within(spawner, 8888, 60)
    assert [record.getMessage() for record in caplog.records
            if record.levelno >= logging.ERROR] == []
    assert "Job 5 is running on an execute node." in [
        event["message"] for event in spawner._events]


def test_in_direct_mode_a_port_report_asks_the_queue_for_the_host_once():
    spawner = scripted(connect_to_job_cmd="")
    spawner.startup_poll_interval = 600.0
    assert start_reported_within(spawner, 8888, 60) == ("node7", 8888)


def test_the_jobs_signal_report_during_the_hubs_own_stop_is_taken_without_action():
    spawner = make_spawner()
    spawner.job_id = "5"
    spawner._stop_pending = True
    assert spawner.receive_end("signal")
    assert not spawner.receive_end("idle")  # an end of its own is not what the stop caused
    assert not spawner._server_end
