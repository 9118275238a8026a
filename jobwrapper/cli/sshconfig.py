"""``jobwrapper ssh-config JOBID``: `ssh job-N` and VS Code Remote-SSH into a job.

The recipe (checked on HTCondor 25.0.13, see docs/users.md and docs/localpool.md):
the Host block's ProxyCommand is ``condor_ssh_to_job -ssh WRAPPER JOBID``. The job's
sshd has no TCP port, so ``ssh -W`` cannot reach it; instead condor_ssh_to_job runs
WRAPPER the way it would run ssh::

    WRAPPER -oUser=condor-user -oIdentityFile=DIR/ssh_key -oStrictHostKeyChecking=yes
            -oUserKnownHostsFile=DIR/known_hosts -oGlobalKnownHostsFile=DIR/known_hosts
            '-oProxyCommand="condor_ssh_to_job" "-proxy" "DIR/fdpass"' condor-job.HOST

with the ProxyCommand's stdin and stdout, which are the outer ssh's transport. WRAPPER
(``python -m jobwrapper.cli.sshconfig``, this module's ``__main__``) adds the session's
key to the ssh-agent at $SSH_AUTH_SOCK for 60 s (starting an agent there if none
answers) and execs condor's own proxy command, so the outer ssh (the user's, or VS
Code's) talks to the job's sshd directly and authenticates with that key from the agent.
Nothing goes through a shell: the proxy command is split with shlex and exec'd.
From a laptop the ProxyCommand is ``ssh -A SUBMIT ...``: the key is added to the
laptop's agent through the forwarded agent.
"""

from __future__ import annotations

import getpass
import os
import re
import shlex
import shutil
import socket
import stat
import subprocess
import sys
from pathlib import Path
from typing import NoReturn, Optional

import click

from jobwrapper.errors import JobwrapperError

WRAPPER_NAME = "jobwrapper-ssh-proxy"
AGENT_NAME = "jobwrapper-agent.sock"
KEY_LIFETIME = 60
_JOB_ID = re.compile(r"^[0-9]{1,10}(\.[0-9]{1,6})?$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_HOST = re.compile(r"^([A-Za-z0-9._-]+@)?[A-Za-z0-9][A-Za-z0-9.:_-]{0,252}$")


class SshConfigError(JobwrapperError):
    """A job id, name or jump host that cannot go into an ssh config."""


def check_job_id(job_id: str) -> str:
    """CLUSTER or CLUSTER.PROC, digits only."""
    if not _JOB_ID.match(job_id):
        raise SshConfigError(f"not a job id: {job_id!r} (expected e.g. 123 or 123.0)")
    return job_id


def wrapper_text(python: str = sys.executable) -> str:
    """The wrapper script: this module's proxy under the current interpreter."""
    return f"#!/bin/sh\nexec {shlex.quote(python)} -m jobwrapper.cli.sshconfig \"$@\"\n"


def install_wrapper(directory: Path) -> Path:
    """Write the wrapper into ``directory`` (mode 0755) unless it is already there."""
    path = directory / WRAPPER_NAME
    text = wrapper_text()
    if path.exists() and path.read_text() == text:
        return path
    directory.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{WRAPPER_NAME}.{os.getpid()}")
    temporary.write_text(text)
    temporary.chmod(0o755)
    temporary.replace(path)
    return path


def host_block(job_id: str, name: str, wrapper: Path, *, jump: Optional[str] = None,
               condor_ssh_to_job: str = "condor_ssh_to_job",
               agent: Optional[Path] = None, user: Optional[str] = None) -> str:
    """The ssh config Host block for ``ssh NAME`` into job ``job_id``.

    The login is the submit host's user (the job's owner): HTCondor's sshd takes it
    as well as condor-user, the local pool's sshd only the owner's own name.
    """
    check_job_id(job_id)
    if not _NAME.match(name):
        raise SshConfigError(f"not a usable host name: {name!r}")
    remote = [condor_ssh_to_job, "-auto-retry", "-ssh", str(wrapper), job_id]
    if jump is not None:
        if not _HOST.match(jump):
            raise SshConfigError(f"not a usable jump host: {jump!r}")
        proxy = ["ssh", "-A", "-T", "-o", "BatchMode=no", "--", jump,
                 shlex.join(remote)]
        agent_line = []
    else:
        agent = agent or Path.home() / ".ssh" / AGENT_NAME
        proxy = ["env", f"SSH_AUTH_SOCK={agent}", *remote]
        agent_line = [f"    IdentityAgent {shlex.quote(str(agent))}"]
    lines = [
        f"Host {name}",
        f"    ProxyCommand {shlex.join(proxy)}".replace("%", "%%"),
        f"    User {user or getpass.getuser()}",
        *agent_line,
        "    # the transport is condor_ssh_to_job's authenticated channel; the job's",
        "    # host key is new for each session",
        "    StrictHostKeyChecking no",
        "    UserKnownHostsFile /dev/null",
        "    LogLevel ERROR",
        "    ServerAliveInterval 30",
    ]
    return "\n".join(lines) + "\n"


@click.command("ssh-config")
@click.argument("job_id")
@click.option("--name", default=None, metavar="NAME",
              help="Host name for ssh and VS Code (default: job-CLUSTER).")
@click.option("--jump", default=None, metavar="[USER@]HOST",
              help="For a laptop: reach condor_ssh_to_job through this submit host.")
@click.option("--bin-dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("~/.local/bin"), show_default=True,
              help="Where the wrapper script goes (on the submit host).")
def ssh_config_command(job_id: str, name: Optional[str], jump: Optional[str],
                       bin_dir: Path) -> None:
    """Print an ssh config Host block for `ssh job-N` / VS Code Remote-SSH into a job.

    Installs the small wrapper that condor_ssh_to_job runs in place of ssh
    (BIN_DIR/jobwrapper-ssh-proxy) and prints the block for ~/.ssh/config. With
    --jump, run this on the submit host and put the block in the laptop's config.
    """
    check_job_id(job_id)
    name = name or f"job-{job_id.partition('.')[0]}"
    try:
        wrapper = install_wrapper(bin_dir.expanduser())
    except OSError as error:
        raise SshConfigError(f"cannot install the wrapper in {bin_dir}: "
                             f"{error.strerror or error}") from None
    found = shutil.which("condor_ssh_to_job")
    command = found if found and jump is None else "condor_ssh_to_job"
    click.echo(host_block(job_id, name, wrapper, jump=jump, condor_ssh_to_job=command), nl=False)


def _options(argv: list[str]) -> dict[str, str]:
    """``-oKey=value`` arguments as given by condor_ssh_to_job (keys lowercased)."""
    found: dict[str, str] = {}
    for argument in argv:
        if argument.startswith("-o") and "=" in argument:
            key, _, value = argument[2:].partition("=")
            found[key.strip().lower()] = value
    return found


def _agent_answers(path: str) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
        return True
    except OSError:
        return False
    finally:
        probe.close()


def _start_agent(path: str) -> None:
    """An ssh-agent listening at ``path`` (a stale socket file is removed first)."""
    try:
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
    except FileNotFoundError:
        pass
    Path(path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    subprocess.run(["ssh-agent", "-a", path], stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, check=True)


def proxy_main(argv: list[str]) -> NoReturn:
    """The wrapper: add the session key to the agent, then exec condor's proxy."""
    options = _options(argv)
    key, proxy = options.get("identityfile"), options.get("proxycommand")
    agent = os.environ.get("SSH_AUTH_SOCK")
    if not key or not proxy or not agent:
        print(f"{WRAPPER_NAME}: needs -oIdentityFile, -oProxyCommand (from "
              "condor_ssh_to_job -ssh) and SSH_AUTH_SOCK", file=sys.stderr)
        sys.exit(255)
    if not _agent_answers(agent):
        _start_agent(agent)
    # stdout is the ssh transport: nothing may be written there
    subprocess.run(["ssh-add", "-q", "-t", str(KEY_LIFETIME), key], stdin=subprocess.DEVNULL,
                   stdout=sys.stderr.fileno(), check=False)
    command = shlex.split(proxy)
    try:
        os.execvp(command[0], command)  # noqa: S606 (no shell: argv from condor)
    except OSError as error:
        print(f"{WRAPPER_NAME}: {command[0]}: {error.strerror}", file=sys.stderr)
        sys.exit(255)


if __name__ == "__main__":
    proxy_main(sys.argv[1:])
