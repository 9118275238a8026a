"""The hub's listen queue, lengthened at start: a thousand spawn requests at once.

JupyterHub listens through tornado's `TCPServer.listen`, whose accept queue holds 128
connections. With 1,000 users starting at once (bench/scale) the proxy opened a
connection to the hub for each request; the queue overflowed (the kernel's
ListenOverflows counter) and 8 of the 1,000 spawn requests came back as "503 Service
Unavailable" (the proxy: `read ECONNRESET`). At start the hub's servers listen with a
queue of `LISTEN_BACKLOG` instead; the kernel caps it at net.core.somaxconn (4,096 on
current kernels; docs/hub.md, "Many notebooks on one hub").
"""

from __future__ import annotations

import functools
from typing import Any

from tornado.tcpserver import TCPServer

from jobwrapper import compat

LISTEN_BACKLOG = 4096
"""Connections the hub's listening socket queues before accepting them."""


def lengthen_listen_queue(app: Any = None) -> bool:
    """Make `TCPServer.listen` (JupyterHub's server, started after the spawners are set
    up) use LISTEN_BACKLOG unless a caller asks for a backlog; once. Whether it was
    installed now."""
    original = TCPServer.listen
    if getattr(original, "_jobwrapper_backlog", False):
        return False

    @functools.wraps(original)
    def listen(self: TCPServer, *args: Any, **kwargs: Any) -> None:
        if len(args) < 4:  # (port, address, family, backlog, ...): not given positionally
            kwargs.setdefault("backlog", LISTEN_BACKLOG)
        original(self, *args, **kwargs)

    listen._jobwrapper_backlog = True  # type: ignore[attr-defined]
    TCPServer.listen = listen  # type: ignore[method-assign]
    if app is not None:
        app.log.info("The hub listens with a queue of %d connections", LISTEN_BACKLOG)
    return True


compat.run_before_spawners(lengthen_listen_queue)
