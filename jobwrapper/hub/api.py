"""The job's callback, `POST /hub/api/batchspawner`: a port and nothing else.

batchspawner's own handler sets any spawner attribute named in the request body, with
the token every job holds (issue 5: `exec_prefix`, `batch_query_cmd`, ... became
commands the hub ran as root). This handler accepts exactly `{"port": N}`, N an
integer from 1 to 65535, authenticated by that server's own API token; anything else
is refused with 400 (403 for another token) and the spawner is left unchanged.

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

ROUTE = r"/api/batchspawner"


class PortError(ValueError):
    """The request body is not exactly `{"port": <1..65535>}`."""


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
    """Receives `{"port": N}` from the notebook job; sets nothing else."""

    @web.authenticated
    def post(self) -> None:
        """Validate, then hand the port to the spawner (`receive_port`, else `.port`)."""
        spawner = spawner_for_token(self.current_user, self.get_auth_token())
        if spawner is None:
            raise web.HTTPError(403, "only the notebook server's own token may report its port")
        try:
            port = parse_port_report(self.get_json_body())
        except PortError as error:
            self.log.warning("Refused port report for %s: %s", spawner._log_name, error)
            raise web.HTTPError(400, str(error)) from None
        receive = getattr(spawner, "receive_port", None)
        if receive is not None:
            if not receive(port):
                raise web.HTTPError(409, "this server is not waiting for a port")
        else:
            spawner.port = port
        self.set_status(201)
        self.finish(json.dumps({"message": "port received"}))


def install(handlers: list | None = None) -> None:
    """Make PortReportHandler the only handler of the route (idempotent)."""
    if handlers is None:
        handlers = apihandlers.default_handlers
    handlers[:] = [entry for entry in handlers if entry[0] != ROUTE]
    handlers.append((ROUTE, PortReportHandler))


install()
