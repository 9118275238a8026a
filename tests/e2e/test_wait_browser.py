"""What a person sees while a notebook queues, in Debian's chromium on the demo's hub:
the pool's free slots on the form (one cached condor_status), "Notify me when it is
ready" on the spawn-pending page, and the browser notification when it is ready while
the page is not in view (docs/users.md, "While your notebook waits")."""

from __future__ import annotations

import json
import re
import time

import pytest
from conftest import USER, demohub
from test_browser import SPAWN_TIMEOUT, log_in, open_form, stop_from_home, submit_form

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(240)]

# The browser's Notification, recorded in sessionStorage (the page moves on to
# JupyterLab when ready); permission "default" until asked; the page is not in view.
FAKE_NOTIFICATIONS = """
(() => {
  let permission = "default";
  function Recorded(title, options) {
    const notes = JSON.parse(sessionStorage.getItem("jw-notes") || "[]");
    notes.push({title: title, body: (options || {}).body || ""});
    sessionStorage.setItem("jw-notes", JSON.stringify(notes));
  }
  Object.defineProperty(Recorded, "permission", {get: () => permission});
  Recorded.requestPermission = (callback) => {
    permission = "granted";
    sessionStorage.setItem("jw-asked", "yes");
    if (callback) callback(permission);
    return Promise.resolve(permission);
  };
  window.Notification = Recorded;
  if (sessionStorage.getItem("jw-asked")) permission = "granted";
  document.hasFocus = () => false;
})();
"""


def test_free_slots_on_the_form_and_a_notification_when_ready(hub: demohub.Hub,
                                                               browser_page):
    page = browser_page
    page.context.add_init_script(FAKE_NOTIFICATIONS)
    log_in(page, hub)
    open_form(page, hub)
    pool = page.locator("#jw-pool")
    assert "Free in the pool (as of" in pool.inner_text()
    assert "1 slot free now; at most 128 CPUs" in pool.inner_text()
    assert page.locator("#jw-pool-choice").inner_text().strip() == (
        "Your choice could start now in 1 slot.")
    cpus = page.locator("select[name=cpus] option").first.inner_text()
    assert re.fullmatch(r"1 \(1 free\)", cpus), cpus

    submit_form(page)
    page.wait_for_url(re.compile(rf".*/hub/spawn-pending/{USER}.*"))
    button = page.locator("#jw-notify-btn")
    button.click()
    assert "your browser will tell you when your notebook is ready" in (
        page.locator("#jw-notify-state").inner_text())
    page.wait_for_url(re.compile(rf".*/user/{USER}/lab.*"), timeout=SPAWN_TIMEOUT)
    notes = json.loads(page.evaluate("sessionStorage.getItem('jw-notes') || '[]'"))
    assert notes == [{"title": "Your notebook is ready",
                      "body": "It has started; click to open it."}]
    stop_from_home(page, hub)


def test_the_spawn_page_says_why_it_waits_and_notifies_when_it_starts(hub: demohub.Hub,
                                                                       browser_page):
    """The pool shrunk to 1 CPU, held by the user's named server "busy": the default
    server's page says why it waits (after the demo's 10 s), and once "busy" stops,
    the browser tells the user it is ready."""
    from jobwrapper.localpool.admin import init_pool
    from jobwrapper.localpool.config import PoolLayout, load_config

    layout = PoolLayout(hub.demo.pool_dir)
    cpus = load_config(layout.root).slot_cpus
    init_pool(layout, {"slot_cpus": "1"})
    page = browser_page
    page.context.add_init_script(FAKE_NOTIFICATIONS)
    try:
        status, _ = hub.api("POST", f"/users/{USER}/servers/busy", {})
        assert status in (201, 202)
        deadline = time.monotonic() + SPAWN_TIMEOUT / 1000
        while not (hub.api("GET", f"/users/{USER}")[1]["servers"].get("busy") or {}).get(
                "ready"):
            assert time.monotonic() < deadline, "the named server did not start"
            time.sleep(0.5)
        log_in(page, hub)
        open_form(page, hub)
        submit_form(page)
        page.wait_for_url(re.compile(rf".*/hub/spawn-pending/{USER}.*"))
        page.locator("#jw-notify-btn").click()
        message = page.locator("#progress-message")
        page.wait_for_function(
            "document.getElementById('progress-message').textContent"
            ".includes('waits for a free slot')", timeout=60_000)
        assert message.inner_text().endswith(
            "waits for a free slot: the 1 slot that could run it is busy now (none has "
            "1 CPU free).")
        assert "is idle in the queue" in page.locator("#progress-log").text_content()
        status, _ = hub.api("DELETE", f"/users/{USER}/servers/busy")
        assert status in (202, 204)
        page.wait_for_url(re.compile(rf".*/user/{USER}/lab.*"), timeout=SPAWN_TIMEOUT)
        notes = json.loads(page.evaluate("sessionStorage.getItem('jw-notes') || '[]'"))
        assert [note["title"] for note in notes] == ["Your notebook is ready"]
        stop_from_home(page, hub)
    finally:
        init_pool(layout, {"slot_cpus": str(cpus)})
        if hub.api("GET", f"/users/{USER}")[1]["servers"].get("busy"):
            hub.api("DELETE", f"/users/{USER}/servers/busy")
