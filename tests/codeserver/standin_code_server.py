#!/usr/bin/env python3
"""A STAND-IN for code-server, for tests only: not VS Code.

It takes code-server's command line as jobwrapper builds it, serves HTTP on the unix
socket of ``--socket`` with the mode of ``--socket-mode``, and answers every GET with a
small page naming itself, the path it was asked for and its argv, so that the proxy
wiring can be tested where code-server is not installed. It refuses to start without
``--auth none`` or with any TCP option, as a check of the argv.
"""

from __future__ import annotations

import http.server
import json
import os
import socketserver
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"standin": "code-server stand-in", "path": self.path,
                           "argv": sys.argv}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def address_string(self) -> str:  # a unix socket has no client address
        return "unix"

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write("standin: " + format % args + "\n")


class UnixServer(socketserver.UnixStreamServer):
    def get_request(self):  # BaseHTTPRequestHandler wants a (host, port)-like address
        request, _ = super().get_request()
        return request, ("unix", 0)


def main(argv: list[str]) -> int:
    if "--version" in argv:
        print("0.0.0 stand-in")
        return 0
    options = dict(zip(argv, argv[1:]))
    if options.get("--auth") != "none" or any(w.startswith(("--bind-addr", "--port"))
                                              for w in argv):
        print("standin: refusing: argv is not jobwrapper's", file=sys.stderr)
        return 2
    path = options["--socket"]
    server = UnixServer(path, Handler)
    os.chmod(path, int(options.get("--socket-mode", "600"), 8))
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
