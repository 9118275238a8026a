"""What the hub process sets at start for many notebooks: child processes watched
without a thread each (childwatch.py), its SQLite database in WAL mode
(sqlitewal.py), a long listen queue (backlog.py). bench/scale measured the first two
with 400 notebooks, the third with 1,000."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import text

from jobwrapper import compat

CHILDREN = """
import asyncio, json, sys, threading
from jobwrapper.hub.hubprocess import childwatch

async def main():
    installed = childwatch.use_pidfd_watcher() if sys.argv[1] == "pidfd" else False
    before = threading.active_count()
    children = [await asyncio.create_subprocess_exec("sleep", "0.5") for _ in range(20)]
    during = threading.active_count()
    codes = [await child.wait() for child in children]
    return installed, during - before, codes

print(json.dumps(asyncio.run(main())))
"""


def run_children(mode: str) -> tuple[bool, int, list[int]]:
    out = subprocess.run([sys.executable, "-c", CHILDREN, mode], capture_output=True,
                         text=True, check=True).stdout
    return tuple(json.loads(out))


def test_running_children_hold_no_thread_each():
    installed, extra_threads, codes = run_children("pidfd")
    if sys.version_info < (3, 12):
        assert installed
    assert extra_threads == 0 and codes == [0] * 20


def test_without_it_python_before_312_starts_a_thread_per_child():
    if sys.version_info >= (3, 12):
        return
    _, extra_threads, codes = run_children("default")
    assert extra_threads == 20 and codes == [0] * 20  # what childwatch.py avoids


def fake_app(path: Path) -> SimpleNamespace:
    from jupyterhub import orm

    session = orm.new_session_factory(f"sqlite:///{path}")()
    return SimpleNamespace(db=session, log=logging.getLogger("test"))


def test_the_hubs_sqlite_runs_in_wal_mode_with_normal_sync(tmp_path: Path):
    from jobwrapper.hub.hubprocess.sqlitewal import use_wal

    app = fake_app(tmp_path / "jupyterhub.sqlite")
    assert app.db.execute(text("PRAGMA journal_mode")).scalar() == "delete"
    assert use_wal(app)
    assert app.db.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    assert app.db.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
    with app.db.get_bind().connect() as other:  # every later connection too
        assert other.execute(text("PRAGMA synchronous")).scalar() == 1
    app.db.close()


LISTENER = """
import socket, sys
from tornado.httpserver import HTTPServer
from jobwrapper.hub.hubprocess import backlog

if sys.argv[1] != "default":
    backlog.lengthen_listen_queue()
server = HTTPServer(lambda request: None)
if sys.argv[1] == "family":  # port, address and family positionally, still no backlog
    server.listen(0, "127.0.0.1", socket.AF_INET)
else:
    server.listen(0, address="127.0.0.1")  # as JupyterHub: no backlog given
port = next(iter(server._sockets.values())).getsockname()[1]
print(port, flush=True)
sys.stdin.read()
"""


def listen_queue(mode: str) -> int:
    """The accept queue's length of a tornado server listening as JupyterHub's does:
    `ss` shows it as a listening socket's Send-Q."""
    process = subprocess.Popen([sys.executable, "-c", LISTENER, mode], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    try:
        port = process.stdout.readline().strip()
        line = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True,
                              text=True, check=True).stdout.split()
        return int(line[2])
    finally:
        process.communicate("")


def test_the_hub_listens_with_a_long_queue():
    somaxconn = int(Path("/proc/sys/net/core/somaxconn").read_text())
    assert listen_queue("lengthened") == min(4096, somaxconn) > 128


def test_a_family_given_positionally_still_gets_the_long_queue():
    somaxconn = int(Path("/proc/sys/net/core/somaxconn").read_text())
    assert listen_queue("family") == min(4096, somaxconn) > 128


def test_without_it_tornado_queues_128():
    assert listen_queue("default") == 128  # what 1,000 spawn requests at once overflowed


def test_all_run_at_hub_start():
    import jobwrapper.hub.spawner  # noqa: F401
    from jobwrapper.hub.hubprocess.backlog import lengthen_listen_queue
    from jobwrapper.hub.hubprocess.childwatch import use_pidfd_watcher
    from jobwrapper.hub.hubprocess.sqlitewal import use_wal

    assert use_pidfd_watcher in compat._START_CHECKS and use_wal in compat._START_CHECKS
    assert lengthen_listen_queue in compat._START_CHECKS
