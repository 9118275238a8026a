"""The job's callback, `POST /hub/api/batchspawner`: a port or a socket path, nothing else.

batchspawner's own handler sets any spawner attribute named in the request body, with
the token every job holds (issue 5: `exec_prefix`, `batch_query_cmd`, ... became
commands the hub ran as root). This handler accepts exactly `{"port": N}`, N an
integer from 1 to 65535, or in socket mode exactly `{"socket": PATH}`, PATH shaped like
`/…/.jobwrapper/sockets/server.sock` (jobwrapper/socketpath.py: absolute, normalized,
lower-case, at most 107 bytes; the hub never opens it, it is only the remote end of the
forward), authenticated by that server's own API token; anything else, and the kind
the server's mode does not expect, is refused with 400 (403 for another token) and the
spawner is left unchanged.

Importing this module replaces batchspawner's handler in JupyterHub's API handler list
(importing batchspawner first, so its registration cannot come later and win).
"""

from __future__ import annotations

import hmac
import json
from typing import Any

import batchspawner.api  # noqa: F401  (registers its handler; we then replace it)
from jupyterhub import apihandlers
from jupyterhub.apihandlers import APIHandler
from tornado import web

from jobwrapper.socketpath import job_socket_problem

ROUTE = r"/api/batchspawner"


class PortError(ValueError):
    """The request body is not exactly `{"port": <1..65535>}` or `{"socket": <path>}`."""


def parse_port_report(body: Any) -> int:
    """The port from a job's report, or PortError: one field, an int in 1..65535."""
    if not isinstance(body, dict):
        raise PortError('the body must be a JSON object: {"port": N}')
    if set(body) != {"port"}:
        extra = sorted(str(key) for key in set(body) - {"port"})
        raise PortError(f"only the field 'port' is accepted; refused: {', '.join(extra) or 'none'}")
    port = body["port"]
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise PortError("port must be an integer from 1 to 65535")
    return port


def parse_report(body: Any) -> int | str:
    """The port (int) or socket path (str) from a job's report, or PortError."""
    if isinstance(body, dict) and set(body) == {"socket"}:
        problem = job_socket_problem(body["socket"])
        if problem:
            raise PortError(problem)
        return body["socket"]
    if isinstance(body, dict) and "socket" in body:
        raise PortError("exactly one of 'port' or 'socket' is accepted")
    return parse_port_report(body)


def spawner_for_token(user: Any, token: str | None) -> Any | None:
    """The spawner of `user` whose own API token is `token`, else None."""
    if not token:
        return None
    for spawner in getattr(user, "spawners", {}).values():
        own = getattr(spawner, "api_token", "") or ""
        if own and hmac.compare_digest(own.encode(), token.encode()):
            return spawner
    return None


class PortReportHandler(APIHandler):
    """Receives `{"port": N}` or `{"socket": PATH}` from the notebook job; sets nothing else."""

    @web.authenticated
    def post(self) -> None:
        """Validate, then hand the port (`receive_port`, else `.port`) or the socket path
        (`receive_socket`) to the spawner."""
        spawner = spawner_for_token(self.current_user, self.get_auth_token())
        if spawner is None:
            raise web.HTTPError(403, "only the notebook server's own token may report its port")
        try:
            address = parse_report(self.get_json_body())
            received = self._hand_over(spawner, address)
        except (PortError, ValueError) as error:
            self.log.warning("Refused port report for %s: %s", spawner._log_name, error)
            raise web.HTTPError(400, str(error)) from None
        if not received:
            raise web.HTTPError(409, "this server is not waiting for a port")
        self.set_status(201)
        self.finish(json.dumps({"message": "port received"}))

    @staticmethod
    def _hand_over(spawner: Any, address: int | str) -> bool:
        """False when the spawner is not waiting; ValueError for the wrong kind."""
        if isinstance(address, str):
            receive = getattr(spawner, "receive_socket", None)
            if receive is None:
                raise PortError("this server does not take a socket path")
            return bool(receive(address))
        receive = getattr(spawner, "receive_port", None)
        if receive is None:
            spawner.port = address
            return True
        return bool(receive(address))


def install(handlers: list | None = None) -> None:
    """Make PortReportHandler the only handler of the route (idempotent)."""
    if handlers is None:
        handlers = apihandlers.default_handlers
    handlers[:] = [entry for entry in handlers if entry[0] != ROUTE]
    handlers.append((ROUTE, PortReportHandler))


install()
