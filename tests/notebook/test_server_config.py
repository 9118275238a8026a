"""The server's configuration as data: proxies, limits, extensions (the bind address:
test_server_bind.py)."""

from __future__ import annotations

from jobwrapper.config import parse_config
from jobwrapper.notebook.server import (
    disabled_extensions,
    jupyter_config,
    proxy_servers,
    service_url,
)


def _config(text: str = ""):
    return parse_config(text, "site.toml")


def test_site_proxies_become_server_proxy_entries() -> None:
    config = _config('[proxies.rstudio]\ncommand = ["rserver", "--www-socket={unix_socket}"]\n'
                     'title = "RStudio"\n')
    assert proxy_servers(config) == {"rstudio": {
        "command": ["rserver", "--www-socket={unix_socket}"], "timeout": 30, "environment": {},
        "unix_socket": True, "absolute_url": False,
        "launcher_entry": {"enabled": True, "title": "RStudio"}}}


def test_extensions_disabled_for_this_os_and_for_every_os() -> None:
    config = _config('[jupyterlab.disabled_extensions]\n"*" = ["a"]\nRocky9 = ["b"]\n'
                     'Debian12 = ["c"]\n')
    assert disabled_extensions(config, "Rocky9") == ["a", "b"]


def test_resource_usage_gets_job_limits_and_hides_host_usage() -> None:
    settings = jupyter_config(config=_config(), root_dir="/s/jupyter", ip="127.0.0.1",
                              memory_bytes=2 << 30, cores=4, scratch_dir="/s")
    usage = settings["ResourceUseDisplay"]
    assert (usage["mem_limit"], usage["cpu_limit"]) == (2 << 30, 4.0)
    assert usage["show_host_usage"] is False and usage["track_cpu_percent"] is True


def test_lab_token_goes_into_the_config_file_not_argv() -> None:
    settings = jupyter_config(config=_config(), root_dir="/r", ip="127.0.0.1",
                              memory_bytes=None, cores=1, scratch_dir=None, token="t0k",
                              lab=True)
    assert settings["IdentityProvider"] == {"token": "t0k"}


def test_service_url_keeps_the_hub_prefix_and_takes_our_port() -> None:
    assert (service_url("http://127.0.0.1:8888/user/alice/", "127.0.0.1", 41234)
            == "http://127.0.0.1:41234/user/alice/")
