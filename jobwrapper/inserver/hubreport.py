"""Jupyter-server extension: serve on the socket jobwrapper bound, report its port.

batchspawner's ``batchspawner-singleuser`` binds a port, closes it, reports it and
lets the server bind it again; anything can take the port in between. jupyter-server
itself does the same with ``--port=0``. jobwrapper instead binds and listens before
it execs the server and leaves the listening socket open across ``exec``; its file
descriptor is named by ``JOBWRAPPER_LISTEN_FD``. This extension hands that socket to
the server's HTTPServer (no second bind, so no race and no silent port change) and,
once the server is serving it, POSTs ``{"port": N}`` to
``$JUPYTERHUB_API_URL/batchspawner`` when ``JOBWRAPPER_HUB_REPORT=1``. In socket mode
the handed-over socket is a unix socket (the server was started with ``--sock``) and
the report is ``{"socket": "<path>"}`` (docs/socket-mode.md).

A report that fails (hub down, HTTP error, timeout) is an error: one line on stderr
and the server exits with code 6, so the hub sees a failed spawn, not silence.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import socket
import ssl
import sys
import urllib.error
import urllib.request
from typing import Any

from jobwrapper.errors import EXIT_SERVER
from jobwrapper.protocol import (
    END_REASONS,
    LISTEN_FD,
    MANIFEST_OUT,
    REPORT,
    REPORT_PATH,
    REPORT_TIMEOUT,
    SYNC_ENV,
    Ended,
    report_body,
    report_headers,
    write_manifest,
)

END_REPORT_TIMEOUT = 5.0  # seconds; the server's end must not wait long for the hub
# The environment the end report needs (the hub's URL, the token, TLS files), kept
# once the port was reported: only a server the hub knows reports its end.
_end_report: dict[str, Any] = {"environ": None, "sent": False}


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "jobwrapper.inserver.hubreport"}]


def _fail(message: str) -> None:
    sys.stderr.write(f"jobwrapper: {message}\n")
    sys.stderr.flush()
    _stop_children()
    os._exit(EXIT_SERVER)  # no kernel or user process exists yet; helpers are stopped


def _stop_children(grace: float = 3.0) -> None:
    """Stop what the server started so far (e.g. JupyterLab's build check runs node)."""
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil comes with jupyter-resource-usage
        return
    children = psutil.Process().children(recursive=True)
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.terminate()
    _, alive = psutil.wait_procs(children, timeout=grace)
    for child in alive:
        with contextlib.suppress(psutil.Error):
            child.kill()


def adopt_socket(fd_text: str) -> socket.socket:
    """The listening socket jobwrapper left open across exec."""
    try:
        sock = socket.socket(fileno=int(fd_text))
        sock.getsockname()
    except (ValueError, OSError) as error:
        raise RuntimeError(f"{LISTEN_FD}={fd_text!r} is not an open socket ({error})") from None
    sock.set_inheritable(False)  # kernels and terminals must not hold it
    sock.setblocking(False)
    return sock


def report_url(environ: dict[str, str]) -> str:
    """Where the port is reported: batchspawner's API handler on the hub."""
    return environ["JUPYTERHUB_API_URL"].rstrip("/") + REPORT_PATH


def listening_address(sock: socket.socket) -> int | str:
    """The port of a TCP socket, or the path of a unix socket."""
    if sock.family == socket.AF_UNIX:
        return str(sock.getsockname())
    return int(sock.getsockname()[1])


async def report_port(port: int | str, environ: dict[str, str], timeout: float) -> None:
    """POST the port (or socket path) to the hub; RuntimeError with a one-line reason."""
    from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

    url = report_url(environ)
    tls = _tls_files(environ)
    ssl: dict[str, Any] = {}
    if tls:
        ssl = {"client_cert": tls[0], "client_key": tls[1], "ca_certs": tls[2]}
    request = HTTPRequest(
        url, method="POST", body=json.dumps(report_body(port)),
        headers=report_headers(environ.get("JUPYTERHUB_API_TOKEN", "")),
        connect_timeout=timeout, request_timeout=timeout, **ssl)
    try:
        await AsyncHTTPClient().fetch(request)
    except HTTPClientError as error:
        if error.code == 599:
            raise RuntimeError(f"no answer from the hub at {url} within {timeout:g} s "
                               "(server.report_timeout)") from None
        raise RuntimeError(f"the hub at {url} refused the port: HTTP {error.code} "
                           f"{error.message or ''}".rstrip()) from None
    except OSError as error:
        raise RuntimeError(f"cannot reach the hub at {url} ({error.strerror or error})") from None


def _load_jupyter_server_extension(serverapp: Any) -> None:
    fd_text = os.environ.pop(LISTEN_FD, "")
    if not fd_text:
        serverapp.log.info("jobwrapper.inserver.hubreport: no socket handed over; nothing to do")
        return
    try:
        sock = adopt_socket(fd_text)
    except RuntimeError as error:
        _fail(f"{error}; start the server with jobwrapper singleuser or jobwrapper lab")
        return
    address = listening_address(sock)
    wants_report = os.environ.pop(REPORT, "") == "1"
    timeout = float(os.environ.pop(REPORT_TIMEOUT, "") or 300)

    def bind() -> bool:  # replaces listen(): the socket is already listening
        serverapp.http_server.add_socket(sock)
        if wants_report:
            serverapp.io_loop.add_callback(_report, serverapp, address, timeout)
        return True

    if isinstance(address, str):
        if serverapp.sock != address:
            _fail(f"the handed-over socket is {address} but the server was started with "
                  f"--ServerApp.sock={serverapp.sock!r}; start it with jobwrapper singleuser")
            return
        serverapp._bind_http_server_unix = bind
        return

    def find_port() -> None:  # replaces the bind-and-close probe
        serverapp.port = address

    serverapp.port = address
    serverapp.port_retries = 0
    serverapp._find_http_port = find_port
    serverapp._bind_http_server_tcp = bind


async def _report(serverapp: Any, address: int | str, timeout: float) -> None:
    what = f"socket {address}" if isinstance(address, str) else f"port {address}"
    try:
        await report_port(address, dict(os.environ), timeout)
    except RuntimeError as error:
        _fail(f"cannot report {what} to the hub: {error}; the server stops")
        return
    serverapp.log.info("jobwrapper.inserver.hubreport: reported %s to the hub", what)
    _end_report["environ"] = dict(os.environ)
    _end_report["root_dir"] = str(getattr(serverapp, "root_dir", "") or "")
    atexit.register(_at_exit)


def _at_exit() -> None:
    """A server that ends without the lifecycle's shutdown (File > Shut Down): record
    what leaves, then tell the hub."""
    record_files_leaving()
    report_end("shutdown")


def record_files_leaving(root_dir: str = "") -> str:
    """When the hub merges ~/jupyter (JOBWRAPPER_SYNC=1): write out.json, the list of what
    leaves with jupyter/ (deletions are what in.json has and it lacks). Once; never
    raises; what was done, for the log."""
    root = root_dir or _end_report.get("root_dir") or ""
    environ = _end_report["environ"] or os.environ
    if environ.get(SYNC_ENV) != "1" or not root or _end_report.get("recorded"):
        return "nothing to record"
    _end_report["recorded"] = True
    try:
        return f"recorded what leaves in {write_manifest(root, MANIFEST_OUT)}"
    except OSError as error:
        return f"cannot record what leaves ({error.strerror}); the hub deletes nothing"


def report_end(reason: str) -> str:
    """Tell the hub (once) that the server ends on purpose, so that it closes its tunnel
    and the job can leave the queue (an open condor_ssh_to_job session keeps a job
    running on HTCondor). Only after a successful port report; never raises. What was
    done, for the log."""
    environ = _end_report["environ"]
    if environ is None or _end_report["sent"] or reason not in END_REASONS:
        return "nothing to report"
    _end_report["sent"] = True
    url = report_url(environ)
    if not url.startswith(("http://", "https://")):
        return f"cannot tell the hub that the server ends: {url} is not an HTTP URL"
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url, data=json.dumps(report_body(Ended(reason))).encode(),
        headers=report_headers(environ.get("JUPYTERHUB_API_TOKEN", "")), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=END_REPORT_TIMEOUT,  # noqa: S310
                                    context=_client_tls(environ)) as response:
            return f"told the hub that the server ends ({reason}): HTTP {response.status}"
    except urllib.error.HTTPError as error:
        return f"the hub did not take the end report ({reason}): HTTP {error.code}"
    except (OSError, ValueError) as error:
        return f"cannot tell the hub that the server ends ({reason}): {error}"


def _tls_files(environ: dict[str, str]) -> tuple[str, str, str | None] | None:
    """(certificate, key, CA) when the hub uses JupyterHub's internal TLS, else None."""
    cert, key = environ.get("JUPYTERHUB_SSL_CERTFILE"), environ.get("JUPYTERHUB_SSL_KEYFILE")
    if not (cert and key):
        return None
    return cert, key, environ.get("JUPYTERHUB_SSL_CLIENT_CA") or None


def _client_tls(environ: dict[str, str]) -> ssl.SSLContext | None:
    """An SSL context for urllib from the same files, if the hub uses internal TLS."""
    tls = _tls_files(environ)
    if tls is None:
        return None
    context = ssl.create_default_context(cafile=tls[2])
    context.load_cert_chain(tls[0], tls[1])
    return context
