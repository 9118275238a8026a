"""Many connections over one byte stream: the hub's tunnel to a Slurm job.

Slurm has no condor_ssh_to_job. What it has is `srun --jobid=ID --overlap`: a new
step inside the running job, started through slurmctld and slurmd, whose stdin and
stdout reach the process that started it. No inbound connection to the node is
needed, and only the job's own user (or root) can start a step in it. One such
step carries every connection of the notebook, as ssh's one session carries its
forwards:

    hub side (as the user)                          job side (a step of the job)
    listens on the hub port or socket  --srun-->    `jobwrapper bridge --port N`
    each accepted connection: a channel             connects to 127.0.0.1:N (or the
                                                    job's socket) per channel

Frames on the stream: channel (u32), kind (u8), length (u32), payload. The job side
starts with HELLO; the hub side listens only after it, so a hub port that accepts
connections leads to the job (the spawner's startup check relies on that).

Standard library only: the hub runs this file as the user (`python -I stepbridge.py
hub ...`), the job side through `jobwrapper bridge`. Nothing secret crosses it but
what the proxied connections carry.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import struct
import sys
from typing import Optional

VERSION = 1
HEADER = struct.Struct(">IBI")
HELLO, OPEN, DATA, EOF, CLOSE = range(5)
MAX_PAYLOAD = 64 * 1024
HELLO_TIMEOUT = 120.0  # s: srun waits for the step's resources


class Mux:
    """One end: frames out through `writer`, frames in from `reader`, channels by id."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.channels: dict[int, asyncio.StreamWriter] = {}
        self.lock = asyncio.Lock()

    async def send(self, channel: int, kind: int, payload: bytes = b"") -> None:
        async with self.lock:
            self.writer.write(HEADER.pack(channel, kind, len(payload)) + payload)
            await self.writer.drain()

    async def receive(self) -> Optional[tuple[int, int, bytes]]:
        """The next frame; None when the stream ended."""
        try:
            header = await self.reader.readexactly(HEADER.size)
            channel, kind, length = HEADER.unpack(header)
            if length > MAX_PAYLOAD:
                raise ValueError(f"a frame of {length} bytes")
            return channel, kind, await self.reader.readexactly(length)
        except asyncio.IncompleteReadError:
            return None

    async def pump(self, channel: int, reader: asyncio.StreamReader) -> None:
        """Local connection -> frames, until it ends (EOF), or the channel closes."""
        try:
            while True:
                data = await reader.read(MAX_PAYLOAD)
                if not data:
                    await self.send(channel, EOF)
                    return
                await self.send(channel, DATA, data)
        except (ConnectionError, OSError):
            await self.close(channel, tell=True)

    async def deliver(self, channel: int, kind: int, payload: bytes) -> None:
        """A frame for a local connection."""
        local = self.channels.get(channel)
        if local is None:
            return
        try:
            if kind == DATA:
                local.write(payload)
                await local.drain()
            elif kind == EOF and local.can_write_eof():
                local.write_eof()
            elif kind == CLOSE:
                await self.close(channel, tell=False)
        except (ConnectionError, OSError):
            await self.close(channel, tell=True)

    async def close(self, channel: int, tell: bool) -> None:
        local = self.channels.pop(channel, None)
        if local is not None:
            local.close()
        if tell:
            with contextlib.suppress(ConnectionError, OSError):
                await self.send(channel, CLOSE)


async def _stdio() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2 * MAX_PAYLOAD)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                 os.fdopen(0, "rb", buffering=0))
    transport, protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, os.fdopen(1, "wb", buffering=0))
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    return reader, writer


# -- the job side ---------------------------------------------------------------------


def _raw_terminals() -> None:
    """`srun --unbuffered` gives the task a pseudo-terminal: raw mode, so that no byte
    is translated (\\n to \\r\\n) or echoed. Pipes are left as they are."""
    import termios
    import tty

    for fd in (0, 1):
        if os.isatty(fd):
            with contextlib.suppress(termios.error):
                tty.setraw(fd)


async def job_side(port: Optional[int], path: Optional[str]) -> int:
    """In the job: HELLO, then one local connection per OPEN, until stdin ends."""
    _raw_terminals()
    mux = Mux(*await _stdio())
    await mux.send(0, HELLO, str(VERSION).encode())
    tasks: set[asyncio.Task] = set()
    while True:
        frame = await mux.receive()
        if frame is None:
            return 0
        channel, kind, payload = frame
        if kind == OPEN:
            try:
                if path:
                    reader, writer = await asyncio.open_unix_connection(path)
                else:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await mux.send(channel, CLOSE)
                continue
            mux.channels[channel] = writer
            task = asyncio.ensure_future(mux.pump(channel, reader))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        else:
            await mux.deliver(channel, kind, payload)


# -- the hub side ---------------------------------------------------------------------


async def hub_side(listen_port: Optional[int], listen_path: Optional[str],
                   command: list[str]) -> int:
    """On the hub: start `command` (srun ... jobwrapper bridge ...), wait for HELLO,
    listen, and carry each connection; exit when the step ends."""
    step = await asyncio.create_subprocess_exec(
        *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    assert step.stdin is not None and step.stdout is not None
    mux = Mux(step.stdout, step.stdin)  # type: ignore[arg-type]
    try:
        first = await asyncio.wait_for(mux.receive(), HELLO_TIMEOUT)
    except (asyncio.TimeoutError, ValueError):  # silence, or not a bridge talking
        first = None
    if first is None or first[1] != HELLO:
        print("stepbridge: the job side did not answer (is the job running, and is "
              "jobwrapper in it?)", file=sys.stderr)
        # os.kill, not step.terminate(): Popen.send_signal polls first and may reap a
        # step that already ended, and asyncio's child watcher then says "Unknown child
        # process". The pid stays ours until the watcher reaps it.
        with contextlib.suppress(ProcessLookupError):
            os.kill(step.pid, signal.SIGTERM)
        await step.wait()
        return 1
    next_channel = 1

    async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal next_channel
        channel, next_channel = next_channel, next_channel + 1
        mux.channels[channel] = writer
        await mux.send(channel, OPEN)
        await mux.pump(channel, reader)

    if listen_path:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(listen_path)
        old = os.umask(0o177)  # the socket: 0600, the user's own
        try:
            server = await asyncio.start_unix_server(accepted, listen_path)
        finally:
            os.umask(old)
    else:
        server = await asyncio.start_server(accepted, "127.0.0.1", listen_port,
                                            family=socket.AF_INET)
    try:
        while True:
            frame = await mux.receive()
            if frame is None:
                break
            await mux.deliver(*frame)  # in order: a channel's frames never overtake
    finally:
        server.close()
        if listen_path:
            with contextlib.suppress(OSError):
                os.unlink(listen_path)
    code = await step.wait()
    print(f"stepbridge: the job step ended (exit {code})", file=sys.stderr)
    return 1


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="stepbridge", description=__doc__.splitlines()[0])
    sides = parser.add_subparsers(dest="side", required=True)
    hub = sides.add_parser("hub", help="listen on the hub, carry connections to the job")
    where = hub.add_mutually_exclusive_group(required=True)
    where.add_argument("--listen-port", type=int)
    where.add_argument("--listen-socket")
    hub.add_argument("command", nargs=argparse.REMAINDER,
                     help="-- then the command that runs the job side (srun ...)")
    job = sides.add_parser("job", help="in the job: connect each channel to the server")
    target = job.add_mutually_exclusive_group(required=True)
    target.add_argument("--port", type=int)
    target.add_argument("--socket")
    args = parser.parse_args(argv)
    try:
        if args.side == "job":
            return asyncio.run(job_side(args.port, args.socket))
        command = args.command[1:] if args.command[:1] == ["--"] else args.command
        if not command:
            parser.error("no command after --")
        return asyncio.run(hub_side(args.listen_port, args.listen_socket, command))
    except KeyboardInterrupt:
        return 130
    except (OSError, ValueError) as error:
        print(f"stepbridge: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
