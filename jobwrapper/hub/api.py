"""The job's callback, `POST /hub/api/batchspawner`: a port, a socket path or an end.

batchspawner's own handler sets any spawner attribute named in the request body, with
the token every job holds (issue 5: `exec_prefix`, `batch_query_cmd`, ... became
commands the hub ran as root). This handler accepts exactly `{"port": N}`, N an
integer from 1 to 65535, or in socket mode exactly `{"socket": PATH}`, or
`{"ended": REASON}` with one of the contract's reasons (jobwrapper/protocol.py, which
also defines the optional "protocol" version field), PATH shaped like
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
from jupyterhub.apihandlers import APIHandler
from tornado import web

from jobwrapper import compat
from jobwrapper.protocol import (
    PROTOCOL_HEADER,
    REPORT_PATH,
    RUNTIME_PATH,
    Ended,
    ReportError,
    parse_report,
    parse_runtime_request,
    parse_version,
)

ROUTE = r"/api" + REPORT_PATH
RUNTIME_ROUTE = r"/api" + RUNTIME_PATH

PortError = ReportError  # the name the tests and older code use


def parse_port_report(body: Any) -> int:
    """The port from a job's report, or PortError (a socket path or an end is refused)."""
    report = parse_report(body)
    if not isinstance(report, int):
        raise PortError("only the field 'port' is accepted here")
    return report


def spawner_for_token(user: Any, token: str | None) -> Any | None:
    """The spawner of `user` whose own API token is `token`, else None."""
    if not token:
        return None
    for spawner in getattr(user, "spawners", {}).values():
        own = getattr(spawner, "api_token", "") or ""
        if own and hmac.compare_digest(own.encode(), token.encode()):
            return spawner
    return None


def spawner_of_server_token(handler: Any) -> Any | None:
    """After a hub restart a spawner no longer holds its server's token in clear;
    JupyterHub's own record of the request's token names the server it was made for
    (note "Server at BASE_URL"): that spawner of the token's user, else None."""
    note = str(getattr(handler.get_token(), "note", "") or "")
    for spawner in getattr(handler.current_user, "spawners", {}).values():
        server = getattr(spawner, "server", None)
        if server is not None and note == f"Server at {server.base_url}":
            return spawner
    return None


class PortReportHandler(APIHandler):
    """Receives `{"port": N}` or `{"socket": PATH}` from the notebook job; sets nothing else."""

    @web.authenticated
    def post(self) -> None:
        """Validate, then hand the port (`receive_port`, else `.port`) or the socket path
        (`receive_socket`) to the spawner."""
        spawner = (spawner_for_token(self.current_user, self.get_auth_token())
                   or spawner_of_server_token(self))  # e.g. an end report after a restart
        if spawner is None:
            raise web.HTTPError(403, "only the notebook server's own token may report its port")
        try:
            version = parse_version(self.request.headers.get(PROTOCOL_HEADER))
            address = parse_report(self.get_json_body(), version)
            received = self._hand_over(spawner, address)
        except (PortError, ValueError) as error:
            self.log.warning("Refused port report for %s: %s", spawner._log_name, error)
            raise web.HTTPError(400, str(error)) from None
        if not received:
            raise web.HTTPError(409, "this server is not waiting for this report")
        self.set_status(201)
        self.finish(json.dumps({"message": "report received"}))

    @staticmethod
    def _hand_over(spawner: Any, address: int | str | Ended) -> bool:
        """False when the spawner is not waiting; ValueError for the wrong kind."""
        if isinstance(address, Ended):
            receive_end = getattr(spawner, "receive_end", None)
            return bool(receive_end and receive_end(address.reason))
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


class RuntimeRequestHandler(APIHandler):
    """Receives exactly `{"runtime_hours": N}` from a running notebook job (its server's
    own token): the new total runtime, checked against the user's maximum and set with
    `condor_qedit -forward` as the user (site/sessiontime.py). Answers
    `{"runtime_seconds": S}`; 400 with the reason when refused, 403 for another token."""

    @web.authenticated
    async def post(self) -> None:
        from jobwrapper.hub.site.sessiontime import MoreTimeRefused, extend_runtime

        spawner = (spawner_for_token(self.current_user, self.get_auth_token())
                   or spawner_of_server_token(self))
        if spawner is None:
            raise web.HTTPError(403, "only the notebook server's own token may ask for time")
        try:
            hours = parse_runtime_request(self.get_json_body())
            seconds = await extend_runtime(spawner, hours)
        except (ReportError, MoreTimeRefused) as error:
            self.log.warning("Refused more time for %s: %s", spawner._log_name, error)
            raise web.HTTPError(400, str(error)) from None
        self.finish(json.dumps({"runtime_seconds": seconds}))


def install(handlers: list | None = None) -> None:
    """Make PortReportHandler the only handler of the route (idempotent)."""
    compat.replace_api_route(ROUTE, PortReportHandler, handlers)


def install_runtime_route(handlers: list | None = None) -> None:
    """Add RuntimeRequestHandler as the only handler of its route (idempotent)."""
    compat.replace_api_route(RUNTIME_ROUTE, RuntimeRequestHandler, handlers)


install()
install_runtime_route()
