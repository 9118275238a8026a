"""The cluster's dashboard listens on 127.0.0.1 only and is reached through the
server's jupyter-server-proxy (/proxy/PORT/status), with the server's authentication."""

from __future__ import annotations

import pytest
import requests
from fake_condor import fake_tool
from lifecycle.jupyter_harness import jupyter_server

from jobwrapper.config import parse_config
from jobwrapper.dask import cluster


@pytest.mark.processes
def test_the_dashboard_is_served_through_the_servers_proxy(tmp_path, monkeypatch):
    monkeypatch.setenv("JOBWRAPPER_PRIVATE_DIR", str(tmp_path / "private"))
    fake_tool(tmp_path / "bin", "condor_q")
    config = parse_config(f'[dask]\njobwrapper = "/usr/bin/true"\n'
                          f'condor_bin = "{tmp_path}/bin"\n', "site.toml")
    workers = cluster(0, config=config)
    try:
        port = workers.scheduler.http_server.port
        assert workers.dashboard_link == f"/proxy/{port}/status"
        listening = {sock.getsockname()[0]
                     for sock in workers.scheduler.http_server._sockets.values()}
        assert listening == {"127.0.0.1"}
        with jupyter_server(tmp_path) as server:
            url = server.url + f"proxy/{port}/status"
            page = requests.get(url, headers={"Authorization": f"token {server.token}"},
                                timeout=30)
            assert page.status_code == 200 and "Dask" in page.text
            anonymous = requests.get(url, timeout=30, allow_redirects=False)
            assert anonymous.status_code in (302, 403)
    finally:
        workers.close()
