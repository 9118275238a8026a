"""Port and socket forwarding for condor_ssh_to_job, with ssh's messages.

Each -L forward listens on the submit side (127.0.0.1:PORT, or a unix socket made
with mode 0600) and, for every connection, opens a stream on the job side through
`connect` (which may enter the job's network namespace) and copies bytes both ways.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
from typing import Callable

from jobwrapper.localpool.commands.ssh_options import Forward, SshOptions

Connector = Callable[[Forward], socket.socket]


class ForwardFailure(OSError):
    """A forward could not listen; ssh's message lines are in `str()`."""


def _listen_tcp(forward: Forward) -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # as OpenSSH's set_reuseaddr(): a port whose old connections are in TIME_WAIT is free
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((forward.listen_host, forward.listen_port or 0))
    except OSError as error:
        listener.close()
        raise ForwardFailure(
            f"bind [{forward.listen_host}]:{forward.listen_port}: {error.strerror}\n"
            f"channel_setup_fwd_listener_tcpip: cannot listen to port: {forward.listen_port}"
        ) from None
    listener.listen(64)
    return listener


def _listen_unix(forward: Forward, options: SshOptions) -> socket.socket:
    path = str(forward.listen_path)
    if options.bind_unlink:
        # as ssh: a failed unlink is not fatal by itself; bind() below says what is wrong
        with contextlib.suppress(OSError):
            os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(options.bind_mask)
    try:
        listener.bind(path)
    except OSError as error:
        listener.close()
        raise ForwardFailure(
            f"unix_listener: cannot bind to path {path}: {error.strerror}"
        ) from None
    finally:
        os.umask(old_umask)
    listener.listen(64)
    return listener


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            target.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)


def _relay(client: socket.socket, remote: socket.socket) -> None:
    threads = [
        threading.Thread(target=_pump, args=(client, remote), daemon=True),
        threading.Thread(target=_pump, args=(remote, client), daemon=True),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client.close()
    remote.close()


class Forwarder:
    """All -L forwards of one condor_ssh_to_job process."""

    def __init__(self, options: SshOptions, connect: Connector) -> None:
        self.options, self.connect = options, connect
        self.listeners: list[tuple[Forward, socket.socket]] = []
        self.channel = 2

    def start(self) -> None:
        """Listen on every forward; ForwardFailure if one fails and ExitOnForwardFailure."""
        for forward in self.options.forwards:
            try:
                if forward.listen_path:
                    listener = _listen_unix(forward, self.options)
                else:
                    listener = _listen_tcp(forward)
            except ForwardFailure as failure:
                print(failure, file=sys.stderr)
                print("Could not request local forwarding.", file=sys.stderr, flush=True)
                if self.options.exit_on_forward_failure:
                    self.close()
                    raise
                continue
            self.listeners.append((forward, listener))
            threading.Thread(target=self._accept, args=(forward, listener), daemon=True).start()

    def _accept(self, forward: Forward, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            self.channel += 1
            threading.Thread(
                target=self._open, args=(forward, client, self.channel), daemon=True
            ).start()

    def _open(self, forward: Forward, client: socket.socket, channel: int) -> None:
        try:
            remote = self.connect(forward)
        except OSError as error:
            print(f"channel {channel}: open failed: connect failed: {error.strerror or error}",
                  file=sys.stderr, flush=True)
            client.close()
            return
        _relay(client, remote)

    def close(self) -> None:
        """Stop listening. A hub-side unix socket file stays, as OpenSSH leaves it (that
        is what StreamLocalBindUnlink=yes is for)."""
        for _forward, listener in self.listeners:
            listener.close()
        self.listeners = []


def connect_local(forward: Forward, cwd: str) -> socket.socket:
    """The job side without a network namespace: the machine's own loopback."""
    if forward.connect_path:
        path = os.path.join(cwd, forward.connect_path)
        remote = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            remote.connect(path)
        except OSError:
            remote.close()
            raise
        return remote
    return socket.create_connection(("127.0.0.1", int(forward.connect_port or 0)))
