"""Helpers for the local pool tests: a Pool handle, polling, users and job descriptions."""

from __future__ import annotations

import dataclasses
import json
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from polling import wait_for

from jobwrapper.localpool.admin import init_pool, shutdown
from jobwrapper.localpool.config import PoolLayout
from jobwrapper.localpool.install import install_bin, shim_interpreter
from jobwrapper.localpool.records import load_record

ALICE = "jwtest-alice"
BOB = "jwtest-bob"
FAST = {
    "idle_delay": "0.1",
    "ssh_ready_delay": "0.3",
    "vacate_grace": "2",
    "leave_queue_delay": "0.3",
    "periodic_interval": "0.1",
    "memory_poll_interval": "0.1",
}
# The jobs' interpreter: one every test user can run (the venv may live in /root).
PYTHON = shim_interpreter()
RUNUSER = shutil.which("runuser") or "/usr/sbin/runuser"


@dataclasses.dataclass
class Pool:
    """One emulated pool with its shims; `run` calls a tool as root or as a user."""

    root: Path
    bin: Path

    @property
    def layout(self) -> PoolLayout:
        return PoolLayout(self.root / "pool")

    def argv(self, tool: str, *args: str, user: str | None = None) -> list[str]:
        command = [str(self.bin / tool), *args]
        return [RUNUSER, "-u", user, "--", *command] if user else command

    def run(
        self, tool: str, *args: str, user: str | None = None, stdin: str | None = None,
        cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 30,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(tool, *args, user=user), input=stdin, capture_output=True, text=True,
            cwd=cwd, env=env, timeout=timeout, check=False,
        )

    def submit(self, description: str, cwd: Path, user: str | None = None) -> int:
        result = self.run("condor_submit", stdin=description, cwd=cwd, user=user)
        assert result.returncode == 0, result.stderr
        return int(result.stdout.strip().rsplit(" ", 1)[1].rstrip("."))

    def status(self, cluster: int) -> str:
        """JobStatus as condor_q -af prints it ('' when not in the queue), read in-process."""
        job = load_record(self.layout, cluster)
        return "" if job is None else str(job.status)

    def wait_status(self, cluster: int, status: str, timeout: float = 15.0) -> None:
        wait_for(lambda: self.status(cluster) == status, timeout, f"JobStatus {status!r}")

    def in_queue(self, cluster: int) -> bool:
        return bool(self.status(cluster))

    def scratch_dir(self, cluster: int) -> Path:
        info = json.loads((self.layout.record(cluster) / "shadow.json").read_text())
        return Path(info["scratch_dir"])


def user_dir(pool: Pool, user: str) -> Path:
    """A submit dir owned by `user`."""
    path = pool.root / f"submit-{user}"
    path.mkdir(exist_ok=True)
    account = pwd.getpwnam(user)
    os.chown(path, account.pw_uid, account.pw_gid)
    return path


def sleeper(seconds: float = 60, extra: str = "") -> str:
    """A submit description of a job that sleeps, with file transfer."""
    return (
        f"executable = {PYTHON}\n"
        f"arguments = \"-c 'import time; time.sleep({seconds})'\"\n"
        "should_transfer_files = YES\n"
        f"{extra}\nqueue\n"
    )


def parse_old_ad(text: str) -> object:
    """Parse an old-syntax ClassAd with HTCondor's own parser (classad, or classad2 in 25)."""
    try:
        import classad  # type: ignore[import-not-found]

        return classad.parseOne(text, classad.Parser.Old)
    except ImportError:
        import classad2

        return classad2.parseOne(text, classad2.ParserType.Old)


def batchspawner_query(job_id: int) -> list[str]:
    """batchspawner 1.3.0's CondorSpawner query, split as its shell would split it."""
    import shlex

    return shlex.split(batchspawner_query_command(job_id))


def batchspawner_query_command(job_id: int) -> str:
    """The query command line exactly as CondorSpawner formats it.

    Read from batchspawner's source (importing it pulls in JupyterHub, seconds slower).
    """
    import ast
    import importlib.util

    spec = importlib.util.find_spec("batchspawner.batchspawner")
    assert spec is not None and spec.origin is not None
    tree = ast.parse(Path(spec.origin).read_text())
    spawner = next(node for node in ast.walk(tree)
                   if isinstance(node, ast.ClassDef) and node.name == "CondorSpawner")
    assignment = next(node for node in spawner.body if isinstance(node, ast.Assign)
                      and getattr(node.targets[0], "id", "") == "batch_query_cmd")
    template = ast.literal_eval(assignment.value.func.value.args[0])  # Unicode("...").tag(...)
    return template.format(job_id=job_id)



def create_pool(**settings: object) -> Pool:
    """A pool (FAST delays unless overridden) in a temp dir every user can traverse."""
    root = Path(tempfile.mkdtemp(prefix="jwlp-"))
    os.chmod(root, 0o755)
    layout = PoolLayout(root / "pool")
    merged = {**FAST, **{key: str(value) for key, value in settings.items()}}
    init_pool(layout, merged)
    install_bin(root / "bin", layout.root)
    return Pool(root=root, bin=root / "bin")


def destroy_pool(pool: Pool) -> None:
    """Remove every job at once and delete the pool."""
    shutdown(pool.layout, purge=True)
    shutil.rmtree(pool.root, ignore_errors=True)


def wakeups(pid: int) -> int:
    """Voluntary context switches: one per sleep the process woke from."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("voluntary_ctxt_switches:"):
            return int(line.split()[1])
    raise AssertionError(f"no voluntary_ctxt_switches for {pid}")
