"""Connecting to the job: the spawner's side of connect_to_job_cmd (a mixin).

`connect()` starts the tunnel with its startup check and retries what is worth a retry:
condor_ssh_to_job's "use -auto-retry" for the first seconds of a job, and a hub-side
port that another program took between our bind-and-close and ssh's bind (only when the
port is ours to choose). `reconnect()` is the hub-restart path: the same hub port,
because the proxy's route still points there; if it is taken, the user is told.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .tunnel import (
    AdoptedTunnel,
    Tunnel,
    TunnelError,
    TunnelExited,
    format_command,
    forward_accepts,
    free_port,
    port_is_free,
    tunnel_still_running,
    uses_rport,
)

if TYPE_CHECKING:  # the class that hosts this part (hub/host.py)
    from ..host import SpawnerHost


RETRY_GROWTH = 1.5  # connect-to-job retries: each interval this much longer ...
RETRY_CAP = 1.0  # ... up to this many seconds


class ConnectToJob:
    """The tunnel of one spawner (mixed into JobwrapperSpawner)."""

    # Socket mode (socketmode.py): the hub-side and job-side sockets; "" in TCP mode.
    hub_socket = ""
    job_socket = ""

    def tunnel_argv(self: SpawnerHost, local_port: int) -> list[str]:
        """The connect-to-job argv (exec prefix included) for hub port `local_port`."""
        fields: dict[str, Any] = dict(self.get_req_subvars())
        fields.update(job_id=self.job_id, host=self.job_host, rport=self.remote_port,
                      hub_socket=self.hub_socket, job_socket=self.job_socket)
        fields["port"] = local_port if uses_rport(self.connect_to_job_cmd) else self.remote_port
        prefix = self.connect_to_job_exec_prefix
        if prefix is None:
            prefix = self.exec_prefix
        command = self.connect_to_job_socket_cmd if self.hub_socket else self.connect_to_job_cmd
        return format_command(prefix, fields) + format_command(command, fields)

    async def connect(self: SpawnerHost, fixed_port: int) -> None:
        """Start the tunnel; a taken port is retried with a new one unless it is fixed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.connect_to_job_ready_timeout
        port_attempts = 0
        retry = self.connect_to_job_retry_interval
        while True:
            local_port = 0
            if uses_rport(self.connect_to_job_cmd) and not self.hub_socket:
                local_port = fixed_port or free_port()
            tunnel = Tunnel(
                self.tunnel_argv(local_port), self.batch_env(), self.log, [self.api_token]
            )
            try:
                await tunnel.start(self.connect_to_job_startup_check,
                                   self._forward_check(local_port),
                                   max(deadline - loop.time(), 0.0))
            except TunnelExited as exited:
                if exited.not_ready and loop.time() < deadline:
                    self.log.info("%s: job %s cannot be reached yet, the connect-to-job "
                                  "command says: %s; retrying in %g s",
                                  self._log_name, self.job_id, exited.stderr, retry)
                    await asyncio.sleep(retry)
                    # x1.5 up to 1 s: the schedd is asked about half as often by many
                    # spawns at once, and a spawn waits at most 1 s longer than needed
                    retry = min(retry * RETRY_GROWTH, max(RETRY_CAP, retry))
                    continue
                if exited.port_taken and not fixed_port:
                    port_attempts += 1
                    if port_attempts < self.connect_to_job_port_attempts:
                        self.log.info("Hub port %s was taken meanwhile; trying another", local_port)
                        continue
                raise TunnelError(self.tunnel_failed_message(exited, fixed_port)) from None
            self._tunnel, self.local_port, self.tunnel_pid = tunnel, local_port, tunnel.pid or 0
            return

    def _forward_check(self: SpawnerHost, local_port: int) -> Callable[[], bool] | None:
        """The check that the tunnel's hub side is up: its socket or hub port accepts
        connections. None (the startup check instead) when the command names no hub
        side of its own (no {rport}), or when something listens there already: then it
        is not the new tunnel's, and ssh says so when it cannot listen itself."""
        hub_socket = self.hub_socket
        if not (hub_socket or local_port) or forward_accepts(local_port, hub_socket):
            return None
        return functools.partial(forward_accepts, local_port, hub_socket)

    def tunnel_failed_message(self: SpawnerHost, exited: TunnelExited, fixed_port: int) -> str:
        """Why the tunnel failed, in words for the user."""
        if exited.port_taken and fixed_port:
            return (
                f"Hub port {fixed_port}, where the proxy sends this notebook's traffic, is "
                "taken by another program, so the connection to your job could not be "
                "re-created. Stop and start your server."
            )
        if exited.not_ready:
            return (
                f"Job {self.job_id} runs, but the hub could not reach it with "
                f"condor_ssh_to_job within {self.connect_to_job_ready_timeout:.0f} s."
            )
        return f"The connection to job {self.job_id} failed: {exited.stderr}"

    async def reconnect(self: SpawnerHost) -> None:
        """After a hub restart: the tunnel on the hub port the proxy still uses.

        The previous hub's tunnel is adopted if it still runs; else a new one is
        started on the same port (waiting briefly for a dying one to free it).
        """
        port = self.local_port
        if self.tunnel_pid and tunnel_still_running(self.tunnel_pid, port, self.job_id,
                                                    self.hub_socket):
            self._tunnel = AdoptedTunnel(self.tunnel_pid, self.log)
            self.log.info(
                "%s: adopted the previous hub's tunnel %s to job %s on hub %s",
                self._log_name,
                self.tunnel_pid,
                self.job_id,
                f"socket {self.hub_socket}" if self.hub_socket else f"port {port}",
            )
            return
        if self.hub_socket:
            await self.connect_socket()  # ssh replaces the dead tunnel's socket file
        else:
            if port:
                await self.wait_for_port(port)
            await self.connect(fixed_port=port)
        self.save_state()
        self.log.info(
            "%s: re-created the tunnel to job %s on hub %s", self._log_name, self.job_id,
            f"socket {self.hub_socket}" if self.hub_socket else f"port {port}",
        )

    async def end_tunnel(self: SpawnerHost) -> None:
        """Stop this spawner's tunnel, if any."""
        if self._tunnel is not None:
            await self._tunnel.stop()

    async def wait_for_port(self: SpawnerHost, port: int, wait: float = 5.0) -> None:
        """Give a dying tunnel on `port` a few seconds to free it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while loop.time() < deadline and not port_is_free(port):
            await asyncio.sleep(0.2)
