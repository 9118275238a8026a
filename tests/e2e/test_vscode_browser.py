"""VS Code through the whole path in Debian's chromium: the hub's proxy, the tunnel to
the job, the notebook server's login, jupyter-server-proxy and code-server's unix socket
in the job (as the notebook's user, in the job's namespaces). docs/vscode.md."""

from __future__ import annotations

import os
import pwd
import shutil
from pathlib import Path

import pytest
from conftest import USER, demohub
from test_browser import log_in, open_form, show_launcher, stop_from_home, submit_form, wait_for_lab

pytestmark = [
    pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(300),
    pytest.mark.skipif(shutil.which("code-server") is None,
                       reason="code-server is not installed (scripts/setup, docs/vscode.md)"),
]


def test_vscode_launcher_item_opens_vscode_in_the_job(hub, browser_page, tmp_path):
    page = browser_page
    # A file in the user's ~/jupyter, which the job gets as its notebook dir.
    user = pwd.getpwnam(USER)
    notebooks = Path(user.pw_dir) / "jupyter"
    notebooks.mkdir(exist_ok=True)
    (notebooks / "from_the_home.txt").write_text("hello\n")
    for path in (notebooks, notebooks / "from_the_home.txt"):
        os.chown(path, user.pw_uid, user.pw_gid)
    log_in(page, hub)
    open_form(page, hub)
    submit_form(page)
    wait_for_lab(page)
    show_launcher(page)
    card = page.locator(".jp-Launcher:visible .jp-LauncherCard", has_text="VS Code")
    card.first.wait_for(timeout=30_000)
    with page.context.expect_page(timeout=30_000) as opened:
        card.first.click()
    vscode = opened.value
    vscode.wait_for_load_state()
    assert f"/user/{USER}/code-server/" in vscode.url
    vscode.locator(".monaco-workbench").wait_for(timeout=120_000)
    # The explorer shows the job's notebook dir, read over code-server's websocket.
    vscode.get_by_text("from_the_home.txt").first.wait_for(timeout=60_000)
    assert "token" not in vscode.url and "password" not in vscode.url
    vscode.screenshot(path=str(tmp_path / "vscode.png"))
    vscode.close()
    stop_from_home(page, hub)
    assert demohub.leftovers(hub.demo) == (0, 0)  # (jobs, tunnels)
