"""scripts/demo: JupyterHub on 127.0.0.1:8000 with jobwrapper's spawner on the local pool.

Runs in the foreground until Ctrl-C, then stops notebooks, jobs, tunnels and the
proxy. ``--check`` starts everything, spawns one notebook through the REST API,
checks that JupyterLab answers through the proxy, stops everything and exits 0 (CI).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from demohub import Hub, spawn_until_lab, stop_everything, stop_proxy, stop_server
from demolib import DEFAULT_STATE, default_users, demo_password, prepare, reset_state

CHECK_OPTIONS = {"cpus": 2, "memory_mb": 1024, "runtime_hours": 1, "gpus": 0,
                 "cephfs_io": "low", "container_os": "Debian12", "environment": "testing"}


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/demo", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="start, spawn one notebook via the REST API, verify, stop")
    parser.add_argument("--port", type=int, default=8000, help="public port (default 8000)")
    parser.add_argument("--state", type=Path, default=DEFAULT_STATE,
                        help="state dir (default: demo-state/ in the repository)")
    parser.add_argument("--fresh", action="store_true",
                        help="forget the previous run's hub database and pool first")
    return parser.parse_args(argv)


def check(hub: Hub) -> int:
    """The CI check: a bad option is refused, a good spawn reaches JupyterLab, stop works."""
    user = hub.users[0]
    status, body = hub.api("POST", f"/users/{user}/server",
                           {"user_options": {**CHECK_OPTIONS, "cpus": "2\nexecutable = /x"}})
    print(f"demo check: injected option refused with HTTP {status}: {body}")
    if status != 400:
        return 1
    seconds = spawn_until_lab(hub, user, CHECK_OPTIONS)
    print(f"demo check: JupyterLab of {user} answered through the proxy {seconds:.1f} s "
          "after the spawn call")
    stop_server(hub, user)
    print(f"demo check: {user}'s server stopped")
    return 0


def main(argv: list[str]) -> int:
    arguments = _arguments(argv)
    if arguments.fresh:
        reset_state(arguments.state)
    print("demo: preparing the local pool, Lmod modules and environments "
          f"in {arguments.state}")
    users = default_users()
    demo = prepare(arguments.state, users)
    hub = Hub(demo, port=arguments.port, users=users)
    stop_proxy(hub.hub_dir)  # a proxy left by an earlier run that was killed
    stopping = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    code = 0
    try:
        hub.start()
        if arguments.check:
            code = check(hub)
        else:
            print(_welcome(hub))
            while not stopping and hub.process is not None and hub.process.poll() is None:
                time.sleep(0.5)
            if not stopping:
                print(f"demo: JupyterHub exited; see {hub.log_path}")
                code = 1
    except RuntimeError as error:
        print(f"demo: {error}", file=sys.stderr)
        code = 1
    finally:
        print("demo: stopping notebooks, jobs, tunnels and the proxy ...")
        jobs, tunnels = stop_everything(hub)
        print(f"demo: stopped ({jobs} job(s) and {tunnels} tunnel(s) were still there "
              "after the hub had stopped the servers)")
        if arguments.check and (jobs or tunnels):
            code = 1
    return code


def _welcome(hub: Hub) -> str:
    who = ("local users " if os.geteuid() == 0 else "users ") + ", ".join(hub.users)
    return f"""
  JupyterHub with jobwrapper on the local HTCondor pool is running:

      {hub.url}/

  Log in as {who}
  with the password   {demo_password(hub.demo)}

  The form offers CPUs, memory, runtime, CephFS I/O class, container and environment
  (stable: Lmod module demo-tools/1.0, testing: demo-tools/2.0).
  Hub log: {hub.log_path}
  Jobs:    {hub.demo.bin_dir / 'condor_q'} -all

  Press Ctrl-C to stop everything.
"""


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
