"""Site news: the file's rules, one-line errors, escaping, caching, the maintenance check."""

from __future__ import annotations

import datetime
import logging
import os
import re
from pathlib import Path
from types import SimpleNamespace

import jinja2
import pytest
from traitlets.config import Config

from jobwrapper.hub.form import FormError, ResourceForm, check_maintenance, render_form
from jobwrapper.hub.form import validate_options as validate
from jobwrapper.hub.site import news
from jobwrapper.hub.site.tomlfile import TomlError

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 12, 10, 6, 30, tzinfo=UTC)
GOOD = """\
[[item]]
title = "New GPUs"
text = "Four A100 nodes joined the pool."

[[item]]
title = "HTCondor upgrade"
text = "The pool is drained."
start = 2026-12-10T10:00:00Z
end = 2026-12-10T12:00:00Z
link = "https://status.example.org/upgrade"
"""


def parsed(text: str, path: str = "/etc/jupyterhub/news.toml") -> tuple[news.NewsItem, ...]:
    import tomllib
    return news.parse_news(path, tomllib.loads(text), text)


def test_items_and_defaults():
    first, second = parsed(GOOD)
    assert (first.title, first.severity, first.start) == ("New GPUs", "info", None)
    assert second.severity == "maintenance"
    assert second.start == datetime.datetime(2026, 12, 10, 10, tzinfo=UTC)
    assert second.link == "https://status.example.org/upgrade"


@pytest.mark.parametrize("bad, key, line, says", [
    ('[[item]]\ntitle = "x"\nstart = 2026-12-10T10:00:00\n', "item[0].start", 3, "zone"),
    ('[[item]]\ntitle = "a"\n\n[[item]]\ntitle = "b"\nseverity = "urgent"\n',
     "item[1].severity", 6, "one of info"),
    ('[[item]]\ntext = "no title"\n', "item[0].title", 1, "missing"),
    ('[[item]]\ntitle = "x"\nlink = "javascript:alert(1)"\n', "item[0].link", 3, "http"),
    ('[[item]]\ntitle = "x"\ncolour = "red"\n', "item[0].colour", 3, "unknown"),
    ('[[item]]\ntitle = "x"\nstart = 2026-12-10T10:00:00Z\nend = 2026-12-10T09:00:00Z\n',
     "item[0].end", 4, "after start"),
    ('banner = "x"\n', "banner", 1, "[[item]]"),
])
def test_a_bad_value_is_one_line_naming_file_key_and_line(bad, key, line, says):
    with pytest.raises(TomlError) as caught:
        parsed(bad)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"/etc/jupyterhub/news.toml, line {line}, key {key}: ")
    assert says in message


def write(path: Path, text: str) -> None:
    path.write_text(text)
    stamp = path.stat().st_mtime_ns + 1_000_000_000  # a visible change on coarse clocks
    os.utime(path, ns=(stamp, stamp))


def test_a_bad_file_logs_one_line_once_and_shows_nothing(tmp_path, caplog):
    path = tmp_path / "news.toml"
    write(path, '[[item]]\ntitle = "ok"\n\n[[item]]\ntitle = 3\n')
    with caplog.at_level(logging.ERROR, logger="JupyterHub"):
        assert news.read_news(str(path)) == ()
        assert news.read_news(str(path)) == ()
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [f"Site news not shown: {path}, line 5, key item[1].title: must be a "
                     "string of at most 200 characters"]
    write(path, 'title = "oops"\n[[item]\n')
    with caplog.at_level(logging.ERROR, logger="JupyterHub"):
        assert news.read_news(str(path)) == ()
    assert re.search(rf"{path}, line 2: not valid TOML", caplog.records[-1].getMessage())


def test_the_file_is_read_again_when_it_changes_and_only_then(tmp_path, monkeypatch):
    path = tmp_path / "news.toml"
    write(path, '[[item]]\ntitle = "one"\n')
    assert [i.title for i in news.read_news(str(path))] == ["one"]
    reads = []
    original = news.parse_news
    monkeypatch.setattr(news, "parse_news", lambda *a: reads.append(1) or original(*a))
    assert [i.title for i in news.read_news(str(path))] == ["one"]
    assert reads == []
    write(path, '[[item]]\ntitle = "two"\n')
    assert [i.title for i in news.read_news(str(path))] == ["two"]
    assert reads == [1]
    path.unlink()
    assert news.read_news(str(path)) == ()


def test_news_text_is_escaped_whatever_it_holds():
    item = news.NewsItem(title='<script>alert("t")</script>', text="<img src=x onerror=1> &",
                         link='https://x.org/"><script>')
    html = news.render_news((item,), NOW)
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(&#34;t&#34;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=1&gt; &amp;" in html


def test_ended_maintenance_is_no_longer_shown():
    over = news.NewsItem(title="old", start=NOW - datetime.timedelta(hours=3),
                         end=NOW - datetime.timedelta(hours=1))
    assert news.render_news((over,), NOW) == ""
    assert "2026-12-10 10:00 UTC to 2026-12-10 12:00 UTC" in news.render_news(parsed(GOOD), NOW)


def test_the_hub_page_extends_jupyterhubs_own_and_escapes():
    """templates/hub/page.html in JupyterHub's loader setup (app.py init_tornado_settings)."""
    import jupyterhub
    base = os.path.join(os.path.dirname(jupyterhub.__file__), "..", "..", "..", "..",
                        "share", "jupyterhub", "templates")
    if not os.path.exists(os.path.join(base, "page.html")):
        pytest.skip("JupyterHub's templates are not where the venv keeps them")
    loader = jinja2.ChoiceLoader([
        jinja2.PrefixLoader({"templates": jinja2.FileSystemLoader([base])}, "/"),
        jinja2.FileSystemLoader([news.HUB_TEMPLATES, base]),
    ])
    env = jinja2.Environment(loader=loader, autoescape=True)
    item = news.NewsItem(title="<script>x()</script>", text="maintenance")
    html = env.get_template("page.html").render(
        jobwrapper_news=news.render_news((item,), NOW), static_url=lambda *a, **k: "",
        base_url="/hub/", prefix="/", login_url="/hub/login", logout_url="/hub/logout",
        xsrf="x", authenticator_login_url="/hub/login", login_service="", user=None,
        announcement="", services=[], version_hash="", parsed_scopes={},
        expanded_scopes=set())
    assert "jobwrapper-news" in html
    assert "&lt;script&gt;x()&lt;/script&gt;" in html and "<script>x()" not in html


def test_a_sites_own_page_template_stays_in_charge(tmp_path):
    (tmp_path / "page.html").write_text("{{ jobwrapper_news }}")
    c = Config()
    c.JupyterHub.template_paths = [str(tmp_path)]
    news.use_site_news(c, "/etc/jupyterhub/news.toml")
    assert c.JupyterHub.template_paths == [str(tmp_path)]
    assert "jobwrapper_news" in c.JupyterHub.template_vars


def test_use_site_news_keeps_the_sites_own_template_settings():
    c = Config()
    c.JupyterHub.template_vars = {"announcement": "hello"}
    c.JupyterHub.template_paths = ["/srv/templates"]
    news.use_site_news(c, "/etc/jupyterhub/news.toml", "refuse")
    assert c.JupyterHub.template_paths == [news.HUB_TEMPLATES, "/srv/templates"]
    assert c.JupyterHub.template_vars["announcement"] == "hello"
    assert c.JupyterHub.template_vars["jobwrapper_news"].path == "/etc/jupyterhub/news.toml"
    assert c.SiteNews.maintenance_policy == "refuse"


MAINTENANCE = (news.NewsItem(title="upgrade", start=NOW + datetime.timedelta(hours=3, minutes=30),
                             end=NOW + datetime.timedelta(hours=5)),)


def test_the_runtime_is_checked_against_the_maintenance():
    options = validate({"runtime_hours": "3"}, ResourceForm())
    check_maintenance(options, MAINTENANCE, NOW)  # ends before it
    longer = validate({"runtime_hours": "4"}, ResourceForm())
    with pytest.raises(FormError) as caught:
        check_maintenance(longer, MAINTENANCE, NOW)
    assert str(caught.value) == (
        "Maximum runtime: Planned maintenance \u201cupgrade\u201d from 2026-12-10 10:00 UTC: "
        "a notebook with this runtime would be stopped by it. Choose at most 3 hours.")
    during = NOW + datetime.timedelta(hours=4)
    with pytest.raises(FormError, match="started now would be stopped"):
        check_maintenance(options, MAINTENANCE, during)
    check_maintenance(longer, MAINTENANCE, NOW + datetime.timedelta(hours=6))  # over


def test_the_form_warns_for_the_prefilled_runtime_and_carries_the_windows():
    html = render_form(ResourceForm(), {"runtime_hours": 6}, maintenance=MAINTENANCE, now=NOW)
    box = re.search(r'<div class="alert alert-warning mt-2 jobwrapper-maintenance"[^>]*>(.*?)<',
                    html, re.S)
    assert box and "hidden" not in box.group(0)
    assert "Choose at most 3 hours, or save your work before it begins." in box.group(1)
    assert "&#34;when&#34;: &#34;2026-12-10 10:00 UTC&#34;" in html or \
        '"when": "2026-12-10 10:00 UTC"' in html
    short = render_form(ResourceForm(), {"runtime_hours": 2}, maintenance=MAINTENANCE, now=NOW)
    assert re.search(r'id="jw-maintenance"[^>]*hidden', short, re.S)


def test_a_maintenance_title_cannot_leave_the_forms_attribute():
    evil = (news.NewsItem(title="x' onmouseover='alert(1)' </div><script>y()</script>",
                          start=NOW + datetime.timedelta(hours=1)),)
    html = render_form(ResourceForm(), {"runtime_hours": 6}, maintenance=evil, now=NOW)
    attribute = re.search(r"data-windows='([^']*)'", html)
    assert attribute and "\\u0027 onmouseover=\\u0027alert(1)" in attribute.group(1)
    assert "<script>y()" not in html and "onmouseover='" not in html


def test_maintenance_refusal_through_the_spawners_hooks(tmp_path):
    from jobwrapper.hub.form import apply_user_options
    from jobwrapper.hub.spawner import JobwrapperSpawner

    path = tmp_path / "news.toml"
    start = (datetime.datetime.now(UTC) + datetime.timedelta(hours=2, minutes=30))
    write(path, f'[[item]]\ntitle = "drain"\nstart = {start.strftime("%Y-%m-%dT%H:%M:%SZ")}\n')
    config = Config()
    config.SiteNews.path = str(path)
    config.SiteNews.maintenance_policy = "refuse"
    spawner = JobwrapperSpawner(config=config, user=SimpleNamespace(name="ann", groups=[]))
    with pytest.raises(FormError, match="Choose at most 2 hours"):
        apply_user_options(spawner, {"runtime_hours": 3})
    apply_user_options(spawner, {"runtime_hours": 2})
    assert spawner.user_options["runtime_hours"] == 2
    config.SiteNews.maintenance_policy = "warn"
    warned = JobwrapperSpawner(config=config, user=SimpleNamespace(name="ann", groups=[]))
    apply_user_options(warned, {"runtime_hours": 3})
