"""What a person sees of the site's news and profiles, in Debian's chromium, on the demo's
hub (demo/demo_site.py: a news file with a maintenance 5 hours ahead, two profiles)."""

from __future__ import annotations

import pytest
from conftest import demohub
from test_browser import log_in, open_form

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(240)]


def test_news_profiles_and_the_maintenance_warning(hub: demohub.Hub, browser_page):
    page = browser_page
    page.goto(f"{hub.url}/hub/login")
    banner = page.locator(".jobwrapper-news")
    assert "Welcome to the jobwrapper demo" in banner.inner_text()
    assert "Planned maintenance: Pool upgrade" in banner.inner_text()

    log_in(page, hub)
    open_form(page, hub)
    assert page.locator(".jobwrapper-news").is_visible()
    warning = page.locator("#jw-maintenance")
    assert warning.is_hidden()  # the demo's default: 2 hours

    page.select_option("#jw-profile", "medium")
    assert page.input_value("select[name=cpus]") == "2"
    assert page.input_value("select[name=memory_mb]") == "2048"
    assert page.input_value("input[name=runtime_hours]") == "8"
    warning.wait_for(state="visible")
    text = warning.inner_text()
    assert "Planned maintenance \u201cPool upgrade\u201d" in text
    assert "a notebook with this runtime would be stopped by it. Choose at most" in text

    page.fill("input[name=runtime_hours]", "2")
    page.locator("input[name=runtime_hours]").dispatch_event("change")
    warning.wait_for(state="hidden")
    assert page.input_value("#jw-profile") == ""  # a changed field: back to "Custom"

    page.select_option("#jw-profile", "small")
    assert page.input_value("select[name=memory_mb]") == "1024"
    assert warning.is_hidden()
