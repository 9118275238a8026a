"""The job's end report and protocol version (jobwrapper/protocol.py), and the probe
that finds a server gone behind its tunnel (jobwrapper/hub/connection/serverprobe.py)."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest

from jobwrapper import protocol
from jobwrapper.hub.connection.serverprobe import Probe, probe, server_gone


@pytest.mark.parametrize("reason", sorted(protocol.END_REASONS))
def test_each_end_reason_is_accepted_from_protocol_2(reason):
    assert protocol.parse_report({"ended": reason}, 2) == protocol.Ended(reason)


@pytest.mark.parametrize("body", [
    {"ended": "rm -rf /"},
    {"ended": ""},
    {"ended": None},
    {"ended": ["shutdown"]},
    {"ended": "shutdown", "port": 8888},
    {"ended": "shutdown", "reason": "free text from the job"},
])
def test_anything_but_a_known_end_reason_is_refused(body):
    with pytest.raises(protocol.ReportError):
        protocol.parse_report(body, 2)


def test_an_end_report_needs_protocol_2():
    with pytest.raises(protocol.ReportError, match="protocol 2"):
        protocol.parse_report({"ended": "shutdown"}, 1)


def test_a_report_without_a_version_header_is_protocol_1():
    assert protocol.parse_version(None) == 1


def test_a_newer_jobs_version_is_one_line_naming_both_versions():
    with pytest.raises(protocol.ReportError) as error:
        protocol.parse_version("3")
    assert str(error.value) == (
        "the job speaks jobwrapper protocol 3, this hub 1 to 2: install the same "
        "jobwrapper release on the hub and in the worker images")


@pytest.mark.parametrize("header", ["two", "-1", "2.0", "99999"])
def test_a_malformed_version_header_is_refused(header):
    with pytest.raises(protocol.ReportError):
        protocol.parse_version(header)


def test_report_headers_carry_the_version_and_token():
    headers = protocol.report_headers("abc")
    assert headers[protocol.PROTOCOL_HEADER] == str(protocol.PROTOCOL_VERSION)
    assert headers["Authorization"] == "token abc"


def test_the_body_is_exactly_one_field():
    assert protocol.report_body(8888) == {"port": 8888}
    assert protocol.report_body(protocol.Ended("idle")) == {"ended": "idle"}


# -- the probe ---------------------------------------------------------------------------

def _listener(behaviour: str) -> tuple[socket.socket, int]:
    """A TCP listener that answers, closes at once (as ssh without a server behind
    it), or reads and stays silent."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)

    def serve():
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            if behaviour == "answer":
                connection.recv(100)
                connection.sendall(b"HTTP/1.0 302 Found\r\n\r\n")
                connection.close()
            elif behaviour == "close":
                connection.close()
            else:
                threading.Timer(5, connection.close).start()

    threading.Thread(target=serve, daemon=True).start()
    return server, server.getsockname()[1]


@pytest.mark.parametrize(("behaviour", "found"), [
    ("answer", Probe.ANSWERS), ("close", Probe.CLOSED), ("silent", Probe.UNKNOWN)])
def test_probe_tells_a_server_from_an_empty_tunnel_and_a_busy_one(behaviour, found):
    server, port = _listener(behaviour)
    try:
        assert asyncio.run(probe(port, timeout=0.5)) is found
    finally:
        server.close()


def test_nothing_listening_is_unknown_not_gone():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    port = server.getsockname()[1]
    server.close()
    assert asyncio.run(probe(port, timeout=0.5)) is Probe.UNKNOWN


def test_gone_needs_two_closed_requests():
    server, port = _listener("close")
    try:
        assert asyncio.run(server_gone(port, confirm_after=0.05, timeout=0.5)) is True
    finally:
        server.close()


def test_a_busy_server_is_not_gone():
    server, port = _listener("silent")
    try:
        assert asyncio.run(server_gone(port, confirm_after=0.05, timeout=0.3)) is False
    finally:
        server.close()
