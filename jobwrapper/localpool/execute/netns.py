"""Network isolation: each job in its own network namespace that nothing can connect to.

A per-job "holder" process (forked by the shadow) unshares a new network namespace
(plus a user namespace when the job's owner is not root, mapping the owner's uid and
gid to themselves, so no privileges are needed), brings up its loopback and stays
there. The job and condor_ssh_to_job's commands join the holder's namespaces; TCP
forwards connect from a short-lived child that joins them and hands the connected
socket back over SCM_RIGHTS. The namespace has only `lo`: nothing outside can reach
the job, and the job reaches nothing except the host loopback ports listed in
`outbound_ports`, which the holder relays: it listens on 127.0.0.1:PORT inside and,
for each connection, asks its helper (forked before unsharing, so still in the host's
namespace) for a socket connected to the host's 127.0.0.1:PORT.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import signal
import socket
import struct
import threading
from typing import Callable

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1
_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def available() -> bool:
    """True when this process can give a job its own network namespace."""
    if not os.path.exists("/proc/self/ns/net"):
        return False
    if os.getuid() == 0:
        return True
    try:
        with open("/proc/sys/user/max_user_namespaces") as handle:
            return int(handle.read()) > 0
    except (OSError, ValueError):
        return False


def _die_with_parent() -> None:
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _unshare_network() -> None:
    uid, gid = os.getuid(), os.getgid()
    flags = CLONE_NEWNET if uid == 0 else CLONE_NEWNET | CLONE_NEWUSER
    _check(_libc.unshare(flags), "unshare")
    if uid != 0:
        with open("/proc/self/setgroups", "w") as handle:
            handle.write("deny")
        with open("/proc/self/uid_map", "w") as handle:
            handle.write(f"{uid} {uid} 1")
        with open("/proc/self/gid_map", "w") as handle:
            handle.write(f"{gid} {gid} 1")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        request = struct.pack("16sh14x", b"lo", 0)
        flags_now = struct.unpack("16sh14x", fcntl.ioctl(probe, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(probe, _SIOCSIFFLAGS, struct.pack("16sh14x", b"lo", flags_now | _IFF_UP))


def _pump_pair(first: socket.socket, second: socket.socket) -> None:
    def pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)

    threads = [threading.Thread(target=pump, args=pair, daemon=True)
               for pair in ((first, second), (second, first))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    first.close()
    second.close()


def _host_helper(channel: socket.socket) -> None:
    """Outside the namespace: connect to host loopback ports on request, pass the fds."""
    lock = threading.Lock()
    while True:
        request = channel.recv(16)
        if not request:
            os._exit(0)
        port = int(request.decode())
        try:
            remote = socket.create_connection(("127.0.0.1", port))
            with lock:
                socket.send_fds(channel, [b"1"], [remote.fileno()])
            remote.close()
        except OSError:
            channel.sendall(b"0")


def _outbound_relay(port: int, helper: socket.socket, lock: threading.Lock) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", port))
    listener.listen(64)
    while True:
        client, _ = listener.accept()
        with lock:
            helper.sendall(str(port).encode().ljust(16))
            answer, fds, _flags, _addr = socket.recv_fds(helper, 1, 1)
        if answer != b"1" or not fds:
            client.close()
            continue
        remote = socket.socket(fileno=fds[0])
        threading.Thread(target=_pump_pair, args=(client, remote), daemon=True).start()


def _holder_main(outbound_ports: list[int], ready: int) -> None:
    _die_with_parent()
    inside, outside = socket.socketpair()
    if os.fork() == 0:
        inside.close()
        os.close(ready)
        _die_with_parent()
        _host_helper(outside)
    outside.close()
    _unshare_network()
    lock = threading.Lock()
    for port in outbound_ports:
        threading.Thread(target=_outbound_relay, args=(port, inside, lock), daemon=True).start()
    os.write(ready, b"ok")
    os.close(ready)
    while True:
        signal.pause()


def create(outbound_ports: list[int]) -> int:
    """Fork the holder of a new network namespace; returns its pid once it is set up."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(read_end)
            _holder_main(outbound_ports, write_end)
        except BaseException:  # never return into the shadow's code
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    try:
        answer = os.read(read_end, 2)
    finally:
        os.close(read_end)
    if answer != b"ok":
        os.waitpid(pid, 0)
        raise OSError(f"could not create a network namespace for the job (holder {pid})")
    return pid


def _join(holder_pid: int, kind: str, flag: int) -> None:
    mine = os.stat(f"/proc/self/ns/{kind}").st_ino
    target_path = f"/proc/{holder_pid}/ns/{kind}"
    if os.stat(target_path).st_ino == mine:
        return
    fd = os.open(target_path, os.O_RDONLY)
    try:
        _check(_libc.setns(fd, flag), f"setns {kind}")
    finally:
        os.close(fd)


def enter(holder_pid: int) -> None:
    """Join the holder's namespaces (user first, when it has its own, then network)."""
    if os.getuid() != 0:
        _join(holder_pid, "user", CLONE_NEWUSER)
    _join(holder_pid, "net", CLONE_NEWNET)


def preexec(holder_pid: int) -> Callable[[], None]:
    """A Popen preexec_fn that puts the child into the job's namespaces."""
    return lambda: enter(holder_pid)


def connect_inside(holder_pid: int, port: int) -> socket.socket:
    """A TCP connection to 127.0.0.1:PORT as seen inside the job's namespace."""
    parent, child = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            parent.close()
            enter(holder_pid)
            remote = socket.create_connection(("127.0.0.1", port))
            socket.send_fds(child, [b"1"], [remote.fileno()])
        except OSError as error:
            child.sendall(f"0{error.errno or 0}".encode())
            code = 1
        finally:
            os._exit(code)
    child.close()
    try:
        answer, fds, _flags, _addr = socket.recv_fds(parent, 16, 1)
    finally:
        parent.close()
        os.waitpid(pid, 0)
    if answer[:1] != b"1" or not fds:
        errno = int(answer[1:] or b"0") if answer[:1] == b"0" else 0
        raise OSError(errno, os.strerror(errno) if errno else "cannot connect in the job")
    return socket.socket(fileno=fds[0])
