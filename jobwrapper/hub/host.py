"""What the spawner's parts need from the class that hosts them.

JobwrapperSpawner is made of parts (jobcontrol.JobControl, connect.ConnectToJob,
socketmode.SocketMode, stopreason.StopReasons, formhooks.FormDefaults) over
batchspawner's CondorSpawner. Each part's methods are written against this Protocol
instead of `self: Any`, so a reader (and a type checker) sees which attributes and
methods of the host a part relies on, and where they come from.
"""

from __future__ import annotations

import logging
from typing import Any, Optional, Protocol


class SpawnerHost(Protocol):
    """The host class's surface used by the parts (JobwrapperSpawner provides it)."""

    # JupyterHub's Spawner
    user: Any
    hub: Any
    name: str
    log: logging.Logger | logging.LoggerAdapter
    api_token: str
    _log_name: str

    # batchspawner's BatchSpawnerBase / CondorSpawner
    job_id: str
    job_status: str
    batch_system_name: str
    exec_prefix: str
    batch_submit_cmd: str
    batch_query_cmd: str
    batch_cancel_cmd: str

    def get_req_subvars(self) -> dict[str, Any]: ...
    def parse_job_id(self, output: str) -> str: ...
    def state_isrunning(self) -> bool: ...
    def state_ispending(self) -> bool: ...
    def state_gethost(self) -> str: ...

    # JobwrapperSpawner (spawner.py)
    batch_env_keep: list[str]
    secrets_helper_cmd: list[str]
    connect_to_job_cmd: str
    connect_to_job_exec_prefix: Optional[str]
    connect_to_job_startup_check: float
    connect_to_job_ready_timeout: float
    connect_to_job_retry_interval: float
    connect_to_job_port_attempts: int
    remote_port: int
    local_port: int
    job_host: str
    tunnel_pid: int
    _tunnel: Any
    _starting: bool
    _port_reported: Any

    @property
    def tunnelled(self) -> bool: ...
    @property
    def job_dir(self) -> str: ...
    def secrets_json(self, secret: dict[str, str]) -> str: ...
    def save_state(self) -> None: ...
    def _event(self, progress: int, message: str) -> None: ...

    # jobcontrol.JobControl
    batch_query_all_cmd: str
    batch_query_all_exec_prefix: str
    batch_query_min_interval: float
    batch_hold_reason_cmd: str

    def batch_env(self) -> dict[str, str]: ...
    def command_fields(self) -> dict[str, Any]: ...
    def queue_watcher(self) -> Any: ...
    def job_gone_message(self, when: str, hold_reason: str = "") -> str: ...
    async def run_batch(self, template: str | list[str], stdin: str | None = None) -> str: ...
    async def query_queue(self) -> str: ...
    async def hold_reason(self) -> str: ...

    # connect.ConnectToJob and socketmode.SocketMode
    hub_socket: str
    job_socket: str
    socket_dir: str
    socket_hub_id: str
    server_mode: str
    connect_to_job_socket_cmd: str
    proxy_version_cmd: list[str]

    def tunnel_argv(self, local_port: int) -> list[str]: ...
    def tunnel_failed_message(self, exited: Any, fixed_port: int) -> str: ...
    def mode_decision(self) -> tuple[str, str]: ...
    def hub_socket_path(self) -> str: ...
    def prepare_socket_dir(self, path: str) -> None: ...
    @property
    def socket_mode(self) -> bool: ...
    async def connect(self, fixed_port: int) -> None: ...
    async def connect_socket(self) -> None: ...
    async def wait_for_port(self, port: int, wait: float = 5.0) -> None: ...

    # stopreason.StopReasons
    last_stop_reason: str
    last_stop_time: str

    def forget_stop_reason(self) -> None: ...
