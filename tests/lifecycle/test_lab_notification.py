"""The runtime-limit warning shows in JupyterLab (Debian's chromium), not only in terminals."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from browser import CHROMIUM, lab_page
from jupyter_harness import jupyter_server, marked_processes, wait_until

# One warning at once (the job starts inside the 600 s window), one 15 s later.
LIMIT_SOON = """
[shutdown]
warn_minutes = []
warn_seconds = [600, 30]
end_before_limit_seconds = 5
grace_seconds = 2
"""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]


def test_lab_shows_earlier_and_live_runtime_limit_warnings(tmp_path: Path) -> None:
    env = {"JOBWRAPPER_RUNTIME_END": str(time.time() + 45)}
    with jupyter_server(tmp_path, LIMIT_SOON, extra_env=env) as server:
        with lab_page(server.url, server.token, tmp_path / "chromium-profile") as page:
            toasts = page.locator(".Toastify__toast", has_text="Runtime limit:")
            toasts.first.wait_for(timeout=40_000)  # the warning given before the page opened
            first = toasts.first.inner_text()
            page.wait_for_function(
                "() => [...document.querySelectorAll('.Toastify__toast')]"
                ".filter(t => t.textContent.includes('Runtime limit:')).length >= 2",
                timeout=40_000,
            )  # the live one, over the event bus
            page.screenshot(path=str(tmp_path / "lab-warning.png"))
            texts = {toasts.nth(i).inner_text() for i in range(toasts.count())}
            assert first in texts and len(texts) == 2
        server.process.send_signal(signal.SIGTERM)
        wait_until(
            lambda: server.process.poll() is not None and not marked_processes(server.mark),
            10,
            "server gone",
        )
