"""The desktop in a real browser: Debian's chromium, through the proxy, shows an xterm."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

import pytest
from browser import CHROMIUM, CHROMIUM_ARGS
from desktop_checks import argv
from jupyter_harness import jupyter_server, marked_processes, wait_until

# The shell skips ~/.bashrc: on shared test machines it may run slow setup (pyenv's rehash
# waits for a lock) before the prompt appears.
XTERM_WITHOUT_RC = (
    '[desktop]\nstart = ["xterm", "-T", "xterm", "-e", "/bin/bash", "--norc", "-i"]\n'
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
    pytest.mark.skipif(shutil.which("xpra") is None, reason="xpra is not installed"),
]


def test_browser_shows_xterm_through_the_proxy(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    screenshot = tmp_path / "desktop.png"
    with jupyter_server(tmp_path, XTERM_WITHOUT_RC) as server, sync_playwright() as playwright:
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
            wait_until(lambda: _xterm_shell_runs(server.mark), 20, "the xterm's shell")
            # Keys typed in the page reach the xterm's shell through xpra's websocket.
            proof = server.root / "typed-in-the-desktop.txt"
            _type_until(page, f"echo typed > {proof}\n", proof.exists,
                        "the command typed in the browser ran")
            page.wait_for_timeout(1000)  # let xpra send the frames with the output
            page.screenshot(path=str(screenshot))
            assert "token" not in page.url and "password" not in page.url
        finally:
            browser.close()
    assert screenshot.stat().st_size > 10_000
    print(f"screenshot: {screenshot}")


def _type_until(page: object, text: str, done: Callable[[], bool], what: str) -> None:
    """Click into the xterm and type ``text`` until ``done``: on a loaded machine the
    first keys can arrive before xpra's client takes input, and are then lost."""
    for attempt in range(3):
        box = page.locator("canvas").first.bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.keyboard.type(text, delay=20)
        try:
            wait_until(done, 20, what)
            return
        except AssertionError:
            if attempt == 2:
                raise


def _xterm_shell_runs(mark: str) -> bool:
    """A shell whose parent is an xterm of this server is running (its prompt is up)."""
    xterms = {pid for pid in marked_processes(mark) if argv(pid)[:1] == ["xterm"]}
    for pid in marked_processes(mark):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) in xterms:
            return True
    return False
