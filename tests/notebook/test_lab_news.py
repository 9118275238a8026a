"""JupyterLab does not ask about (or fetch) "official Jupyter news" in jobs by default.

The unit tests check the site config key and the plan; one real ``jobwrapper lab``
shows that JupyterLab's settings API reports the effective ``fetchNews`` as "false".
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from notebook_helpers import (
    http_get,
    needs_lmod,
    running_lab,
    site_config_text,
)

from jobwrapper.config import parse_config
from jobwrapper.errors import ConfigError
from jobwrapper.notebook.server import setting_overrides

NOTIFICATION = "@jupyterlab/apputils-extension:notification"


def fetch_news(config_text: str) -> str:
    return setting_overrides(parse_config(config_text, "site.toml"))[NOTIFICATION]["fetchNews"]


def test_news_are_never_fetched_by_default() -> None:
    assert fetch_news("") == "false"


def test_a_site_can_let_jupyterlab_ask_or_always_fetch() -> None:
    assert fetch_news('[jupyterlab]\nnews = "ask"\n') == "none"
    assert fetch_news('[jupyterlab]\nnews = "always"\n') == "true"


def test_another_news_value_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"jupyterlab\.news: must be one of: never, ask, always"):
        parse_config('[jupyterlab]\nnews = "false"\n', "site.toml")


@pytest.fixture(scope="module")
def lab_settings(tmp_path_factory, module_tree, cvmfs_venv) -> Iterator[tuple[int, str, Path]]:
    """A real `jobwrapper lab` with the default site config: (port, token, scratch)."""
    base = tmp_path_factory.mktemp("newsjob")
    with running_lab(base, site_config_text(module_tree, cvmfs_venv)) as started:
        _, scratch, port, token = started
        yield port, token, scratch


@needs_lmod
def test_the_running_lab_says_fetch_news_never(lab_settings) -> None:
    port, token, _ = lab_settings
    status, body = http_get(f"http://127.0.0.1:{port}/lab/api/settings/{NOTIFICATION}", token)
    assert status == 200, body[:300]
    setting = json.loads(body)
    default = setting["schema"]["properties"]["fetchNews"]["default"]
    effective = setting["settings"].get("fetchNews", default)  # what JupyterLab's composite is
    assert (default, effective) == ("false", "false")  # a default: users may still choose


@needs_lmod
def test_the_default_is_in_the_jobs_private_labconfig(lab_settings) -> None:
    _, _, scratch = lab_settings
    written = scratch / ".jobwrapper" / "etc" / "jupyter" / "labconfig"
    overrides = json.loads((written / "default_setting_overrides.json").read_text())
    assert overrides == {NOTIFICATION: {"fetchNews": "false"}}
