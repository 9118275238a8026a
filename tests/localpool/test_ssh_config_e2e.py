"""`ssh job-N` with a real OpenSSH client, `jobwrapper ssh-config`'s Host block and
the local pool's condor_ssh_to_job running the wrapper against a real sshd in the job
(the recipe cross-checked on HTCondor 25.0.13: docs/localpool.md)."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from testusers import ensure_users

from jobwrapper.localpool.install import shim_interpreter

from .helpers import RUNUSER, Pool, sleeper, user_dir

SSH_USER = "jwtest-sshcfg"  # a login shell (the pool's other test users have nologin)


@pytest.fixture(scope="module")
def ssh_user() -> str:
    if os.getuid() != 0:
        pytest.skip("needs root to create a test user")
    if not (os.access("/usr/sbin/sshd", os.X_OK) and shutil.which("ssh")
            and shutil.which("ssh-agent")):
        pytest.skip("needs OpenSSH's ssh, ssh-agent and /usr/sbin/sshd")
    ensure_users(SSH_USER, shell="/bin/bash")
    return SSH_USER


def _agents(socket_path: str) -> list[int]:
    """The ssh-agent the wrapper started at exactly this socket."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")[:-1]
            except OSError:
                continue
            if argv == [b"ssh-agent", b"-a", socket_path.encode()]:
                found.append(int(entry.name))
    return found


def test_ssh_job_n_runs_the_command_in_the_job(make_pool, ssh_user: str):
    pool: Pool = make_pool()
    submit = user_dir(pool, ssh_user)
    cluster = pool.submit(sleeper(120), submit, user=ssh_user)
    pool.wait_status(cluster, "2")
    home = pwd.getpwnam(ssh_user).pw_dir
    agent = f"{home}/.ssh/jobwrapper-agent.sock"
    environment = {"PATH": f"{pool.bin}:/usr/bin:/bin", "HOME": home}
    jobwrapper = [shim_interpreter(), "-m", "jobwrapper"]

    def as_user(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([RUNUSER, "-u", ssh_user, "--", "env", "-i",
                               *(f"{k}={v}" for k, v in environment.items()), *argv],
                              capture_output=True, text=True, cwd=submit, timeout=60,
                              check=False)

    try:
        made = as_user(*jobwrapper, "ssh-config", str(cluster), "--bin-dir",
                       str(submit / "bin"))
        assert made.returncode == 0, made.stderr
        assert made.stdout.startswith(f"Host job-{cluster}\n")
        (submit / "config").write_text(made.stdout)
        script = 'hostname; id -un; printf "%s\\n" "$_CONDOR_SCRATCH_DIR"'
        result = as_user("ssh", "-F", str(submit / "config"), f"job-{cluster}", script)
        assert result.returncode == 0, result.stderr
        expected = pool.run("condor_ssh_to_job", str(cluster), "hostname", user=ssh_user)
        assert result.stdout.splitlines() == [
            expected.stdout.strip(), ssh_user, str(pool.scratch_dir(cluster))]
        # a second session reuses the agent the first one started
        again = as_user("ssh", "-F", str(submit / "config"), f"job-{cluster}", "true")
        assert again.returncode == 0, again.stderr
        assert len(_agents(agent)) == 1
    finally:
        for pid in _agents(agent):
            os.kill(pid, signal.SIGTERM)
