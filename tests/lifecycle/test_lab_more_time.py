"""The runtime-limit warning in JupyterLab has a "1 more hour" button; a click asks the
hub (here a stand-in) for the new total and the job follows the answer (chromium)."""

from __future__ import annotations

import json
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from browser import CHROMIUM, lab_page
from jupyter_harness import jupyter_server, marked_processes, wait_until

LIMIT_SOON = """
[shutdown]
warn_minutes = []
warn_seconds = [600]
end_before_limit_seconds = 5
grace_seconds = 2

[runtime]
check_seconds = 0
"""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]


class StandInHub(BaseHTTPRequestHandler):
    """POST /hub/api/jobwrapper/runtime: records the request, grants it."""

    requests: ClassVar[list[tuple[str, str, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.requests.append((self.path, self.headers.get("Authorization", ""), body))
        answer = json.dumps({"runtime_seconds": body["runtime_hours"] * 3600}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


def test_the_button_asks_the_hub_and_the_job_follows(tmp_path: Path) -> None:

    hub = HTTPServer(("127.0.0.1", 0), StandInHub)
    threading.Thread(target=hub.serve_forever, daemon=True).start()
    ad = tmp_path / ".job.ad"
    ad.write_text("MaxRuntime = 3600\n")
    end = time.time() + 300  # started 3300 s ago with 1 h: inside the 600 s warning
    env = {"JOBWRAPPER_RUNTIME_END": str(end), "_CONDOR_JOB_AD": str(ad),
           "JUPYTERHUB_API_URL": f"http://127.0.0.1:{hub.server_port}/hub/api",
           "JUPYTERHUB_API_TOKEN": "server-token-1"}
    try:
        with jupyter_server(tmp_path / "s", LIMIT_SOON, extra_env=env) as server:
            with lab_page(server.url, server.token, tmp_path / "chromium-profile") as page:
                toast = page.locator(".Toastify__toast", has_text="Runtime limit:")
                toast.first.wait_for(timeout=60_000)
                toast.first.get_by_role("button", name="1 more hour").click()
                page.locator(".Toastify__toast", has_text="More time: this job now ends at"
                             ).first.wait_for(timeout=20_000)
                page.screenshot(path=str(tmp_path / "lab-more-time.png"))
            assert StandInHub.requests == [("/hub/api/jobwrapper/runtime",
                                            "token server-token-1", {"runtime_hours": 2})]
            status = server.api("GET", "jobwrapper/runtime").json()
            assert status["runtime_hours"] == 2 and status["runtime_end"] == end + 3600
            server.process.send_signal(signal.SIGTERM)
            wait_until(lambda: server.process.poll() is not None
                       and not marked_processes(server.mark), 10, "server gone")
    finally:
        hub.shutdown()
