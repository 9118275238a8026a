"""One thread less per running notebook: child processes watched through pidfds.

On Python 3.8-3.11 asyncio watches each subprocess with a thread of its own
(ThreadedChildWatcher) blocked in waitpid() for as long as the process runs. Every
notebook's tunnel runs for the notebook's life, so a hub with 400 notebooks had 400
such threads (bench/scale). Where Linux has pidfd_open (5.3+), the hub uses
PidfdChildWatcher instead: the event loop waits on one descriptor per child, no
thread. Python 3.12 does this by itself (and deprecates child watchers), so nothing
is changed there.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from jobwrapper import compat


def use_pidfd_watcher(app: Any = None) -> bool:
    """Install asyncio's PidfdChildWatcher for the running loop; whether it was."""
    if sys.version_info >= (3, 12) or not hasattr(os, "pidfd_open"):
        return False
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:  # a kernel before 5.3, or a seccomp filter
        return False
    watcher = asyncio.PidfdChildWatcher()
    watcher.attach_loop(asyncio.get_running_loop())
    asyncio.set_child_watcher(watcher)
    if app is not None:
        app.log.info("Watching child processes through pidfds (no thread per child)")
    return True


compat.run_before_spawners(use_pidfd_watcher)
