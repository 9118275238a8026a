"""VS Code in a real browser: Debian's chromium opens /code-server/ through the proxy,
VS Code's explorer lists a file of the notebook dir (read from code-server over its
websocket on the unix socket), and a command typed in VS Code's terminal runs."""

from __future__ import annotations

import contextlib
import shutil
import time
from pathlib import Path

import pytest
from browser import CHROMIUM, CHROMIUM_ARGS
from jupyter_harness import jupyter_server

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
    pytest.mark.skipif(shutil.which("code-server") is None,
                       reason="code-server is not installed (scripts/setup, docs/vscode.md)"),
]


def test_browser_shows_vscode_with_the_notebook_dir(tmp_path: Path) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    screenshot = tmp_path / "vscode.png"
    # VS Code's terminal starts $SHELL; sh reads no rc file, which on shared test
    # machines may be slow (pyenv's rehash waits for a lock) before the prompt appears.
    # code-server's heartbeat and logs, and its socket dir's fallback: in the test's dir.
    for name in ("home", "tmp"):
        (tmp_path / name).mkdir()
    shell = {"SHELL": "/bin/sh", "HOME": str(tmp_path / "home"), "TMPDIR": str(tmp_path / "tmp")}
    with jupyter_server(tmp_path, extra_env=shell) as server, sync_playwright() as playwright:
        (server.root / "hello_from_the_job.py").write_text("print('hello')\n")
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1280, "height": 800},
        )
        try:
            page = browser.new_page()
            # The token logs the browser in (cookie); code-server itself gets no secret.
            page.goto(f"{server.url}?token={server.token}", wait_until="commit")
            page.goto(server.url + "code-server/", wait_until="domcontentloaded")
            page.locator(".monaco-workbench").wait_for(timeout=120_000)
            page.get_by_text("hello_from_the_job.py").first.wait_for(timeout=60_000)
            # VS Code's terminal (node-pty, built from source) runs a shell in the job.
            # (Ctrl+` is lost while the workbench still loads its keybindings: again.)
            terminal = page.locator(".terminal .xterm-helper-textarea").first  # hidden
            deadline = time.monotonic() + 90
            trust = page.get_by_role("button", name="Yes, I trust the authors")

            def answer_trust() -> None:
                """VS Code's workspace trust question (modal, it takes the keys) comes a
                moment after the page, with a fresh user-data dir: every job's first."""
                if trust.count() and trust.first.is_visible():
                    trust.first.click()

            while terminal.count() == 0 and time.monotonic() < deadline:
                answer_trust()
                page.keyboard.press("Control+Backquote")
                with contextlib.suppress(PlaywrightTimeout):
                    terminal.wait_for(state="attached", timeout=5_000)
            terminal.wait_for(state="attached", timeout=1_000)
            proof = server.root / "typed-in-vscode.txt"

            def ran() -> bool:
                return proof.exists() and proof.read_text() == "typed\n"

            deadline = time.monotonic() + 90
            while not ran() and time.monotonic() < deadline:
                answer_trust()
                terminal.focus()
                page.keyboard.type(f"echo typed > {proof}\n")
                typed = time.monotonic()
                while not ran() and time.monotonic() < typed + 15:
                    page.wait_for_timeout(500)
            assert ran(), "the command typed in VS Code's terminal ran"
            page.screenshot(path=str(screenshot))
            assert page.url.startswith(server.url + "code-server/?folder=")
            assert "token" not in page.url and "password" not in page.url
        finally:
            browser.close()
