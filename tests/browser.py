"""Debian's chromium for browser tests: never a browser that a tool downloads."""

from __future__ import annotations

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
