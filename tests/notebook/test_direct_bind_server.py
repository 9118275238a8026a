"""Direct mode with a real jupyterhub-singleuser: asked by the hub
(JOBWRAPPER_SERVER_BIND=direct), the server listens on server.direct_address only,
here the IPv6 loopback ::1 (every IPv6 host has it): the listening socket, the
server's --ServerApp.ip and JUPYTERHUB_SERVICE_URL ([::1]:PORT) must all agree."""

from __future__ import annotations

import socket

import pytest
from listeners import descendants, tcp_listen_addresses
from notebook_helpers import http_get, make_job, needs_lmod, root_args, site_config_text, wait_for
from test_singleuser_hub import _hub_job


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


pytestmark = [needs_lmod,
              pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback (::1)")]


def _listening(pids: list[int], port: int) -> list[tuple[str, int]]:
    """(address, port) of the listening TCP sockets on ``port`` that ``pids`` hold."""
    return sorted({entry for pid in pids for entry in tcp_listen_addresses(pid)
                   if entry[1] == port})


def test_direct_asked_by_the_hub_listens_on_the_ipv6_direct_address_only(
        tmp_path, module_tree, cvmfs_venv, start_server, fake_hub) -> None:
    hub = fake_hub(200)
    text = site_config_text(module_tree, cvmfs_venv) + '[server]\ndirect_address = "::1"\n'
    environ = {**_hub_job(make_job(tmp_path, text), hub.api_url),
               "JOBWRAPPER_SERVER_BIND": "direct"}
    server = start_server(["singleuser", *root_args()], environ)
    port = wait_for(hub.reports, 90, "port report", server.process)[0]["body"]["port"]
    assert _listening(descendants(server.process.pid), port) == [("::1", port)]
    status, body = http_get(f"http://[::1]:{port}/user/alice/api")
    assert status == 200 and b"version" in body
    assert http_get(f"http://127.0.0.1:{port}/user/alice/api")[0] == 0  # nothing there
