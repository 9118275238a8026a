"""Debian's chromium for browser tests: never a browser that a tool downloads."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
# Headless, and quiet on a machine without network: without the background-networking
# flags chromium keeps trying to reach Google's hosts.
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


@contextlib.contextmanager
def lab_page(url: str, token: str, profile: Path) -> Iterator[Any]:
    """A chromium page (its profile in `profile`) open on JupyterLab at `url`, logged
    in with `token`; the browser is closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            page.goto(f"{url}lab?token={token}", wait_until="domcontentloaded")
            yield page
        finally:
            browser.close()
