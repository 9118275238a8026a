"""A stand-in connect-to-job command for the connect() tests: `fake_connect.py MODE PORT`.

MODE `listen`: listen on 127.0.0.1:PORT like `ssh -L` (failing like ssh when taken);
`not-ready:N:FILE`: fail like condor_ssh_to_job for the first N runs (counted in FILE);
`fail`: print an error and exit 1; `slow-listen:S`: listen after S seconds, like an ssh
that takes S s to log in.
"""

import socket
import sys
import time

mode, port = sys.argv[1], int(sys.argv[2])
if mode.startswith("not-ready:"):
    _, count, counter = mode.split(":", 2)
    with open(counter, "a+") as handle:
        handle.seek(0)
        runs = len(handle.read())
        handle.write("x")
    if runs < int(count):
        print("(Use -auto-retry to keep trying periodically.)", file=sys.stderr)
        sys.exit(1)
    mode = "listen"
if mode.startswith("slow-listen:"):
    time.sleep(float(mode.split(":", 1)[1]))
    mode = "listen"
if mode == "fail":
    print("Unable to fetch job ad; is it still in the queue?", file=sys.stderr)
    sys.exit(1)
listener = socket.socket()
try:
    listener.bind(("127.0.0.1", port))
except OSError:
    print(f"bind [127.0.0.1]:{port}: Address already in use", file=sys.stderr)
    print(f"channel_setup_fwd_listener_tcpip: cannot listen to port: {port}", file=sys.stderr)
    print("Could not request local forwarding.", file=sys.stderr)
    sys.exit(255)
listener.listen()
time.sleep(60)
