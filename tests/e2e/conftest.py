"""Fixtures of the browser tests: the demo's hub on the local pool, and Debian's chromium.

The hub, the proxy and the pool are started here and always stopped, whatever the
test did; the pool's delays are short (see POOL_SETTINGS) so a spawn takes seconds.
"""

from __future__ import annotations

import os
import pwd
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import CHROMIUM, CHROMIUM_ARGS

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "demo"))

import demohub  # noqa: E402 - demo/ is not a package
import demolib  # noqa: E402

POOL_SETTINGS = {"idle_delay": "0.5", "ssh_ready_delay": "1", "vacate_grace": "10",
                 "periodic_interval": "1"}
USER = "jw-e2e-user"
# What a notebook leaves in the user's home; removed first, so each run starts fresh.
HOME_LEFTOVERS = ("jupyter", ".jupyterhub-condor", ".jupyter", ".local/share/jupyter")

# Every progress event the spawn page receives, kept in sessionStorage so that it is
# still there after the page has moved on to JupyterLab.
RECORD_PROGRESS = """
(() => {
  const Original = window.EventSource;
  if (!Original || Original.jwRecorded) return;
  function Recording(url, options) {
    const source = new Original(url, options);
    source.addEventListener("message", (event) => {
      const log = JSON.parse(sessionStorage.getItem("jw-progress") || "[]");
      try { log.push(JSON.parse(event.data)); } catch (error) { log.push({raw: event.data}); }
      sessionStorage.setItem("jw-progress", JSON.stringify(log));
    });
    return source;
  }
  Recording.prototype = Original.prototype;
  Recording.jwRecorded = true;
  window.EventSource = Recording;
})();
"""


def _missing() -> str:
    if os.geteuid() != 0:
        return "the notebooks run as a local user created with useradd: run as root"
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is not installed (scripts/setup installs it)"
    if not (REPO / ".venv" / "bin" / "configurable-http-proxy").exists():
        return "configurable-http-proxy is not installed (scripts/setup installs it)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright (python) is not installed (scripts/setup installs it)"
    return ""


@pytest.fixture(scope="module")
def demo() -> Iterator[demolib.Demo]:
    """A fresh demo state dir under /var/tmp (the notebook users must be able to read it)."""
    reason = _missing()
    if reason:
        pytest.skip(reason)
    state = Path(tempfile.mkdtemp(prefix="jobwrapper-e2e-", dir="/var/tmp"))
    os.chmod(state, 0o755)
    try:
        yield demolib.prepare(state, (USER,), POOL_SETTINGS)
    finally:
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(autouse=True)
def fresh_home() -> None:
    """Each test starts without the files an earlier notebook left (its JupyterLab
    workspace would reopen documents whose kernel may not exist in this environment)."""
    if os.geteuid() == 0:
        home = Path(pwd.getpwnam(USER).pw_dir) if _user_exists() else None
        for name in HOME_LEFTOVERS if home else ():
            shutil.rmtree(home / name, ignore_errors=True)


def _user_exists() -> bool:
    try:
        pwd.getpwnam(USER)
    except KeyError:
        return False
    return True


@pytest.fixture(scope="module")
def hub(demo: demolib.Demo) -> Iterator[demohub.Hub]:
    """JupyterHub with the jobwrapper spawner on the local pool, stopped with everything."""
    running = demohub.Hub(demo, port=demolib.free_port(), users=(USER,))
    try:
        running.start()
        yield running
    finally:
        demohub.stop_everything(running)


@pytest.fixture
def browser_page(tmp_path: Path):
    """A page in Debian's chromium with a fresh profile (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(30_000)
        context.add_init_script(RECORD_PROGRESS)
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()
