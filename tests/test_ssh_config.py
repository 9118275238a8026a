"""`jobwrapper ssh-config`: the Host block, its validation and the wrapper's arguments.

The end-to-end test (a real OpenSSH client through the local pool's condor_ssh_to_job
to a real sshd in the job) is tests/localpool/test_ssh_config_e2e.py.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from jobwrapper.cli import sshconfig
from jobwrapper.cli.group import cli


def _proxy_command(block: str) -> list[str]:
    (line,) = [line for line in block.splitlines() if line.strip().startswith("ProxyCommand")]
    return shlex.split(line.split(None, 1)[1])


def test_the_block_runs_condor_ssh_to_job_with_the_wrapper(tmp_path: Path):
    block = sshconfig.host_block("123", "job-123", tmp_path / "w", agent=tmp_path / "a.sock",
                                 user="alice")
    assert block.startswith("Host job-123\n")
    assert _proxy_command(block) == ["env", f"SSH_AUTH_SOCK={tmp_path / 'a.sock'}",
                                     "condor_ssh_to_job", "-auto-retry", "-ssh",
                                     str(tmp_path / "w"), "123"]
    assert f"    IdentityAgent {tmp_path / 'a.sock'}\n" in block
    assert "    User alice\n" in block


def test_with_a_jump_the_proxy_is_ssh_with_agent_forwarding(tmp_path: Path):
    block = sshconfig.host_block("7.0", "myjob", Path("/home/a/.local/bin/w"),
                                 jump="alice@submit.example.org")
    proxy = _proxy_command(block)
    assert proxy[:3] == ["ssh", "-A", "-T"]
    assert proxy[-2:] == ["alice@submit.example.org",
                          "condor_ssh_to_job -auto-retry -ssh /home/a/.local/bin/w 7.0"]
    assert "IdentityAgent" not in block


@pytest.mark.parametrize("job_id", ["", "12a", "1;id", "1.0.0", "-1", "1 2", "$(id)"])
def test_job_ids_are_validated(job_id: str):
    with pytest.raises(sshconfig.SshConfigError):
        sshconfig.host_block(job_id, "job", Path("/w"))


@pytest.mark.parametrize("kwargs", [{"name": "a b"}, {"name": "-oProxyCommand=x"},
                                    {"jump": "-oProxyCommand=id"}, {"jump": "h;id"},
                                    {"jump": "h id"}])
def test_names_and_jump_hosts_are_validated(kwargs: dict[str, str]):
    arguments = {"name": "job-1", **kwargs}
    with pytest.raises(sshconfig.SshConfigError):
        sshconfig.host_block("1", arguments.pop("name"), Path("/w"), **arguments)


def test_the_command_installs_the_wrapper_and_prints_the_block(tmp_path: Path):
    result = CliRunner().invoke(cli, ["ssh-config", "42", "--bin-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    wrapper = tmp_path / sshconfig.WRAPPER_NAME
    assert wrapper.stat().st_mode & 0o777 == 0o755
    assert "-m jobwrapper.cli.sshconfig" in wrapper.read_text()
    assert result.output.startswith("Host job-42\n")
    assert _proxy_command(result.output)[-3:] == ["-ssh", str(wrapper), "42"]


def test_the_command_refuses_a_bad_job_id(tmp_path: Path):
    result = CliRunner().invoke(cli, ["ssh-config", "1;id", "--bin-dir", str(tmp_path)])
    assert result.exit_code != 0
    assert not (tmp_path / sshconfig.WRAPPER_NAME).exists()


def test_an_unwritable_bin_dir_is_one_line(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = CliRunner().invoke(cli, ["ssh-config", "1", "--bin-dir", str(blocker / "bin")])
    assert result.exit_code != 0
    assert "cannot install the wrapper" in str(result.exception)


def test_the_wrapper_reads_condor_ssh_to_jobs_arguments():
    # as HTCondor 25.0.13 gives them to the -ssh program
    argv = ["-oUser=condor-user", "-oIdentityFile=/tmp/u.condor_ssh_to_job_x/ssh_key",
            "-oStrictHostKeyChecking=yes",
            "-oUserKnownHostsFile=/tmp/u.condor_ssh_to_job_x/known_hosts",
            "-oGlobalKnownHostsFile=/tmp/u.condor_ssh_to_job_x/known_hosts",
            '-oProxyCommand="condor_ssh_to_job" "-proxy" "/tmp/u.condor_ssh_to_job_x/fdpass"',
            "condor-job.vm"]
    options = sshconfig._options(argv)
    assert options["identityfile"] == "/tmp/u.condor_ssh_to_job_x/ssh_key"
    assert shlex.split(options["proxycommand"]) == [
        "condor_ssh_to_job", "-proxy", "/tmp/u.condor_ssh_to_job_x/fdpass"]
