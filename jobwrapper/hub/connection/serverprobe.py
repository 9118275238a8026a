"""Is the notebook server behind a tunnel still there?

HTCondor keeps a job Running while a `condor_ssh_to_job` session of it is open, so a
server that ended (File > Shut Down, a crash, the kernel's OOM killer) leaves the
job, its slot and the hub's tunnel in place: the tunnel process is alive, but the
server behind it is gone. The hub then asks through the tunnel: ssh accepts the
connection on the hub side and closes it without a byte when it cannot open the
channel to the server ("open failed: connect failed"); a live server answers an HTTP
request, a busy one may not answer in time, which never counts as gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum


class Probe(enum.Enum):
    """What one request through the tunnel found."""

    ANSWERS = "answers"  # some bytes came back: a server is there
    CLOSED = "closed"  # the tunnel closed the connection without a byte: no server
    UNKNOWN = "unknown"  # no connection to the tunnel, or no answer in time


async def probe(port: int = 0, socket_path: str = "", timeout: float = 10.0) -> Probe:
    """One HTTP request through the hub side of a tunnel (TCP port or unix socket)."""
    try:
        if socket_path:
            connecting = asyncio.open_unix_connection(socket_path)
        else:
            connecting = asyncio.open_connection("127.0.0.1", port)
        reader, writer = await asyncio.wait_for(connecting, timeout)
    except (OSError, asyncio.TimeoutError):
        return Probe.UNKNOWN
    try:
        writer.write(b"HEAD / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        await writer.drain()
        data = await asyncio.wait_for(reader.read(1), timeout)
    except (ConnectionResetError, BrokenPipeError):
        return Probe.CLOSED
    except (OSError, asyncio.TimeoutError):
        return Probe.UNKNOWN
    finally:
        writer.close()
        with contextlib.suppress(OSError, asyncio.TimeoutError):
            await asyncio.wait_for(writer.wait_closed(), 1.0)
    return Probe.ANSWERS if data else Probe.CLOSED


async def server_gone(port: int = 0, socket_path: str = "", confirm_after: float = 1.0,
                      timeout: float = 10.0) -> bool:
    """True only when two requests, `confirm_after` s apart, were both closed unanswered."""
    if await probe(port, socket_path, timeout) is not Probe.CLOSED:
        return False
    await asyncio.sleep(confirm_after)
    return await probe(port, socket_path, timeout) is Probe.CLOSED
