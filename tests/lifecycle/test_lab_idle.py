"""The idle warning shows in JupyterLab (chromium): a page left in a hidden tab stops
polling, the server warns, the page shows it, and the server ends itself."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from browser import CHROMIUM, lab_page
from jupyter_harness import jupyter_server, marked_processes, wait_until

IDLE_SOON = """
[idle]
server_seconds = 25
warn_minutes = []
warn_seconds = [15]
check_seconds = 1

[shutdown]
grace_seconds = 2
"""

HIDE = """() => {
  Object.defineProperty(document, "visibilityState", {get: () => "hidden"});
  Object.defineProperty(document, "hidden", {get: () => true});
  document.dispatchEvent(new Event("visibilitychange"));
}"""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]


def test_a_hidden_lab_tab_gets_the_idle_warning_then_the_session_ends(tmp_path: Path) -> None:
    with jupyter_server(tmp_path, IDLE_SOON) as server:
        with lab_page(server.url, server.token, tmp_path / "chromium-profile") as page:
            page.locator(".jp-LauncherCard").first.wait_for(timeout=60_000)
            page.evaluate(HIDE)
            toast = page.locator(".Toastify__toast", has_text="No activity for")
            toast.first.wait_for(timeout=60_000)
            assert "unless it is used" in toast.first.inner_text()
            page.screenshot(path=str(tmp_path / "lab-idle.png"))
            started = time.time()
            wait_until(lambda: server.process.poll() is not None, 40, "the idle end")
            assert time.time() - started < 30
        wait_until(lambda: not marked_processes(server.mark), 5, "no process left")
        assert "ending the job: no activity for 25 s" in server.log()
