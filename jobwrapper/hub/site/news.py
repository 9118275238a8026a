"""The site's news on the hub's pages: news, planned maintenance, known issues.

The admin edits a TOML file (docs/hub.md, "Site news"); every page render reads it
again when it changed (inode, size, mtime). The hub shows it through JupyterHub's own
template mechanism: ``template_paths`` gets ``HUB_TEMPLATES`` (a ``page.html`` that
extends JupyterHub's and adds the news below its announcement) and ``template_vars``
gets ``jobwrapper_news``, called with the user for every page. Everything is
HTML-escaped here, whatever the hub's Jinja options. A bad file is one log line
naming the file, key and line; the pages still render, without its news.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import math
import os
import re
from typing import Any, Optional

import jinja2
from markupsafe import Markup
from traitlets import Enum, Unicode
from traitlets.config import Configurable

from .tomlfile import CachedToml, TomlError, error, locate

TEMPLATES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "templates")
HUB_TEMPLATES = os.path.join(TEMPLATES, "hub")
SEVERITIES = ("info", "warning", "maintenance")
_ITEM_KEYS = ("title", "text", "severity", "start", "end", "link")
_LINK = re.compile(r"https?://[^\s\"'<>\\]+\Z")
_LOG = logging.getLogger("JupyterHub")


class SiteNews(Configurable):
    """Where the news file is and what planned maintenance means for a spawn."""

    path = Unicode(
        "", help="The news file (TOML, docs/hub.md \"Site news\"); empty: no news.",
    ).tag(config=True)
    maintenance_policy = Enum(
        ["warn", "refuse"], "warn",
        help="""What a runtime that reaches into a planned maintenance does on the
        options form: "warn" (the form says so, the spawn goes ahead) or "refuse"
        (the spawn is refused with the longest runtime that still fits).""",
    ).tag(config=True)


@dataclasses.dataclass(frozen=True)
class NewsItem:
    """One entry of the news file."""

    title: str
    text: str = ""
    severity: str = "info"
    start: Optional[datetime.datetime] = None
    end: Optional[datetime.datetime] = None
    link: str = ""

    def shown(self, now: datetime.datetime) -> bool:
        """Until its end has passed (an item without an end until it is removed)."""
        return self.end is None or self.end > now

    def hours_before(self, now: datetime.datetime) -> Optional[int]:
        """Whole hours from ``now`` to this maintenance (0 while it lasts); None: no
        maintenance ahead."""
        if self.start is None or not self.shown(now):
            return None
        return max(0, math.floor((self.start - now).total_seconds() / 3600))


def utc_text(moment: datetime.datetime) -> str:
    """``2026-12-10 08:00 UTC``."""
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def parse_news(path: str, data: dict[str, Any], text: str) -> tuple[NewsItem, ...]:
    """The items of a news file's TOML; TomlError (file, key, line) for a bad value."""
    for key in data:
        if key != "item":
            raise error(path, locate(text, (), key), key,
                        "unknown; the file holds [[item]] tables only")
    items = data.get("item", [])
    if not isinstance(items, list):
        raise error(path, locate(text, (), "item"), "item", "must be [[item]] tables")
    return tuple(_item(path, text, index, raw) for index, raw in enumerate(items))


def _item(path: str, text: str, index: int, raw: Any) -> NewsItem:
    def bad(key: str, message: str) -> TomlError:
        return error(path, locate(text, ("item", index), key), f"item[{index}].{key}", message)

    if not isinstance(raw, dict):
        raise bad("title", "must be an [[item]] table")
    for key in raw:
        if key not in _ITEM_KEYS:
            raise bad(key, f"unknown; known keys: {', '.join(_ITEM_KEYS)}")
    values: dict[str, Any] = {}
    for key, limit in (("title", 200), ("text", 2000), ("link", 500)):
        value = raw.get(key, "")
        if not isinstance(value, str) or len(value) > limit:
            raise bad(key, f"must be a string of at most {limit} characters")
        values[key] = value.strip()
    if not values["title"]:
        raise bad("title", "is missing; every item needs a title")
    if values["link"] and not _LINK.match(values["link"]):
        raise bad("link", "must be one http:// or https:// address")
    for key in ("start", "end"):
        value = raw.get(key)
        if value is not None and not (isinstance(value, datetime.datetime)
                                      and value.tzinfo is not None):
            raise bad(key, "must be a date and time with its zone, e.g. 2026-12-10T08:00:00Z")
        values[key] = value
    if values["end"] is not None and values["start"] is None:
        raise bad("end", "needs a start")
    if values["end"] is not None and values["end"] <= values["start"]:
        raise bad("end", "must be after start")
    severity = raw.get("severity", "maintenance" if values["start"] else "info")
    if severity not in SEVERITIES:
        raise bad("severity", f"must be one of {', '.join(SEVERITIES)}")
    return NewsItem(severity=severity, **values)


_FILES: dict[str, CachedToml[tuple[NewsItem, ...]]] = {}
_REPORTED: dict[str, str] = {}


def read_news(path: str) -> tuple[NewsItem, ...]:
    """The file's items; none for no file or a bad one (logged once per change)."""
    if not path:
        return ()
    cached = _FILES.get(path)
    if cached is None:
        cached = _FILES[path] = CachedToml(
            path, lambda data, text: parse_news(path, data, text))
    try:
        return cached.get() or ()
    except TomlError as problem:
        if _REPORTED.get(path) != str(problem):
            _REPORTED[path] = str(problem)
            _LOG.error("Site news not shown: %s", problem)
        return ()


def maintenance_ahead(items: tuple[NewsItem, ...], now: datetime.datetime,
                      hours: int) -> Optional[NewsItem]:
    """The first maintenance that a notebook started ``now`` for ``hours`` reaches."""
    reached = [item for item in items if item.start is not None and item.shown(now)
               and item.start < now + datetime.timedelta(hours=hours)]
    return min(reached, key=lambda item: item.start) if reached else None  # type: ignore


_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True, undefined=jinja2.StrictUndefined,
)


def render_news(items: tuple[NewsItem, ...], now: datetime.datetime) -> Markup:
    """The HTML of the items still shown, every value escaped."""
    shown = [item for item in items if item.shown(now)]
    if not shown:
        return Markup("")
    html = _TEMPLATES.get_template("news.html").render(items=shown, utc_text=utc_text)
    return Markup(html)  # noqa: S704 - rendered by an autoescaping environment


class NewsVariable:
    """``template_vars["jobwrapper_news"]``: JupyterHub calls it with the user."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __call__(self, user: Any = None) -> Markup:
        try:
            now = datetime.datetime.now(datetime.timezone.utc)
            return render_news(read_news(self.path), now)
        except Exception:  # never break a hub page for the news
            _LOG.exception("Site news not shown")
            return Markup("")


def use_site_news(c: Any, path: str, maintenance_policy: str = "warn") -> None:
    """Show the news file ``path`` on the hub's pages and its maintenance on the form:
    ``use_site_news(c, "/etc/jupyterhub/news.toml")`` in jupyterhub_config.py. Keeps
    the site's template settings; a site with its own ``page.html`` in its
    ``template_paths`` puts ``{{ jobwrapper_news }}`` into it instead."""
    hub = c.JupyterHub
    paths = list(hub.template_paths) if "template_paths" in hub else []
    if not any(os.path.exists(os.path.join(p, "page.html")) for p in paths):
        # a site's own page.html stays in charge; it shows {{ jobwrapper_news }} itself
        hub.template_paths = [HUB_TEMPLATES, *paths]
    variables = dict(hub.template_vars) if "template_vars" in hub else {}
    hub.template_vars = {**variables, "jobwrapper_news": NewsVariable(path)}
    c.SiteNews.path = path
    c.SiteNews.maintenance_policy = maintenance_policy
