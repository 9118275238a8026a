"""The hub's SQLite database in WAL mode, so that a commit does not stall the hub.

JupyterHub commits its database from the event loop, and SQLite's default rollback
journal makes each commit create, fsync and delete a journal file: with 400
notebooks starting at once a quarter of the hub's busy time went to commits
(py-spy, bench/scale), during which no API request was answered. In write-ahead-log
mode a commit appends to one file, and with synchronous=NORMAL it is fsynced at
checkpoints rather than at each commit. A crash of the hub loses nothing; a power
loss may lose the last commits (never the database's consistency). Other databases
are left alone.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, text

from jobwrapper import compat


def _pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def use_wal(app: Any) -> bool:
    """Switch the hub's SQLite database to WAL and synchronous=NORMAL (this connection
    and every later one); whether it is SQLite."""
    engine = app.db.get_bind()
    if engine.dialect.name != "sqlite" or ":memory:" in str(engine.url):
        return False
    if not event.contains(engine, "connect", _pragmas):
        event.listen(engine, "connect", _pragmas)
    app.db.commit()
    mode = app.db.execute(text("PRAGMA journal_mode=WAL")).scalar()
    app.db.execute(text("PRAGMA synchronous=NORMAL"))
    app.db.commit()
    app.log.info("The hub's SQLite database: journal_mode=%s, synchronous=NORMAL", mode)
    return True


compat.run_before_spawners(use_wal)
