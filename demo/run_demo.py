"""scripts/demo: JupyterHub on 127.0.0.1:8000 with jobwrapper's spawner on the local pool.

Runs in the foreground until Ctrl-C, then stops notebooks, jobs, tunnels and the
proxy. ``--check`` starts everything, spawns one notebook through the REST API,
checks that JupyterLab answers through the proxy, stops everything and exits 0 (CI).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from demohub import (
    Hub,
    lab_answers,
    spawn_until_lab,
    stop_everything,
    stop_proxy,
    stop_server,
)
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
    parser.add_argument("--scheduler", choices=("htcondor", "slurm"), default="htcondor",
                        help="the emulated HTCondor pool (default), or a real Slurm 22.05 "
                        "started for the demo (docs/slurm.md)")
    parser.add_argument("--restart-hub", action="store_true",
                        help="restart the running demo's JupyterHub only (notebooks, jobs, "
                        "tunnels and the proxy keep running), as a site restarts its hub")
    return parser.parse_args(argv)


def restart_running_hub(state: Path) -> int:
    """Ask the running demo (its pid file) to restart its hub: SIGHUP, as for daemons."""
    pid_file = state / "demo.pid"
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, signal.SIGHUP)
    except (OSError, ValueError):
        print(f"demo: no running demo found ({pid_file}); start it with scripts/demo",
              file=sys.stderr)
        return 1
    print(f"demo: asked the demo (pid {pid}) to restart its hub; its output says when "
          "the hub is back")
    return 0


def isolate_jobs(hub: Hub) -> str:
    """Run the pool's jobs in network namespaces that reach only the hub's API port, as
    on a real pool where worker nodes take no inbound connections (needs root)."""
    from jobwrapper.localpool.admin import init_pool
    from jobwrapper.localpool.config import PoolLayout
    from jobwrapper.localpool.execute import netns

    if not netns.available():
        return "jobs share the host's network (network namespaces need root and iproute2)"
    init_pool(PoolLayout(hub.demo.pool_dir), {"netns": "true",
                                              "outbound_ports": str(hub.hub_port)})
    return f"jobs run in network namespaces that reach only the hub's port {hub.hub_port}"


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
    hub.restart()
    if not lab_answers(hub, user, timeout=30):
        print(f"demo check: after a hub restart {user}'s JupyterLab does not answer")
        return 1
    # A token the notebook has never seen: the server asks the hub's API about it, at
    # the address the job was given when it started (the hub keeps its ports).
    status, answer = hub.api("POST", f"/users/{user}/tokens", {"note": "after restart"})
    if status != 201:
        print(f"demo check: a new token after the restart: HTTP {status}: {answer}")
        return 1
    seen = server_status(hub, user, answer["token"])
    print(f"demo check: after a hub restart JupyterLab still answers, and takes a new "
          f"token (the server reaches the restarted hub): HTTP {seen}")
    if seen != 200:
        return 1
    stop_server(hub, user)
    print(f"demo check: {user}'s server stopped")
    return 0


def server_status(hub: Hub, user: str, token: str) -> int:
    """HTTP status of the user's server's /api/status through the proxy with `token`."""
    request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 only
        f"{hub.url}/user/{user}/api/status", headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def main(argv: list[str]) -> int:
    arguments = _arguments(argv)
    if arguments.restart_hub:
        return restart_running_hub(arguments.state.resolve())
    if arguments.fresh:
        reset_state(arguments.state)
    print("demo: preparing the local pool, Lmod modules and environments "
          f"in {arguments.state}")
    users = default_users()
    demo = prepare(arguments.state, users)
    hub = Hub(demo, port=arguments.port, users=users)
    stop_proxy(hub.hub_dir)  # a proxy left by an earlier run that was killed
    slurm = None
    if arguments.scheduler == "slurm":
        from demo_slurm import start_slurm

        try:
            slurm = start_slurm(demo.state)
        except RuntimeError as error:
            print(f"demo: {error}", file=sys.stderr)
            return 1
        hub.spawner = "slurm"
        hub.extra_env["SLURM_CONF"] = str(slurm.conf)
        print(f"demo: Slurm 22.05 runs in {slurm.directory} (SLURM_CONF={slurm.conf})")
    else:
        print(f"demo: {isolate_jobs(hub)}")
    stopping = False
    restart_asked = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    def request_restart(signum: int, frame: object) -> None:
        nonlocal restart_asked
        restart_asked = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGHUP, request_restart)
    pid_file = demo.state / "demo.pid"
    pid_file.write_text(f"{os.getpid()}\n")
    code = 0
    try:
        hub.start()
        if arguments.check:
            code = check(hub)
        else:
            print(_welcome(hub, slurm))
            while not stopping and hub.process is not None:
                if restart_asked:
                    restart_asked = False
                    print("demo: restarting JupyterHub; notebooks, jobs, tunnels and the "
                          "proxy keep running ...", flush=True)
                    hub.restart()
                    print(f"demo: JupyterHub is back on {hub.url}/", flush=True)
                if hub.process.poll() is not None:
                    break
                time.sleep(0.5)
            if not stopping:
                print(f"demo: JupyterHub exited; see {hub.log_path}")
                code = 1
    except RuntimeError as error:
        print(f"demo: {error}", file=sys.stderr)
        code = 1
    finally:
        with contextlib.suppress(OSError):
            pid_file.unlink()
        print("demo: stopping notebooks, jobs, tunnels and the proxy ...")
        jobs, tunnels = stop_everything(hub)
        if slurm is not None:
            from demo_slurm import leftover_jobs

            jobs = leftover_jobs(slurm)
            slurm.stop()
        print(f"demo: stopped ({jobs} job(s) and {tunnels} tunnel(s) were still there "
              "after the hub had stopped the servers)")
        if arguments.check and (jobs or tunnels):
            code = 1
    return code


def _welcome(hub: Hub, slurm: object = None) -> str:
    who = ("local users " if os.geteuid() == 0 else "users ") + ", ".join(hub.users)
    where = "a private Slurm 22.05" if slurm is not None else "the local HTCondor pool"
    jobs = (f"SLURM_CONF={getattr(slurm, 'conf', '')} squeue" if slurm is not None
            else f"{hub.demo.bin_dir / 'condor_q'} -all")
    return f"""
  JupyterHub with jobwrapper on {where} is running:

      {hub.url}/

  Log in as {who}
  with the password   {demo_password(hub.demo)}

  The form offers CPUs, memory, runtime, CephFS I/O class, container and environment
  (stable: Lmod module demo-tools/1.0, testing: demo-tools/2.0).
  Named servers: up to 3 per user (Home page, "Add New Server").
  Hub log: {hub.log_path}
  Jobs:    {jobs}

  Restart only the hub (notebooks keep running):  scripts/demo --restart-hub
  Press Ctrl-C to stop everything.
"""


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
