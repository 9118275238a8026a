"""Shared by bench/scale and bench/hub_footprint: the demo hub with a config overlay,
HTCondor at /opt/htcondor as the pool (--pool condor), and what the hub's processes
hold (memory, file descriptors) from /proc.

``overlay_config`` makes demo/jupyterhub_config.py load through a small config of the
bench's own, so a bench can swap the job for the stand-in server (tests/hub/
standin_job.py: the job's side of the protocol, standard library only, no JupyterLab),
point the batch commands at another pool, or change the tunnel's exec prefix.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path

import demohub

REPO = Path(__file__).resolve().parents[1]
STANDIN_JOB = REPO / "tests" / "hub" / "standin_job.py"
"""The stand-in job: reads and deletes the secrets file, serves HTTP on a port of its
own, POSTs the port to the hub's API with the server's token (as jobwrapper's job side
does, jobwrapper/inserver/hubreport.py), answers every GET with 200, ends on SIGTERM."""

SETPRIV_PREFIX = "setpriv --reuid={uid} --regid={gid} --init-groups --pdeathsig keep --"
"""The tunnel's exec prefix without a sudo process left waiting (docs/hub.md)."""


def overlay_config(state: Path, settings: Mapping[str, object]) -> Path:
    """A config dir whose jupyterhub_config.py loads the demo's and then sets
    `settings` ("JobwrapperSpawner.jobwrapper_path" → value); every later Hub.start of
    this bench process uses it."""
    directory = state / "bench-config"
    directory.mkdir(exist_ok=True)
    lines = ["# ruff: noqa", "c = get_config()",
             f"load_subconfig({str(REPO / 'demo' / 'jupyterhub_config.py')!r})"]
    for name, value in settings.items():
        section, trait = name.rsplit(".", 1)
        lines.append(f"c.{section}.{trait} = json.loads({json.dumps(json.dumps(value))})")
    lines.insert(1, "import json")
    (directory / "jupyterhub_config.py").write_text("\n".join(lines) + "\n")
    demohub.DEMO_DIR = directory
    return directory


def standin_settings() -> dict[str, object]:
    """Config for stand-in jobs instead of `jobwrapper singleuser` (JupyterLab)."""
    return {"JobwrapperSpawner.jobwrapper_path": str(STANDIN_JOB)}


# --- HTCondor at /opt/htcondor ------------------------------------------------------------

CONDOR = Path("/opt/htcondor")
CONDOR_ENV = {"CONDOR_CONFIG": str(CONDOR / "etc" / "condor_config")}


def condor_settings() -> dict[str, object]:
    """The batch commands and tunnels of HTCondor at /opt/htcondor instead of the shims."""
    b = CONDOR / "bin"
    ssh = "ssh -N -oExitOnForwardFailure=yes"
    return {
        "JobwrapperSpawner.batch_submit_cmd": f"{b}/condor_submit",
        "JobwrapperSpawner.batch_query_cmd": (
            f'{b}/condor_q {{job_id}} -format "%s, " JobStatus -format "%s" RemoteHost '
            '-format "\\n" True'),
        "JobwrapperSpawner.batch_query_all_cmd": f"{b}/condor_q {{job_ids}} -af:j JobStatus "
                                                 "RemoteHost",
        "JobwrapperSpawner.batch_cancel_cmd": f"{b}/condor_rm {{job_id}}",
        "JobwrapperSpawner.batch_hold_reason_cmd": f"{b}/condor_q {{job_id}} -af HoldReason",
        "JobwrapperSpawner.connect_to_job_cmd": (
            f'{b}/condor_ssh_to_job -ssh "{ssh} -L {{port}}:localhost:{{rport}}" {{job_id}}'),
        "JobwrapperSpawner.connect_to_job_socket_cmd": (
            f'{b}/condor_ssh_to_job -ssh "{ssh} -oStreamLocalBindUnlink=yes '
            '-L {hub_socket}:{job_socket}" {job_id}'),
    }


def condor_knobs(slots: int) -> dict[str, str]:
    """The pool's configuration for `slots` jobs at once, set through the daemons'
    environment (_CONDOR_NAME) so that /opt/htcondor's files stay as they are."""
    return {
        "NUM_CPUS": str(slots + 2),  # one partitionable slot (00-minicondor) this big
        "MEMORY": str(1100 * (slots + 2)),  # MB; the jobs ask for 1024 each
        "STARTER_INITIAL_UPDATE_INTERVAL": "0",  # docs/hub.md: the tunnel can connect at once
        # Without a consumption policy the negotiator hands the partitionable slot to one
        # submitter per cycle, and the schedd splits the leftovers only among that
        # owner's jobs: with one job per user, one job started per cycle (60 s).
        "CONSUMPTION_POLICY": "True",
        # Hundreds of claims and shadows at once: the startd then blocks for 20 s on a
        # claim whose schedd is too busy to send it, and everything behind it waits.
        "MAX_PENDING_STARTD_CONTACTS": "20",
        "JOB_START_COUNT": "10",  # shadows started per JOB_START_DELAY
        "JOB_START_DELAY": "1",
        "ENABLE_IPV6": "False",  # NETWORK_INTERFACE is 127.0.0.1; peers came over fd00::
        "SHADOW_DEBUG": "",  # /opt/htcondor's 60-debug: D_FULLDEBUG for 1,000 jobs
        "STARTER_DEBUG": "",
        "MAX_JOBS_RUNNING": str(slots + 100),
    }


def condor_running() -> bool:
    return subprocess.run(["pgrep", "-x", "condor_master"], capture_output=True).returncode == 0


def start_condor(slots: int, prog: str = "bench") -> bool:
    """Start /opt/htcondor's pool with room for `slots` jobs; False if it already ran."""
    if condor_running():
        cpus = subprocess.run([str(CONDOR / "bin" / "condor_status"), "-af", "TotalCpus"],
                              capture_output=True, text=True,
                              env={**os.environ, **CONDOR_ENV}).stdout.split()
        if not cpus or float(cpus[0]) < slots:
            print(f"{prog}: HTCondor runs already, with {cpus or 'no'} CPUs for "
                  f"{slots} notebooks: the jobs beyond it stay idle", flush=True)
        return False
    env = {**os.environ, **{f"_CONDOR_{name}": value
                            for name, value in condor_knobs(slots).items()}}
    subprocess.run([str(CONDOR / "start-pool")], env=env, check=True, capture_output=True)
    left = condor_leftovers()[0]
    if left:  # a run the schedd could not finish removing: its jobs came back with the pool
        print(f"{prog}: removing {left} jobs left in the queue by an earlier run", flush=True)
        subprocess.run([str(CONDOR / "bin" / "condor_rm"), "-all", "-forcex"],
                       capture_output=True, env={**os.environ, **CONDOR_ENV})
        deadline = time.monotonic() + 60
        while condor_leftovers()[0] and time.monotonic() < deadline:
            time.sleep(1)
    return True


def stop_condor() -> None:
    """Remove every job still queued, then stop the pool's daemons."""
    env = {**os.environ, **CONDOR_ENV}
    subprocess.run([str(CONDOR / "bin" / "condor_rm"), "-all"], capture_output=True, env=env)
    subprocess.run([str(CONDOR / "stop-pool")], capture_output=True)


def condor_leftovers() -> tuple[int, int]:
    """(jobs in HTCondor's queue, condor_ssh_to_job processes) after stopping all."""
    jobs = subprocess.run([str(CONDOR / "bin" / "condor_q"), "-all", "-af", "ClusterId"],
                          capture_output=True, text=True,
                          env={**os.environ, **CONDOR_ENV}).stdout.split()
    tunnels = subprocess.run(["pgrep", "-f", "^[^ ]*condor_ssh_to_job"],
                             capture_output=True, text=True).stdout.split()
    return len(jobs), len(tunnels)


# --- /proc ------------------------------------------------------------------------------

def _read(path: str) -> str:
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return ""


def children_map() -> dict[int, list[int]]:
    """{pid: [child pids]} of all processes now."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _read(f"/proc/{entry}/stat").rsplit(")", 1)
            if len(fields) == 2:
                children[int(fields[1].split()[1])].append(int(entry))
    return children


def descendants(root: int, children: Mapping[int, list[int]] | None = None) -> list[int]:
    """root and all processes below it."""
    children = children_map() if children is None else children
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def command_line(pid: int) -> list[str]:
    return [word for word in _read(f"/proc/{pid}/cmdline").split("\0") if word]


def kind(pid: int) -> str:
    """What a hub-side process is: hub, configurable-http-proxy, sudo, condor_ssh_to_job,
    ssh, proxy helper (condor_ssh_to_job -proxy, ssh's ProxyCommand), or other."""
    words = command_line(pid)
    if not words:
        return "gone"
    names = [Path(word).name for word in words[:3]]
    if "jupyterhub" in names:
        return "hub"
    if any("configurable-http-proxy" in word for word in words[:3]):
        return "configurable-http-proxy"
    if names[0] in ("sudo", "setpriv", "runuser", "su"):
        return names[0]
    if "condor_ssh_to_job" in names:
        return "proxy helper" if "-proxy" in words else "condor_ssh_to_job"
    if names[0] == "ssh":
        return "ssh"
    return "other: " + names[0]


def pss_uss_kb(pid: int) -> tuple[int, int]:
    """(proportional set size, unique set size) in kB, from smaps_rollup ((0, 0) if gone).

    PSS shares each shared page among the processes that map it, so a process's PSS
    also moves when others (another bench's python, node) start or end; USS (private
    pages only) does not."""
    pss = uss = 0
    for line in _read(f"/proc/{pid}/smaps_rollup").splitlines():
        if line.startswith("Pss:"):
            pss = int(line.split()[1])
        elif line.startswith(("Private_Clean:", "Private_Dirty:")):
            uss += int(line.split()[1])
    return pss, uss


def rss_kb(pid: int) -> int:
    for line in _read(f"/proc/{pid}/status").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def open_fds(pid: int) -> int:
    with contextlib.suppress(OSError):
        return len(os.listdir(f"/proc/{pid}/fd"))
    return 0


Footprint = dict[str, tuple[int, int, int, int]]
"""{kind: (processes, PSS kB, USS kB, RSS kB)}"""


def footprint(pids: Iterable[int]) -> Footprint:
    """{kind: (processes, PSS kB, USS kB, RSS kB)} of the processes."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for pid in pids:
        entry = totals[kind(pid)]
        pss, uss = pss_uss_kb(pid)
        entry[0] += 1
        entry[1] += pss
        entry[2] += uss
        entry[3] += rss_kb(pid)
    totals.pop("gone", None)
    return {name: (values[0], values[1], values[2], values[3])
            for name, values in totals.items()}


def mem_available_mb() -> float:
    """The machine's MemAvailable (/proc/meminfo) in MB."""
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def load_average() -> str:
    """The 1/5/15-minute load averages and the number of CPUs, for the figures' line."""
    one, five, fifteen = _read("/proc/loadavg").split()[:3]
    return f"load {one}/{five}/{fifteen} on {os.cpu_count()} CPUs"
