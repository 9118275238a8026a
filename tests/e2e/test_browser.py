"""A user's whole day in Debian's chromium: log in, choose resources, watch the spawn,
work in JupyterLab, open the desktop, stop; and a notebook that outlives a hub restart.

The hub, proxy and local pool come from conftest.py; every wait is for an element,
a URL or an event, never a fixed time.
"""

from __future__ import annotations

import json
import re
import time

import pytest
from conftest import USER, demohub, demolib
from playwright.sync_api import TimeoutError as PlaywrightTimeout

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(240)]

SPAWN_TIMEOUT = 90_000  # ms; a spawn takes a few seconds on an idle machine
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "JULIA_NUM_THREADS", "NUMEXPR_NUM_THREADS")
REPORT_CELL = (
    "import os; print(*[f'{k}={os.environ.get(k)}' for k in " + repr(THREAD_VARIABLES) + "], "
    "sep='\\n'); "
    "print('container:', os.environ.get('JOBWRAPPER_CONTAINER')); "
    "print('job ad:', *[l.strip() for l in open(os.environ['_CONDOR_JOB_AD']) "
    "if l.startswith(('ContainerOS', 'JupyterEnvironment', 'RequestCpus'))])"
)


def log_in(page, hub: demohub.Hub) -> None:
    page.goto(f"{hub.url}/hub/login")
    page.fill("#username_input", USER)
    page.fill("#password_input", demolib.demo_password(hub.demo))
    page.click("#login_submit")
    page.wait_for_url(re.compile(r".*/hub/(spawn|home|spawn-pending).*"))


def open_form(page, hub: demohub.Hub) -> None:
    page.goto(f"{hub.url}/hub/spawn")
    page.wait_for_selector("#spawn_form select[name=cpus]")


def submit_form(page) -> None:
    page.click("#spawn_form button[type=submit]")


def wait_for_lab(page) -> None:
    page.wait_for_url(re.compile(rf".*/user/{USER}/lab.*"), timeout=SPAWN_TIMEOUT)
    page.wait_for_selector("#jp-main-dock-panel", timeout=60_000)


def show_launcher(page) -> None:
    """A visible launcher: the one JupyterLab opened, or a new one (a restored workspace
    may open with documents instead)."""
    launcher = page.locator(".jp-Launcher:visible")
    if not launcher.count():
        page.locator("[data-command='launcher:create']:visible, "
                     ".lm-TabBar-addButton:visible").first.click()
    launcher.first.wait_for()


def progress_messages(page) -> list[str]:
    events = json.loads(page.evaluate("sessionStorage.getItem('jw-progress') || '[]'"))
    return [event.get("message", "") for event in events]


def new_notebook(page) -> None:
    show_launcher(page)
    page.locator(".jp-Launcher:visible .jp-LauncherCard[data-category='Notebook']").first.click()
    page.locator(".jp-NotebookPanel:visible .jp-Cell .cm-content").first.wait_for()
    wait_for_idle_kernel(page)


def wait_for_idle_kernel(page, timeout: float = 60_000) -> None:
    """A cell run before the notebook's session has a kernel is silently not run: wait
    until the status bar shows the kernel connected and idle (the toolbar's indicator
    says idle before there is any kernel)."""
    accept_dialogs(page)
    try:
        page.locator("#jp-main-statusbar", has_text=re.compile(r"\| Idle")).wait_for(
            timeout=timeout)
    except PlaywrightTimeout:
        page.screenshot(path="/tmp/jw-e2e-failure.png")
        raise AssertionError("the notebook's kernel did not become idle; screenshot "
                             "/tmp/jw-e2e-failure.png") from None


def accept_dialogs(page) -> None:
    """Answer JupyterLab dialogs that would block the clicks: a kernel choice is
    accepted; "Server unavailable ... restart it?" (seen while the hub restarts and the
    tunnel is re-created) is dismissed, as a user would, since the notebook lives on."""
    dialog = page.locator(".jp-Dialog:visible")
    while dialog.count():
        text = dialog.first.inner_text()
        print("JupyterLab dialog:", text.replace("\n", " | "))
        button = ".jp-mod-reject" if "Server unavailable" in text else ".jp-mod-accept"
        dialog.first.locator(button).click()
        dialog.first.wait_for(state="detached")


def run_cell(page, code: str, expected: str, timeout: float = 60_000) -> str:
    """Type ``code`` into a new cell at the end, run it, wait for ``expected``; the output."""
    accept_dialogs(page)
    cells = page.locator(".jp-NotebookPanel:visible .jp-Cell")
    editor = cells.last.locator(".cm-content")
    editor.click()
    page.keyboard.insert_text(code)
    page.keyboard.press("Shift+Enter")
    output = page.locator(".jp-NotebookPanel:visible .jp-OutputArea-output",
                          has_text=expected)
    try:
        output.first.wait_for(timeout=timeout)
    except PlaywrightTimeout:
        cell = cells.last.inner_text()
        page.screenshot(path="/tmp/jw-e2e-failure.png")
        raise AssertionError(f"{expected!r} not in the output of the cell; the cell now "
                             f"reads: {cell!r}; screenshot /tmp/jw-e2e-failure.png") from None
    return output.first.inner_text()


def stop_from_home(page, hub: demohub.Hub, timeout: float = 60.0) -> None:
    """Stop My Server on the home page; returns once the hub has no server for USER."""
    page.goto(f"{hub.url}/hub/home")
    page.click("#stop")
    page.wait_for_selector("#start", state="visible", timeout=timeout * 1000)
    deadline = time.monotonic() + timeout
    while hub.api("GET", f"/users/{USER}")[1]["servers"]:  # a stop may still be pending
        assert time.monotonic() < deadline, f"{USER}'s server did not stop in {timeout} s"
        time.sleep(0.1)


def test_form_refuses_a_tampered_value_and_says_why(hub, browser_page):
    page = browser_page
    log_in(page, hub)
    open_form(page, hub)
    page.evaluate("document.querySelector('select[name=cpus]').options[0].value ="
                  " '2\\nexecutable = /bin/evil'")
    page.select_option("select[name=cpus]", index=0)
    submit_form(page)
    error = page.wait_for_selector(".spawn-error-msg")
    assert "CPUs" in error.inner_text()
    assert "not offered" in error.inner_text()
    assert hub.api("GET", f"/users/{USER}")[1]["servers"] == {}


def test_spawn_with_the_form_work_in_lab_open_desktop_and_stop(hub, browser_page):
    page = browser_page
    log_in(page, hub)
    open_form(page, hub)
    page.select_option("select[name=cpus]", "2")
    page.select_option("select[name=memory_mb]", "2048")
    page.fill("input[name=runtime_hours]", "3")
    page.select_option("select[name=cephfs_io]", "medium")
    page.select_option("select[name=environment]", "testing")
    submit_form(page)
    page.wait_for_url(re.compile(rf".*/hub/spawn-pending/{USER}.*"))
    wait_for_lab(page)

    messages = progress_messages(page)
    for words in ("Submitted job", "is running on", "Tunnel up", "ready"):
        assert any(words.lower() in m.lower() for m in messages), (words, messages)

    new_notebook(page)
    output = run_cell(page, REPORT_CELL, "job ad:")
    for name in THREAD_VARIABLES:
        assert f"{name}=2" in output
    assert 'ContainerOS = "Debian12"' in output
    assert 'JupyterEnvironment = "testing"' in output

    open_desktop(page)

    stop_from_home(page, hub)
    assert hub.api("GET", f"/users/{USER}")[1]["servers"] == {}
    assert demohub.leftovers(hub.demo) == (0, 0)  # (jobs, tunnels)


def open_desktop(page) -> None:
    """The desktop launcher item opens xpra's HTML5 client in a new tab."""
    show_launcher(page)
    card = page.locator(".jp-Launcher:visible .jp-LauncherCard", has_text="Desktop")
    card.or_(page.locator(".jp-Launcher:visible .jp-LauncherCard").last).first.wait_for()
    if not card.count():
        pytest.xfail("no Desktop item in the launcher (xpra desktop not offered in this job)")
    with page.context.expect_page(timeout=30_000) as opened:
        card.first.click()
    desktop = opened.value
    desktop.wait_for_load_state()
    assert "/desktop" in desktop.url
    desktop.wait_for_selector("#screen, canvas", state="attached", timeout=60_000)
    desktop.close()


def test_notebook_survives_a_hub_restart_and_choices_are_remembered(hub, browser_page):
    page = browser_page
    log_in(page, hub)
    open_form(page, hub)
    page.select_option("select[name=cpus]", "3")
    page.select_option("select[name=cephfs_io]", "high")
    page.select_option("select[name=environment]", "stable")
    submit_form(page)
    wait_for_lab(page)
    new_notebook(page)
    run_cell(page, "x = 41; print('set', x)", "set 41")

    hub.stop()
    hub.start()

    run_cell(page, "print('after restart', x + 1)", "after restart 42", timeout=90_000)
    assert hub.api("GET", f"/users/{USER}")[1]["servers"][""]["ready"]
    stop_from_home(page, hub)
    assert demohub.leftovers(hub.demo) == (0, 0)

    open_form(page, hub)
    assert page.input_value("select[name=cpus]") == "3"
    assert page.input_value("select[name=cephfs_io]") == "high"
    assert page.input_value("select[name=environment]") == "stable"
