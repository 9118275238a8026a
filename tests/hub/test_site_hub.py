"""A real JupyterHub: the site's news on its pages, escaped; a group's limits on the form
and in the server-side validation of the form and of the REST API; a bad news file is
one log line and the pages still render."""

from __future__ import annotations

import datetime
import html
import os
import re
import shutil
import tempfile
from pathlib import Path
from unittest import mock
from urllib.parse import urljoin

import pytest
import requests

from . import harness
from .harness import ALICE, BOB, Hub, new_hub, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.root]

SITE_CONFIG = """
site = settings["site"]
from jobwrapper.hub.site.news import use_site_news
use_site_news(c, site["news"])
c.JobwrapperSpawner.resource_form = True
c.ResourceForm.max_cpus = 4
c.ResourceForm.max_gpus = 0
c.ResourceForm.group_limits = site["group_limits"]
c.ResourceForm.profiles = site["profiles"]
c.JupyterHub.load_groups = site["groups"]
"""
MAINTENANCE_START = (datetime.datetime.now(datetime.timezone.utc)
                     + datetime.timedelta(hours=3, minutes=30)).replace(microsecond=0)
NEWS = f"""\
[[item]]
title = "New nodes <script>alert('news')</script>"
text = "Four nodes joined & more."

[[item]]
title = "Pool upgrade"
start = {MAINTENANCE_START.strftime("%Y-%m-%dT%H:%M:%SZ")}
"""


@pytest.fixture(scope="module")
def site_hub(hub_pool: Path, hub_users: tuple[str, str]) -> Hub:
    state_dir = Path(tempfile.mkdtemp(prefix="jwhub-site-"))
    news_file = state_dir / "news.toml"
    news_file.write_text(NEWS)
    running = new_hub(state_dir, hub_pool, site={
        "news": str(news_file),
        "group_limits": {"students": {"max_cpus": 2, "max_runtime_hours": 4}},
        "profiles": [{"name": "small", "label": "Small: 1 core, 2 GB, 2 h", "cpus": 1,
                      "memory_mb": 2048, "runtime_hours": 2},
                     {"name": "wide", "label": "Wide: 4 cores", "cpus": 4}],
        "groups": {"students": {"users": [ALICE]}},
    })
    with mock.patch.object(harness, "CONFIG", harness.CONFIG + SITE_CONFIG):
        running.start()
    running.ensure_user(BOB)
    yield running
    running.stop()
    if not os.environ.get("JWHUB_KEEP_STATE"):
        shutil.rmtree(state_dir, ignore_errors=True)


def logged_in(hub: Hub, user: str) -> tuple[requests.Session, str]:
    """A browser session of ``user`` and the login page it saw first."""
    browser = requests.Session()
    login = browser.get(f"{hub.url}/hub/login", timeout=30)
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', login.text).group(1)
    browser.post(f"{hub.url}/hub/login", timeout=30,
                 data={"username": user, "password": "any", "_xsrf": xsrf})
    return browser, login.text


def test_news_on_the_login_and_spawn_pages_escaped(site_hub):
    browser, login = logged_in(site_hub, ALICE)
    for page in (login, browser.get(f"{site_hub.url}/hub/spawn/{ALICE}", timeout=30).text):
        assert "jobwrapper-news" in page
        assert "New nodes &lt;script&gt;alert(&#39;news&#39;)&lt;/script&gt;" in page
        assert "<script>alert(" not in page
        assert "Four nodes joined &amp; more." in page
        assert "Planned maintenance: Pool upgrade" in page


def test_a_groups_limits_on_the_form_and_on_the_server(site_hub):
    alice, _ = logged_in(site_hub, ALICE)
    spawn_url = f"{site_hub.url}/hub/spawn/{ALICE}"
    form = alice.get(spawn_url, timeout=30).text
    assert "CPUs (max: 2)" in form and '<option value="3"' not in form
    assert "Small: 1 core, 2 GB, 2 h" in form and "Wide: 4 cores" not in form
    assert 'id="jw-maintenance"' in form and "Pool upgrade" in form
    action = html.unescape(re.search(r'id="spawn_form"\s+action="([^"]+)"', form).group(1))
    refused = alice.post(urljoin(spawn_url, action), timeout=30, files={"cpus": (None, "4")})
    assert "CPUs: &#39;4&#39; is not offered; choose one of 1, 2." in refused.text
    assert site_hub.server(ALICE) is None

    reply = site_hub.api("POST", f"/users/{ALICE}/server", json={"runtime_hours": 6})
    assert reply.status_code == 400
    assert "Maximum runtime: 6 is outside the allowed range 1-4." in reply.json()["message"]

    bob, _ = logged_in(site_hub, BOB)
    bobs = bob.get(f"{site_hub.url}/hub/spawn/{BOB}", timeout=30).text
    assert "CPUs (max: 4)" in bobs and "Wide: 4 cores" in bobs


def test_a_bad_news_file_is_one_log_line_and_the_pages_render(site_hub):
    news_file = Path(site_hub.settings["site"]["news"])
    news_file.write_text('[[item]]\ntitle = "ok"\nseverity = "urgent"\n')
    stamp = news_file.stat().st_mtime_ns + 1_000_000_000
    os.utime(news_file, ns=(stamp, stamp))
    reply = requests.get(f"{site_hub.url}/hub/login", timeout=30)
    assert reply.status_code == 200 and "jobwrapper-news" not in reply.text
    expected = (f"Site news not shown: {news_file}, line 3, key item[0].severity: must be "
                "one of info, warning, maintenance")
    wait_for(lambda: expected in site_hub.log_text(), 10, "the log line")
    requests.get(f"{site_hub.url}/hub/login", timeout=30)
    assert site_hub.log_text().count("Site news not shown") == 1
    news_file.write_text(NEWS)
    os.utime(news_file, ns=(stamp + 10**9, stamp + 10**9))
    assert "Pool upgrade" in requests.get(f"{site_hub.url}/hub/login", timeout=30).text
