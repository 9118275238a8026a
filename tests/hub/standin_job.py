#!/usr/bin/python3
"""A stand-in for `jobwrapper singleuser` in the hub tests (standard library only).

It does what the job side's contract says and no more: read the secrets file the hub
transferred into the scratch dir and delete it, serve HTTP on 127.0.0.1 (or, when the
hub asks for socket mode with JOBWRAPPER_SERVER_MODE=socket, on the unix socket
.jobwrapper/sockets/server.sock in a 0700 dir), report the port (or the socket's path)
to the hub with the server's own token, and on SIGTERM write a file into
jupyter/ (so the tests can see it come back) and exit. It never prints a secret.
"""

import http.server
import json
import os
import signal
import socket
import socketserver
import sys
import threading
import urllib.error
import urllib.request

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


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"stand_in": True, "path": self.path, "scratch": scratch,
                           "user": os.environ.get("JUPYTERHUB_USER")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        # /api/shutdown as jupyter-server's: answer, tell the hub (as jobwrapper's
        # lifecycle does), stop serving. /api/crash: exit at once without a word.
        # /api/idle-end: end as an idle server does. /jobwrapper/runtime: ask the hub for
        # the body's runtime_hours (as jobwrapper's moretime.py), answer with its reply.
        if self.path.split("?")[0].endswith("/api/crash"):
            os._exit(1)
        if self.path.split("?")[0].endswith("/jobwrapper/runtime"):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            status, answer = ask_hub("/jobwrapper/runtime", body)
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
            return
        if self.path.split("?")[0].endswith("/api/idle-end"):
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            print("told the hub:", report_to_hub({"ended": "idle"}), flush=True)
            threading.Thread(target=server.shutdown).start()
            return
        if not self.path.split("?")[0].endswith("/api/shutdown"):
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
        print("told the hub:", report_to_hub({"ended": "shutdown"}), flush=True)
        threading.Thread(target=server.shutdown).start()

    def log_message(self, format, *args):
        print("GET", self.path.split("?")[0], file=sys.stderr, flush=True)


class UnixHTTPServer(http.server.ThreadingHTTPServer):
    address_family = socket.AF_UNIX

    def server_bind(self):
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "localhost", 0


if os.environ.get("JOBWRAPPER_SERVER_MODE") == "socket":
    socket_dir = os.path.join(scratch, ".jobwrapper", "sockets")
    os.makedirs(socket_dir, mode=0o700)
    os.umask(0o177)
    server = UnixHTTPServer(os.path.join(socket_dir, "server.sock"), Handler)
    report = {"socket": server.server_address}
else:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    report = {"port": server.server_address[1]}


def stop(signum, frame):
    with open(os.path.join(scratch, "jupyter", "stand-in-stopped.txt"), "w") as handle:
        handle.write(f"stopped by signal {signum}\n")
    threading.Thread(target=server.shutdown).start()


def report_to_hub(body):
    request = urllib.request.Request(
        os.environ["JUPYTERHUB_API_URL"].rstrip("/") + "/batchspawner",
        data=json.dumps(body).encode(),
        headers={"Authorization": "token " + os.environ["JUPYTERHUB_API_TOKEN"],
                 "Content-Type": "application/json", "X-Jobwrapper-Protocol": "2"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status


def ask_hub(path, body):
    request = urllib.request.Request(
        os.environ["JUPYTERHUB_API_URL"].rstrip("/") + path, data=json.dumps(body).encode(),
        headers={"Authorization": "token " + os.environ["JUPYTERHUB_API_TOKEN"],
                 "Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


signal.signal(signal.SIGTERM, stop)
print("reported", report, "->", report_to_hub(report), flush=True)
server.serve_forever()
print("stand-in stopped", flush=True)
