#!/usr/bin/python3 -S
"""A stand-in for `jobwrapper singleuser` in the hub tests (standard library only).

It does what the job side's contract says and no more: read the secrets file the hub
transferred into the scratch dir and delete it, serve HTTP on 127.0.0.1 (or, when the
hub asks for socket mode with JOBWRAPPER_SERVER_MODE=socket, on the unix socket
.jobwrapper/sockets/server.sock in a 0700 dir), report the port (or the socket's path)
to the hub with the server's own token, and on SIGTERM write a file into
jupyter/ (so the tests can see it come back) and exit. It never prints a secret.

Small on purpose: bench/scale runs a thousand of these on one machine, so it speaks
HTTP/1.0 over plain sockets (one thread per connection, closed after each answer)
instead of importing http.server and urllib (17 MB against 8 MB per process), and
runs without the site module (-S).
"""

import json
import os
import select
import signal
import socket
import sys
import threading

scratch = os.environ.get("_CONDOR_SCRATCH_DIR", os.getcwd())
with open(os.environ["_CONDOR_JOB_AD"]) as handle:
    if 'JupyterEnvironment = "exit-early"' in handle.read():
        print("stand-in: exiting before the server starts, as asked", file=sys.stderr)
        sys.exit(3)
print("token in the job's environment before the file was read:",
      "JUPYTERHUB_API_TOKEN" in os.environ, flush=True)
secrets_path = os.path.join(scratch, os.environ.get("JOBWRAPPER_HUB_SECRETS", "missing"))
print("public variables:", sorted(k for k in os.environ if k.startswith("JUPYTERHUB_")),
      flush=True)
with open(secrets_path) as handle:
    secrets = json.load(handle)
os.unlink(secrets_path)
os.environ.update(secrets)
print("secret variables:", sorted(secrets), flush=True)

REASONS = {200: "OK", 404: "Not Found", 400: "Bad Request"}
stopping = threading.Event()  # set only by request threads; SIGTERM wakes the pipe


def read_message(conn):
    """(first line, headers, body) of one HTTP message; None if the peer closed early."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length") or 0)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return lines[0], headers, body[:length]


def answer(conn, status, body=b"", content_type=""):
    head = f"HTTP/1.0 {status} {REASONS.get(status, 'Status')}\r\n"
    if content_type:
        head += f"Content-Type: {content_type}\r\n"
    head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    conn.sendall(head.encode("latin-1") + body)


def hub_request(path, body, timeout):
    """POST body (JSON) to the hub's API at JUPYTERHUB_API_URL + path: (status, body)."""
    url = os.environ["JUPYTERHUB_API_URL"].rstrip("/")
    scheme, _, rest = url.partition("://")
    if scheme != "http":
        raise SystemExit(f"stand-in: only http:// hub API URLs are supported, not {url}")
    hostport, slash, base = rest.partition("/")
    if hostport.startswith("["):  # [IPv6]:port
        host, _, port = hostport[1:].partition("]")
        port = port.lstrip(":")
    else:
        host, _, port = hostport.partition(":")
    data = json.dumps(body).encode()
    request = (f"POST {slash}{base}{path} HTTP/1.0\r\nHost: {hostport}\r\n"
               f"Authorization: token {os.environ['JUPYTERHUB_API_TOKEN']}\r\n"
               "Content-Type: application/json\r\nX-Jobwrapper-Protocol: 2\r\n"
               f"Content-Length: {len(data)}\r\n\r\n").encode("latin-1") + data
    with socket.create_connection((host, int(port or 80)), timeout=timeout) as conn:
        conn.sendall(request)
        reply = b""
        while chunk := conn.recv(65536):
            reply += chunk
    head, _, reply_body = reply.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), reply_body


def report_to_hub(body):
    return hub_request("/batchspawner", body, 30)[0]


def handle(conn):
    with conn:
        message = read_message(conn)
        if message is None:
            return
        first, _headers, body = message
        method, _, rest = first.partition(" ")
        path = rest.rpartition(" ")[0] or rest
        route = path.split("?")[0]
        print(method, route, file=sys.stderr, flush=True)
        if method == "GET":
            reply = json.dumps({"stand_in": True, "path": path, "scratch": scratch,
                                "user": os.environ.get("JUPYTERHUB_USER")}).encode()
            answer(conn, 200, reply, "application/json")
        elif method != "POST":
            answer(conn, 400)
        # /api/shutdown as jupyter-server's: answer, tell the hub (as jobwrapper's
        # lifecycle does), stop serving. /api/crash: exit at once without a word.
        # /api/idle-end: end as an idle server does. /jobwrapper/runtime: ask the hub for
        # the body's runtime_hours (as jobwrapper's moretime.py), answer with its reply.
        elif route.endswith("/api/crash"):
            os._exit(1)
        elif route.endswith("/jobwrapper/runtime"):
            status, reply = hub_request("/jobwrapper/runtime", json.loads(body), 60)
            answer(conn, status, reply)
        elif route.endswith("/api/idle-end") or route.endswith("/api/shutdown"):
            answer(conn, 200)
            ended = "idle" if route.endswith("/api/idle-end") else "shutdown"
            print("told the hub:", report_to_hub({"ended": ended}), flush=True)
            stopping.set()
            os.write(wake_write, b"x")
        else:
            answer(conn, 404)


if os.environ.get("JOBWRAPPER_SERVER_MODE") == "socket":
    socket_dir = os.path.join(scratch, ".jobwrapper", "sockets")
    os.makedirs(socket_dir, mode=0o700)
    os.umask(0o177)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(os.path.join(socket_dir, "server.sock"))
    report = {"socket": listener.getsockname()}
else:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    report = {"port": listener.getsockname()[1]}
listener.listen(128)

wake_read, wake_write = os.pipe()
os.set_blocking(wake_write, False)
signal.set_wakeup_fd(wake_write)  # a signal wakes the select below
signals = []


def stop(signum, frame):
    signals.append(signum)  # no lock taken in the handler


signal.signal(signal.SIGTERM, stop)
print("reported", report, "->", report_to_hub(report), flush=True)
while not signals and not stopping.is_set():
    ready, _, _ = select.select([listener, wake_read], [], [])
    if listener in ready:
        conn, _ = listener.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()
if signals:
    with open(os.path.join(scratch, "jupyter", "stand-in-stopped.txt"), "w") as marker:
        marker.write(f"stopped by signal {signals[0]}\n")
print("stand-in stopped", flush=True)
