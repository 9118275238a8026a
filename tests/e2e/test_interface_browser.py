"""The interface chosen on the form (issue 15.7), in Debian's chromium on the demo's hub:
"Jupyter Notebook" opens Notebook 7 at /user/NAME/tree, JupyterLab (the site's
default, first in c.ResourceForm.interfaces) at /lab."""

from __future__ import annotations

import re

import pytest
from conftest import USER, demohub
from test_browser import log_in, open_form, stop_from_home, submit_form

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(300)]


def test_the_classic_notebook_interface_chosen_on_the_form(hub: demohub.Hub, browser_page):
    page = browser_page
    log_in(page, hub)
    open_form(page, hub)
    assert page.input_value("select[name=interface]") == "lab"  # the site's default
    labels = page.locator("select[name=interface] option").all_inner_texts()
    assert labels == ["JupyterLab", "Jupyter Notebook"]
    page.select_option("select[name=interface]", "notebook")
    submit_form(page)
    page.wait_for_url(re.compile(rf".*/user/{USER}/tree.*"), timeout=180_000)
    # Notebook 7's file browser, not JupyterLab's shell
    page.locator("#main-panel, .jp-FileBrowser").first.wait_for(timeout=60_000)
    assert page.locator("#jp-main-dock-panel").count() == 0
    page.screenshot(path="/tmp/jw-e2e-notebook-interface.png")
    stored = hub.api("GET", f"/users/{USER}")[1]["servers"][""]
    assert stored["user_options"]["interface"] == "notebook"
    stop_from_home(page, hub)

    open_form(page, hub)  # the choice is remembered
    assert page.input_value("select[name=interface]") == "notebook"
