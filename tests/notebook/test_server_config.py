"""The server's configuration as data: bind address, proxies, limits, extensions."""

from __future__ import annotations

from jobwrapper.config import parse_config
from jobwrapper.server import (
    bind_address,
    disabled_extensions,
    jupyter_config,
    proxy_servers,
    service_url,
)


def _config(text: str = ""):
    return parse_config(text, "site.toml")


def test_server_binds_loopback_by_default() -> None:
    assert bind_address(_config()) == "127.0.0.1"


def test_direct_mode_binds_all_interfaces_and_allows_remote_access() -> None:
    config = _config('[server]\nbind = "direct"\n')
    settings = jupyter_config(config=config, root_dir="/s/jupyter", ip=bind_address(config),
                              memory_bytes=None, cores=1, scratch_dir="/s")
    assert settings["ServerApp"]["ip"] == "0.0.0.0"
    assert settings["ServerApp"]["allow_remote_access"] is True


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
