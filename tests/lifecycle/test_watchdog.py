"""The server's watchdog: started with the server, its clock started by SIGTERM's
handler, it ends a process whose orderly shutdown hangs."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

# A main thread that never finishes its shutdown; the handler does what
# JobLifecycle.begin() does on SIGTERM: set the flag, start no thread.
HANGING = """
import logging, signal, sys, threading
from jobwrapper.inserver.lifecycle import _watchdog
from jobwrapper.signalflag import SignalFlag
logging.basicConfig(stream=sys.stderr)
ending = SignalFlag()
threading.Thread(target=_watchdog, args=(ending, 0.5, logging.getLogger("t")),
                 daemon=True).start()
signal.signal(signal.SIGTERM, lambda *_: ending.set())
print("ready", flush=True)
threading.Event().wait()
"""


def test_a_hanging_shutdown_is_ended_after_the_grace():
    process = subprocess.Popen([sys.executable, "-c", HANGING], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "ready"
        time.sleep(1.0)  # the watchdog waits for the end to begin, not from its start
        assert process.poll() is None
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert (process.returncode, "orderly shutdown too slow" in err) == (1, True)
