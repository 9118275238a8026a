"""The desktop in a real browser: Debian's chromium, through the proxy, shows an xterm."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from jupyter_harness import jupyter_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
    pytest.mark.skipif(shutil.which("xpra") is None, reason="xpra is not installed"),
]


def test_browser_shows_xterm_through_the_proxy(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    screenshot = tmp_path / "desktop.png"
    with jupyter_server(tmp_path) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1024, "height": 700},
        )
        try:
            page = browser.new_page()
            # The token logs the browser in (cookie); xpra itself gets no secret at all.
            page.goto(f"{server.url}?token={server.token}", wait_until="commit")
            page.goto(server.url + "desktop/", wait_until="domcontentloaded")
            title = page.locator("span.windowtitle").first
            title.wait_for(timeout=45_000)
            page.wait_for_function(
                "() => [...document.querySelectorAll('span.windowtitle')]"
                ".some(s => s.textContent.includes('xterm'))",
                timeout=30_000,
            )
            page.wait_for_timeout(1500)  # let the first frames paint
            page.screenshot(path=str(screenshot))
            assert "token" not in page.url and "password" not in page.url
        finally:
            browser.close()
    assert screenshot.stat().st_size > 10_000
    print(f"screenshot: {screenshot}")
