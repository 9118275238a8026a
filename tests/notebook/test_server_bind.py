"""Where the server listens in TCP mode: 127.0.0.1 (loopback), or in direct mode the
execute host's own address (server.direct_address, else what the machine ad's
Machine resolves to), never all interfaces; the hub's JOBWRAPPER_SERVER_BIND wins
over server.bind. Pure functions with a fake resolver: no DNS, no server."""

from __future__ import annotations

import dataclasses
import os
import socket
import sys
from urllib.parse import urlparse

import pytest
from fixtures.jobemu import make_job

from jobwrapper.config import parse_config
from jobwrapper.errors import ServerError
from jobwrapper.job.classad import Ad
from jobwrapper.job.context import HostLimits, read_context
from jobwrapper.job.plan import plan
from jobwrapper.notebook import server
from jobwrapper.notebook.doctor import check_server_bind
from jobwrapper.notebook.launch import lab_message
from jobwrapper.notebook.plan import EnvironmentChanges, NotebookInputs, plan_notebook

DIRECT = '[server]\nbind = "direct"\n'


def _config(text: str = ""):
    return parse_config(text, "/etc/jobwrapper/config.toml")


def _machine(name: str | None = "wn1.example.org") -> Ad:
    ad = Ad(source="/scratch/.machine.ad")
    if name is not None:
        ad.set("Machine", name)
    return ad


class FakeResolver:
    """Answers from a table and records what it was asked."""

    def __init__(self, table: dict[str, list[str]] | None = None,
                 error: Exception | None = None) -> None:
        self.table, self.error, self.asked = table or {}, error, []

    def __call__(self, name: str) -> list[str]:
        self.asked.append(name)
        if self.error is not None:
            raise self.error
        return self.table[name]


def _never(name: str) -> list[str]:
    raise AssertionError(f"resolved {name!r}, but nothing needed resolving")


def test_loopback_by_default_without_resolving() -> None:
    bind = server.bind_address(_config(), {}, _machine(), _never)
    assert (bind.choice, bind.address) == ("loopback", "127.0.0.1")
    assert bind.reason == "server.bind's default; /etc/jobwrapper/config.toml does not set it"


def test_direct_takes_the_explicit_address_without_resolving() -> None:
    config = _config(DIRECT + 'direct_address = "10.1.2.3"\n')
    bind = server.bind_address(config, {}, _machine(), _never)
    assert (bind.choice, bind.address, bind.source) == ("direct", "10.1.2.3",
                                                        "server.direct_address")


def test_direct_resolves_the_machine_ads_machine_name() -> None:
    resolve = FakeResolver({"wn1.example.org": ["10.0.0.7", "10.0.0.8"]})
    bind = server.bind_address(_config(DIRECT), {}, _machine(), resolve)
    assert resolve.asked == ["wn1.example.org"]
    assert bind.address == "10.0.0.7"
    assert "wn1.example.org" in bind.source and "Machine" in bind.source


def test_direct_skips_unspecified_addresses_and_takes_ipv6() -> None:
    resolve = FakeResolver({"wn1.example.org": ["0.0.0.0", "::", "fd00::2", "10.0.0.7"]})
    assert server.bind_address(_config(DIRECT), {}, _machine(), resolve).address == "fd00::2"


def test_direct_without_machine_in_the_ad_resolves_this_hosts_fqdn(monkeypatch) -> None:
    monkeypatch.setattr(socket, "getfqdn", lambda *args: "self.example.org")
    resolve = FakeResolver({"self.example.org": ["192.0.2.9"]})
    bind = server.bind_address(_config(DIRECT), {}, _machine(None), resolve)
    assert resolve.asked == ["self.example.org"] and bind.address == "192.0.2.9"


def test_direct_name_that_does_not_resolve_is_one_line_with_the_fix() -> None:
    resolve = FakeResolver(error=socket.gaierror(socket.EAI_NONAME,
                                                 "Name or service not known"))
    with pytest.raises(ServerError) as caught:
        server.bind_address(_config(DIRECT), {}, _machine(), resolve)
    message = str(caught.value)
    assert "\n" not in message
    assert "cannot resolve" in message and "'wn1.example.org'" in message
    assert "Name or service not known" in message
    assert message.endswith("set server.direct_address to the address the hub reaches")


def test_direct_name_that_resolves_only_to_unspecified_addresses_is_an_error() -> None:
    resolve = FakeResolver({"wn1.example.org": ["0.0.0.0"]})
    with pytest.raises(ServerError, match=r"no usable address for direct mode "
                                          r"\(0\.0\.0\.0\); set server\.direct_address"):
        server.bind_address(_config(DIRECT), {}, _machine(), resolve)


def test_the_hubs_direct_wins_over_a_loopback_site_config() -> None:
    resolve = FakeResolver({"wn1.example.org": ["10.0.0.7"]})
    environ = {server.SERVER_BIND_ENV: "direct"}
    bind = server.bind_address(_config('[server]\nbind = "loopback"\n'), environ, _machine(),
                               resolve)
    assert (bind.choice, bind.address) == ("direct", "10.0.0.7")
    assert bind.reason == "asked by the hub (JOBWRAPPER_SERVER_BIND)"


def test_the_hubs_loopback_wins_over_a_direct_site_config() -> None:
    environ = {server.SERVER_BIND_ENV: "loopback"}
    bind = server.bind_address(_config(DIRECT), environ, _machine(), _never)
    assert (bind.choice, bind.address) == ("loopback", "127.0.0.1")


def test_a_bad_bind_from_the_hub_is_one_line_naming_the_variable() -> None:
    with pytest.raises(ServerError) as caught:
        server.bind_address(_config(), {server.SERVER_BIND_ENV: "all"}, _machine(), _never)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("JOBWRAPPER_SERVER_BIND='all' in the job's environment")
    assert "'loopback' or 'direct'" in message and "hub" in message


def test_socket_mode_refuses_direct_asked_by_the_hub() -> None:
    environ = {server.SERVER_BIND_ENV: "direct"}
    with pytest.raises(ServerError, match=r"direct mode \(asked by the hub .*socket mode"):
        server.server_mode(_config('[server]\nmode = "socket"\n'), environ)


def test_socket_mode_with_a_direct_site_config_is_fine_when_the_hub_says_loopback() -> None:
    environ = {server.SERVER_BIND_ENV: "loopback", server.SERVER_MODE_ENV: "socket"}
    assert server.server_mode(_config(DIRECT), environ)[0] == "socket"


def test_ipv6_address_is_bracketed_in_the_service_url() -> None:
    url = server.service_url("http://127.0.0.1:8888/user/alice/", "fd00::2", 41234)
    assert url == "http://[fd00::2]:41234/user/alice/"
    parsed = urlparse(url)  # as jupyterhub-singleuser reads it
    assert (parsed.hostname, parsed.port) == ("fd00::2", 41234)


def test_ipv6_address_in_the_server_config_and_argv_and_remote_access() -> None:
    settings = server.jupyter_config(config=_config(DIRECT), root_dir="/s/jupyter",
                                     ip="fd00::2", memory_bytes=None, cores=1, scratch_dir="/s")
    assert settings["ServerApp"]["ip"] == "fd00::2"
    assert settings["ServerApp"]["allow_remote_access"] is True
    assert "--ServerApp.ip=fd00::2" in server.server_argv("singleuser", "fd00::2", "/s/j")


def test_lab_message_in_direct_mode_forwards_to_the_hosts_address() -> None:
    text = lab_message("7.0", "Rocky9", 41234, "tok", "/p/lab-token", False, ip="fd00::2")
    assert "is starting on [fd00::2]:41234" in text
    assert '-L 8888:[fd00::2]:41234" 7.0' in text


def test_plan_notebook_in_direct_mode_binds_the_resolved_address(tmp_path) -> None:
    context = read_context(make_job(tmp_path / "scratch"), _config(DIRECT),
                           host=HostLimits(cores=2, memory_mb=None))
    context = dataclasses.replace(context, machine_ad=_machine())
    inputs = NotebookInputs(EnvironmentChanges("stable", python=sys.executable), (), {})
    resolve = FakeResolver({"wn1.example.org": ["10.0.0.7"]})
    _, notebook = plan_notebook(context, plan(context, os.getuid()), inputs, "lab",
                                resolve=resolve)
    assert notebook.ip == "10.0.0.7"
    assert "--ServerApp.ip=10.0.0.7" in notebook.argv
    assert notebook.jupyter_config["ServerApp"]["ip"] == "10.0.0.7"
    assert "bind: direct (server.bind in /etc/jobwrapper/config.toml): 10.0.0.7" in str(notebook)


# ---- doctor's "server bind" row -------------------------------------------------------


def _doctor_context(tmp_path, config_text: str, **environ: str):
    context = read_context({**make_job(tmp_path / "scratch"), **environ}, _config(config_text),
                           host=HostLimits(cores=2, memory_mb=None))
    return dataclasses.replace(context, machine_ad=_machine())


def test_doctor_direct_asked_by_the_hub_is_ok_and_names_the_address(tmp_path) -> None:
    context = _doctor_context(tmp_path, "", JOBWRAPPER_SERVER_BIND="direct")
    row, address = check_server_bind(context, FakeResolver({"wn1.example.org": ["10.0.0.7"]}))
    assert (row.status, address) == ("OK", "10.0.0.7")
    assert row.detail.startswith("direct (asked by the hub (JOBWRAPPER_SERVER_BIND)): 10.0.0.7")


def test_doctor_direct_from_the_site_config_alone_fails_with_the_fix(tmp_path) -> None:
    context = _doctor_context(tmp_path, DIRECT)
    row, _ = check_server_bind(context, FakeResolver({"wn1.example.org": ["10.0.0.7"]}))
    assert row.status == "FAIL"
    assert "no hub asked for it" in row.detail and "10.0.0.7" in row.detail
    assert 'set server.bind = "loopback"' in row.detail


def test_doctor_direct_asked_by_the_hub_fails_when_the_name_does_not_resolve(tmp_path) -> None:
    context = _doctor_context(tmp_path, "", JOBWRAPPER_SERVER_BIND="direct")
    resolve = FakeResolver(error=socket.gaierror(socket.EAI_NONAME, "Name or service not known"))
    row, address = check_server_bind(context, resolve)
    assert (row.status, address) == ("FAIL", "")
    assert row.detail.endswith("set server.direct_address to the address the hub reaches")


def test_without_a_site_config_the_reason_says_so() -> None:
    bind = server.bind_address(parse_config("", ""), {}, _machine(), _never)
    assert bind.reason == "server.bind's default; there is no site config"


def test_a_site_config_that_sets_bind_is_named() -> None:
    reason = server.server_bind(_config('[server]\nbind = "loopback"\n'), {})[1]
    assert reason == "server.bind in /etc/jobwrapper/config.toml"


def test_terminal_shell_prefers_the_site_then_the_job_then_passwd_then_bash() -> None:
    site = _config('[server]\nterminal_shell = "/bin/zsh"\n')
    assert server.terminal_shell(site, {"SHELL": "/bin/tcsh"}, "/bin/dash") == {"SHELL": "/bin/zsh"}
    assert server.terminal_shell(_config(), {"SHELL": "/bin/tcsh"}, "/bin/dash") == {
        "SHELL": "/bin/tcsh"}
    assert server.terminal_shell(_config(), {}, "/bin/dash") == {"SHELL": "/bin/dash"}
    assert server.terminal_shell(_config(), {}, "") == {"SHELL": "/bin/bash"}


def test_a_nologin_shell_in_passwd_is_no_login_shell(monkeypatch) -> None:
    import pwd
    from types import SimpleNamespace

    monkeypatch.setattr(pwd, "getpwuid", lambda uid: SimpleNamespace(pw_shell="/usr/sbin/nologin"))
    assert server.login_shell(1000) == ""


def test_a_relative_terminal_shell_is_refused_naming_the_key() -> None:
    from jobwrapper.errors import ConfigError

    with pytest.raises(ConfigError, match="terminal_shell: must be an absolute path"):
        _config('[server]\nterminal_shell = "bash"\n')


def test_lab_message_in_a_slurm_job_forwards_with_ssh_to_the_node() -> None:
    text = lab_message("42", "Rocky9", 41234, "tok", "/p/lab-token", False,
                       slurm_node="node7")
    assert "    ssh -N -L 8888:localhost:41234 -J LOGIN-NODE node7\n" in text
    assert "condor_ssh_to_job" not in text
