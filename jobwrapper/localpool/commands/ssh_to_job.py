"""`condor_ssh_to_job [-auto-retry] [-ssh "ssh OPTIONS"] JOBID [CMD...]`.

For a running job of the caller (root may use any job) it runs CMD as the job's
owner in the job's environment and working dir, and/or forwards -L ports and unix
sockets until killed or until the job leaves the queue. Failures print HTCondor's
messages and exit 1; a forward that cannot listen with ExitOnForwardFailure=yes
exits 255 with ssh's messages, as ssh itself does.

As on HTCondor 25.0 (cross-checked): with -N the forwarding runs in a child process
(a real condor_ssh_to_job runs ssh as its child). SIGTERM to the condor_ssh_to_job
process alone kills it silently and leaves the child forwarding; SIGTERM to the
process group ends both, silently (ssh reports signals only with -v). The hub-side
unix socket stays in place when forwarding ends, as OpenSSH leaves it. CMD runs
through the shell named by the caller's $SHELL (ssh_to_job asks the starter for it;
/bin/bash when unset), so a caller whose $SHELL is nologin gets nologin's message.
A -ssh program that is not ssh gets a real sshd for the session, as HTCondor does
(sshd_session.py; `jobwrapper ssh-config` relies on it).
"""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

from jobwrapper.localpool.commands import sshd_session
from jobwrapper.localpool.commands.forward import Forwarder, ForwardFailure, connect_local
from jobwrapper.localpool.commands.remove import may_manage
from jobwrapper.localpool.commands.ssh_options import (
    Forward,
    SshOptionError,
    SshOptions,
    parse_ssh_command,
)
from jobwrapper.localpool.commands.sshd_session import EXIT_SSH, NOT_IN_QUEUE, SESSION_USER
from jobwrapper.localpool.config import PoolConfig, PoolLayout
from jobwrapper.localpool.execute import netns, sessions
from jobwrapper.localpool.execute.processes import SSH_SESSION_VARIABLE
from jobwrapper.localpool.records import JobRecord, RecordWatch, load_record, read_json
from jobwrapper.signalflag import SignalFlag

RETRY_HINT = "(Use -auto-retry to keep trying periodically.)"
WAITING = "Waiting for job to start..."
USAGE = "Usage: condor_ssh_to_job [-auto-retry] [-ssh \"ssh OPTIONS\"] <job-id> [command]"


class SshToJobError(Exception):
    """A message for stderr and exit code 1."""


def _parse_argv(argv: list[str]) -> tuple[bool, str, str, list[str]]:
    """(auto_retry, ssh command, job id, remote command)."""
    auto_retry, ssh_command = False, "ssh"
    index = 0
    while index < len(argv) and argv[index].startswith("-"):
        option = argv[index].lower().lstrip("-")
        if option in ("auto-retry", "autoretry"):
            auto_retry = True
        elif option == "ssh" and index + 1 < len(argv):
            ssh_command = argv[index + 1]
            index += 1
        elif option in ("x", "debug", "remove-on-interrupt"):
            pass
        else:
            raise SshToJobError(f"unsupported option {argv[index]}; {USAGE}")
        index += 1
    if index >= len(argv):
        raise SshToJobError(USAGE)
    return auto_retry, ssh_command, argv[index], argv[index + 1 :]


def _cluster(job_id: str) -> int:
    cluster, _, proc = job_id.partition(".")
    if not cluster.isdigit() or proc not in ("", "0"):
        raise SshToJobError(f"Invalid job id {job_id}; {USAGE}")
    return int(cluster)


def _ready(job: JobRecord, config: PoolConfig) -> bool:
    shadow = job.shadow
    if job.status != 2 or shadow is None or not shadow.started_at:
        return False
    return time.time() - shadow.started_at >= config.ssh_ready_delay


def wait_for_job(
    layout: PoolLayout, config: PoolConfig, cluster: int, auto_retry: bool
) -> JobRecord:
    """The running, reachable job, or SshToJobError with HTCondor's message."""
    me = pwd.getpwuid(os.getuid()).pw_name
    waiting = False
    while True:
        job = load_record(layout, cluster)
        if job is None:
            raise SshToJobError(NOT_IN_QUEUE)
        if job.status == 5:
            reason = job.ad.get("HoldReason")
            raise SshToJobError(f'The job is on hold: "{reason}".' if reason
                                else "The job is on hold for an unknown reason.")
        if not may_manage(job):
            raise SshToJobError(
                f"{me} is not authorized for access to the starter for job {cluster}.0"
            )
        if _ready(job, config):
            return job
        if not auto_retry:
            raise SshToJobError(RETRY_HINT)
        if not waiting:
            print(WAITING, file=sys.stderr, flush=True)
            waiting = True
        time.sleep(min(0.5, max(0.05, config.ssh_ready_delay / 5)))


def _shell() -> str:
    """The session's shell: the caller's $SHELL if it can be run, else /bin/bash, as the
    starter chooses it (a nologin $SHELL is taken as it is, and refuses)."""
    shell = os.environ.get("SHELL", "")
    return shell if shell and os.access(shell, os.X_OK) else "/bin/bash"


def run_command(job: JobRecord, command: list[str]) -> int:
    """CMD through the owner's shell, in the job's environment and dir (like sshd)."""
    saved = read_json(job.path / "environ.json")
    uid = job.owner_uid
    shell = _shell()
    argv = [shell, "-c", " ".join(command)] if command else [shell, "-l"]
    environment = dict(saved["environment"], USER=SESSION_USER, LOGNAME=SESSION_USER,
                       SHELL=shell, **{SSH_SESSION_VARIABLE: str(os.getpid())})
    process = subprocess.Popen(argv, cwd=saved["cwd"], env=environment,
                               preexec_fn=sshd_session.in_job_namespace(job),
                               **sshd_session.as_owner(uid))
    return sshd_session.wait_passing_interrupts(process)


def _connector(job: JobRecord):
    saved = read_json(job.path / "environ.json")

    def connect(forward: Forward):
        if job.shadow and job.shadow.netns_pid and forward.connect_port is not None:
            return netns.connect_inside(job.shadow.netns_pid, forward.connect_port)
        return connect_local(forward, saved["cwd"])

    return connect


def _host(job: JobRecord) -> str:
    """The name ssh is given for the job's sshd: `condor-job.<machine>`."""
    slot = str(job.ad.get("RemoteHost") or job.ad.get("LastRemoteHost") or "")
    return f"condor-job.{slot.rpartition('@')[2]}"


def _closed_message(job: JobRecord) -> str:
    """What ssh prints when the job's sshd goes away."""
    return f"Connection to {_host(job)} closed by remote host."


def _forward(layout: PoolLayout, job: JobRecord, options: SshOptions) -> int:
    """ssh's part: forward until SIGTERM/SIGINT/SIGHUP (exit 255, silently, as ssh
    without -v) or until the job leaves the queue or stops running."""
    forwarder = Forwarder(options, _connector(job))
    stop = SignalFlag()  # set by signal handlers: no threading.Event
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: stop.set())
    try:
        forwarder.start()
    except ForwardFailure:
        return EXIT_SSH
    with sessions.registered(job.path):
        return _forward_while_running(layout, job, forwarder, stop)


def _forward_while_running(layout: PoolLayout, job: JobRecord, forwarder: Forwarder,
                           stop: SignalFlag) -> int:
    watch = RecordWatch(layout, job.cluster)
    try:
        while not stop.wait(0.25):
            current = watch.current()
            if current is None or current.status != 2:
                print(_closed_message(job), file=sys.stderr)
                return EXIT_SSH
    finally:
        forwarder.close()
    return EXIT_SSH


def forward_until_gone(layout: PoolLayout, job: JobRecord, options: SshOptions) -> int:
    """Forward in a child process (the "ssh"), as condor_ssh_to_job runs ssh; our exit
    code is the child's. Signals kill this process by their default action."""
    sys.stdout.flush()
    sys.stderr.flush()
    child = os.fork()
    if child == 0:
        code = EXIT_SSH
        try:
            code = _forward(layout, job, options)
        except BaseException:  # the child must never return into our code
            traceback.print_exc()
        finally:
            sys.stderr.flush()
            os._exit(code)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
    _, status = os.waitpid(child, 0)
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else EXIT_SSH


def ssh_to_job(argv: list[str], layout: PoolLayout, config: PoolConfig) -> int:
    """The condor_ssh_to_job command; returns its exit code."""
    if argv[:1] == ["-proxy"]:
        return sshd_session.proxy(argv[1:], layout)
    try:
        auto_retry, ssh_command, job_id, command = _parse_argv(argv)
        program = sshd_session.split_program(ssh_command)
        external = bool(program) and not sshd_session.is_ssh(program[0])
        options = SshOptions() if external else parse_ssh_command(ssh_command)
        job = wait_for_job(layout, config, _cluster(job_id), auto_retry)
    except (SshToJobError, SshOptionError, ValueError) as error:
        print(error, file=sys.stderr)
        return 1
    if not Path(job.path / "environ.json").exists():
        print(RETRY_HINT, file=sys.stderr)
        return 1
    if external:
        shim = os.path.abspath(sys.argv[0]) if os.path.isabs(sys.argv[0]) or \
            os.sep in sys.argv[0] else "condor_ssh_to_job"
        return sshd_session.run_program(job, program, shim, _host(job))
    if options.no_command:
        return forward_until_gone(layout, job, options)
    with sessions.registered(job.path):
        if not options.forwards:
            return run_command(job, command)
        forwarder = Forwarder(options, _connector(job))
        try:
            forwarder.start()
        except ForwardFailure:
            return EXIT_SSH
        try:
            return run_command(job, command)
        finally:
            forwarder.close()
