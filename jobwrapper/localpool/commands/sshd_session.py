"""`condor_ssh_to_job -ssh PROGRAM JOBID` when PROGRAM is not ssh: a real sshd session.

HTCondor 25.0 (cross-checked) starts an sshd in the job for each session and runs
the -ssh program in place of ssh, with these arguments and its own stdio::

    PROGRAM -oUser=condor-user -oIdentityFile=DIR/ssh_key -oStrictHostKeyChecking=yes
            -oUserKnownHostsFile=DIR/known_hosts -oGlobalKnownHostsFile=DIR/known_hosts
            '-oProxyCommand="condor_ssh_to_job" "-proxy" "DIR/fdpass"' condor-job.HOST

The local pool does the same (this is what `jobwrapper ssh-config` relies on): DIR
holds a fresh client key, host key and sshd_config; `condor_ssh_to_job -proxy
DIR/fdpass` runs `/usr/sbin/sshd -i` (inetd mode: the connection is its stdio) as the
job's owner, in the job's namespaces and with the job's environment (SetEnv). What
differs: sshd accepts only the job owner's own name as the login (not condor-user),
sessions start in the owner's home, not the job's scratch dir, and without
/usr/sbin/sshd the local pool refuses such a -ssh program.
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from jobwrapper.localpool.config import PoolLayout
from jobwrapper.localpool.execute import netns, sessions
from jobwrapper.localpool.execute.processes import SSH_SESSION_VARIABLE
from jobwrapper.localpool.records import JobRecord, load_record, read_json

SSHD = "/usr/sbin/sshd"
SESSION_USER = "condor-user"  # USER and LOGNAME in an ssh_to_job session
EXIT_SSH = 255  # ssh's exit code for its own failures
NOT_IN_QUEUE = "Unable to fetch job ad; is it still in the queue?"


class SessionError(Exception):
    """A message for stderr and exit code 1."""


def is_ssh(program: str) -> bool:
    """Whether -ssh names ssh itself (the local pool then forwards and runs commands)."""
    return os.path.basename(program) == "ssh"


def _keygen(path: Path, comment: str) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment,
                    "-f", str(path)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   check=True)
    return path.with_suffix(".pub").read_text().strip()


def _set_env(environment: dict[str, str]) -> list[str]:
    """The sshd_config SetEnv line (sshd takes only the first SetEnv line); values sshd
    could not parse back are left out."""
    pairs = [f'{name}="{value}"' for name, value in sorted(environment.items())
             if name.isidentifier() and not any(c in value for c in '"\n\\')]
    return [f"SetEnv {' '.join(pairs)}"] if pairs else []


def _prepare(job: JobRecord, host: str) -> Path:
    """DIR with keys, known_hosts and sshd_config, owned by the job's owner."""
    owner = pwd.getpwuid(job.owner_uid)
    directory = Path(tempfile.mkdtemp(prefix=f"{owner.pw_name}.condor_ssh_to_job_"))
    public = _keygen(directory / "ssh_key", f"condor_ssh_to_job {job.cluster}")
    host_public = _keygen(directory / "host_key", host)
    (directory / "authorized_keys").write_text(public + "\n")
    (directory / "known_hosts").write_text(f"{host} {host_public}\n")
    (directory / "cluster").write_text(f"{job.cluster}\n")
    saved = read_json(job.path / "environ.json")
    environment = dict(saved["environment"], **{SSH_SESSION_VARIABLE: str(os.getpid())})
    config = [
        f"HostKey {directory / 'host_key'}",
        f"AuthorizedKeysFile {directory / 'authorized_keys'}",
        f"AllowUsers {owner.pw_name}",
        "PidFile none", "UsePAM no", "StrictModes no", "PasswordAuthentication no",
        "KbdInteractiveAuthentication no", "AllowTcpForwarding local",
        "X11Forwarding no", "LogLevel ERROR", "Subsystem sftp internal-sftp",
        *_set_env(environment),
    ]
    (directory / "sshd_config").write_text("\n".join(config) + "\n")
    if os.getuid() == 0 and job.owner_uid != 0:
        for path in (directory, *directory.iterdir()):
            os.chown(path, job.owner_uid, owner.pw_gid)
    return directory


def run_program(job: JobRecord, program: list[str], proxy: str, host: str) -> int:
    """Run the -ssh program as HTCondor does, for one session; our exit code is its."""
    if not os.access(SSHD, os.X_OK):
        print(f"the local pool runs -ssh {program[0]} only with a real sshd ({SSHD} "
              "is missing)", file=sys.stderr)
        return 1
    directory = _prepare(job, host)
    try:
        fdpass = directory / "fdpass"
        arguments = [
            f"-oUser={SESSION_USER}", f"-oIdentityFile={directory / 'ssh_key'}",
            "-oStrictHostKeyChecking=yes",
            f"-oUserKnownHostsFile={directory / 'known_hosts'}",
            f"-oGlobalKnownHostsFile={directory / 'known_hosts'}",
            "-oProxyCommand=" + " ".join(f'"{part}"' for part in (proxy, "-proxy", fdpass)),
            host,
        ]
        with sessions.registered(job.path):
            return wait_passing_interrupts(subprocess.Popen([*program, *arguments]))
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def as_owner(uid: int) -> dict[str, object]:
    """Popen arguments that switch to the job's owner when the caller is root."""
    if os.getuid() != 0 or uid == 0:
        return {}
    account = pwd.getpwuid(uid)
    return {"user": uid, "group": account.pw_gid, "extra_groups": os.getgrouplist(
        account.pw_name, account.pw_gid)}


def in_job_namespace(job: JobRecord):
    """A preexec_fn that enters the job's network namespace; None when it has none."""
    return netns.preexec(job.shadow.netns_pid) if job.shadow and job.shadow.netns_pid else None


def wait_passing_interrupts(process: subprocess.Popen) -> int:
    """Wait for `process`, passing Ctrl-C on to it as ssh does; its exit code, with
    ssh's 255 for a death by signal."""
    while True:
        try:
            code = process.wait()
            break
        except KeyboardInterrupt:
            process.send_signal(signal.SIGINT)
    return code if code >= 0 else EXIT_SSH


def proxy(argv: list[str], layout: PoolLayout) -> int:
    """`condor_ssh_to_job -proxy DIR/fdpass`: sshd -i for the session, on our stdio."""
    if len(argv) != 1:
        print("Usage: condor_ssh_to_job -proxy DIR/fdpass", file=sys.stderr)
        return 1
    directory = Path(argv[0]).parent
    try:
        cluster = int((directory / "cluster").read_text())
    except (OSError, ValueError):
        print(f"condor_ssh_to_job -proxy: no session in {directory}", file=sys.stderr)
        return 1
    job = load_record(layout, cluster)
    if job is None or job.status != 2:
        print(NOT_IN_QUEUE, file=sys.stderr)
        return 1
    saved = read_json(job.path / "environ.json")
    command = [SSHD, "-i", "-e", "-f", str(directory / "sshd_config")]
    with sessions.registered(job.path):
        process = subprocess.Popen(command, cwd=saved["cwd"], env={"PATH": os.defpath},
                                   preexec_fn=in_job_namespace(job), **as_owner(job.owner_uid))
        code = process.wait()
    return code if code >= 0 else EXIT_SSH


def split_program(ssh_command: str) -> list[str]:
    """The -ssh value as HTCondor splits it (no shell)."""
    return shlex.split(ssh_command)
