"""Measures the facts in docs/slurm.md "Facts measured on Slurm 22.05 (Debian 12)" on a
private cluster (tests/slurm/cluster.py) and rewrites the fixture files in
tests/slurm/fixtures/. As root, after scripts/setup; takes about 3 minutes:

    .venv/bin/python -m tests.slurm.measure_facts [--skip-time-limit]

Prints one JSON document with everything it measured."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .cluster import Cluster, start_cluster

ALICE, BOB = "jwtest-alice", "jwtest-bob"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SECRET = "abc-secret-value-17"
SCRIPT_MARKER = "script-marker-17"


def wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(what)


def job_pids(job: int, user: str) -> list[int]:
    """The processes of `user` below this job's slurmstepd."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            owner = entry.stat().st_uid
        except OSError:
            continue
        if f"SLURM_JOB_ID={job}\0".encode() in environ and owner != 0:
            pids.append(int(entry.name))
    del user
    return pids


def visibility(cluster: Cluster, private: str) -> dict[str, dict[str, str]]:
    """Who sees alice's job, its environment (SECRET_X) and its batch script."""
    workdir = cluster.workdir(ALICE)
    script = f"#!/bin/sh\n# {SCRIPT_MARKER}\nsleep 300\n"
    env = {**cluster.env(), "SECRET_X": "unset-in-caller"}
    job = cluster.sbatch(f"--export=ALL,SECRET_X={SECRET}", user=ALICE, cwd=workdir,
                         script=script, env=env)
    cluster.wait_state(job, "RUNNING")
    pids = wait(lambda: job_pids(job, ALICE), 10, "the job's processes")
    commands = {
        "scontrol show job ID": ["scontrol", "show", "job", str(job)],
        "scontrol show job -dd ID": ["scontrol", "show", "job", "-dd", str(job)],
        "scontrol write batch_script ID -": ["scontrol", "write", "batch_script", str(job),
                                             "-"],
        "squeue -o %all": ["squeue", "-o", "%all"],
        "sacct -j ID": ["sacct", "-j", str(job)],
    }
    results: dict[str, dict[str, str]] = {}
    for who in (ALICE, BOB, "root"):
        user = None if who == "root" else who
        row = {}
        for name, argv in commands.items():
            result = cluster.run(*argv, user=user, cwd="/")
            text = result.stdout + result.stderr
            seen = []
            if f"JobId={job}" in text or re.search(rf"(^|\|)\s*{job}\b", text, re.M):
                seen.append("job")
            if SECRET in text:
                seen.append("SECRET_X")
            if SCRIPT_MARKER in text:
                seen.append("script")
            row[name] = (f"rc={result.returncode} sees: {','.join(seen) or 'nothing'}"
                         + (f" (stderr: {result.stderr.strip().splitlines()[0]})"
                            if result.stderr.strip() else ""))
        # /proc/PID/environ of the job's processes, read as that user.
        reads = []
        for pid in pids:
            argv = ["cat", f"/proc/{pid}/environ"]
            if user:
                argv = ["runuser", "-u", user, "--", *argv]
            result = subprocess.run(argv, capture_output=True, check=False)
            reads.append("SECRET_X" if SECRET.encode() in result.stdout else
                         f"rc={result.returncode} {result.stderr.decode().strip()[:80]}")
        row["/proc/PID/environ"] = "; ".join(sorted(set(reads)))
        results[who] = row
    # The slurmd spool keeps the script and environment, root-only?
    spool = cluster.directory / "spool"
    results["spool"] = {
        str(path.relative_to(cluster.directory)): oct(path.stat().st_mode & 0o777)
        for path in sorted(spool.rglob("*")) if f"job{job:05d}" in str(path)}
    results["private_data"] = {"PrivateData": private or "(unset)"}
    cluster.run("scancel", str(job), check=True)
    cluster.cancel_all()
    return results


TIMING_JOB = r"""#!/bin/sh
/usr/bin/python3 - <<'EOF'
import json, os, statistics, subprocess, time
job = os.environ["SLURM_JOB_ID"]
out = {}
for name, argv in {"squeue -h -o %L -j ID": ["squeue", "-h", "-o", "%L", "-j", job],
                   "scontrol show job ID": ["scontrol", "show", "job", job]}.items():
    runs = []
    for _ in range(20):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        runs.append((time.perf_counter() - start) * 1000)
    out[name] = {"median_ms": round(statistics.median(runs), 1),
                 "min_ms": round(min(runs), 1), "max_ms": round(max(runs), 1)}
print(json.dumps(out))
EOF
"""


def query_cost(cluster: Cluster) -> dict:
    workdir = cluster.workdir(ALICE)
    job = cluster.sbatch("--time=10", user=ALICE, cwd=workdir, script=TIMING_JOB)
    cluster.wait_state(job, "COMPLETED", "FAILED", timeout=120)
    return json.loads((workdir / f"slurm-{job}.out").read_text())


def env_fixtures(cluster: Cluster) -> dict:
    FIXTURES.mkdir(exist_ok=True)
    workdir = cluster.workdir(ALICE)
    found = {}
    jobs = {
        "batch-env.txt": ["--cpus-per-task=2", "--mem=1G", "--time=10"],
        "batch-env-mem-per-cpu.txt": ["--cpus-per-task=2", "--mem-per-cpu=512",
                                      "--time=10"],
    }
    script = ("#!/bin/sh\nenv | grep SLURM | sort > env-$SLURM_JOB_ID.txt\n"
              "env | grep -E '^(TMPDIR|HOME|USER|PWD|SHELL|PATH|OMP_NUM_THREADS)=' | sort"
              " > other-$SLURM_JOB_ID.txt\nsleep 300\n")
    for name, args in jobs.items():
        job = cluster.sbatch(*args, user=ALICE, cwd=workdir, script=script)
        cluster.wait_state(job, "RUNNING")
        path = workdir / f"env-{job}.txt"
        wait(lambda path=path: path.exists() and path.stat().st_size, 10, "env file")
        time.sleep(0.2)
        header = (f"# env | grep SLURM | sort of a batch job (sbatch {' '.join(args)}, as "
                  f"{ALICE}) on the private Slurm 22.05 cluster of tests/slurm/cluster.py "
                  "(one node, 4 CPUs, 4096 MB, DefMemPerCPU=1024), written by "
                  "tests/slurm/measure_facts.py\n")
        (FIXTURES / name).write_text(header + path.read_text())
        found[name] = {"job": job, "other": (workdir / f"other-{job}.txt").read_text()}
        if name == "batch-env.txt":
            step = cluster.run("srun", f"--jobid={job}", "--overlap", "sh", "-c",
                               "env | grep SLURM | sort", user=ALICE, cwd=workdir)
            header = (f"# env | grep SLURM | sort of a step started from outside the job "
                      f"with `srun --jobid=ID --overlap` (as {ALICE}, the job being "
                      f"sbatch {' '.join(args)}) on the private Slurm 22.05 cluster of "
                      "tests/slurm/cluster.py, written by tests/slurm/measure_facts.py\n")
            (FIXTURES / "srun-env.txt").write_text(header + step.stdout)
            other = cluster.run("srun", f"--jobid={job}", "--overlap", "sh", "-c",
                                "echo TMPDIR=$TMPDIR; nproc", user=ALICE, cwd=workdir)
            found["srun"] = other.stdout
    cluster.cancel_all()
    return found


SIGNAL_SCRIPT = r"""#!/bin/bash
log=$SLURM_SUBMIT_DIR/signals-$SLURM_JOB_ID.log
echo "started $(date +%s.%N)" >> $log
for s in HUP INT QUIT USR1 USR2 TERM CONT ALRM XCPU; do
  trap "echo $s \$(date +%s.%N) >> $log" $s
done
trap "echo EXIT >> $log" EXIT
while true; do sleep 0.2; echo "tick $(date +%s.%N)" >> $log; done
"""


def signals(cluster: Cluster, time_limit: bool) -> dict:
    workdir = cluster.workdir(ALICE)
    out = {}
    cases = {"scancel": []}
    if time_limit:
        cases["time limit (--time=1)"] = ["--time=1"]
    for name, args in cases.items():
        job = cluster.sbatch(*args, user=ALICE, cwd=workdir, script=SIGNAL_SCRIPT)
        cluster.wait_state(job, "RUNNING")
        log = workdir / f"signals-{job}.log"
        wait(lambda log=log: log.exists() and "tick" in log.read_text(), 10, "tick")
        if name == "scancel":
            cancelled = time.time()
            cluster.run("scancel", str(job), user=ALICE, check=True)
        wait(lambda job=job: cluster.job_field(job, "ExitCode") not in (None, "0:0"),
             200, "the end")
        lines = log.read_text().splitlines()
        start = float(lines[0].split()[1])
        caught = [(line.split()[0], float(line.split()[1])) for line in lines
                  if line.split()[0] not in ("tick", "started", "EXIT")]
        last_tick = max(float(line.split()[1]) for line in lines if line.startswith("tick"))
        first = caught[0][1] if caught else None
        out[name] = {
            "caught": [f"{sig} +{stamp - start:.2f}s" for sig, stamp in caught],
            "exit trap ran": any(line == "EXIT" for line in lines),
            "last tick after first signal (s)": round(last_tick - first, 2) if first else None,
            "ExitCode": cluster.job_field(job, "ExitCode"),
            "JobState": cluster.job_field(job, "JobState"),
            "Reason": cluster.job_field(job, "Reason"),
            "runtime until first signal (s)": round(first - start, 2) if first else None,
            "output": (workdir / f"slurm-{job}.out").read_text().strip(),
        }
        if name == "scancel":
            out[name]["scancel to SIGTERM (s)"] = round(first - cancelled, 3)
        else:
            out[name]["TimeLimit"] = cluster.job_field(job, "TimeLimit")
    return out


def latency(cluster: Cluster) -> dict:
    workdir = cluster.workdir(ALICE)
    to_running, to_script, to_step, srun_wall = [], [], [], []
    for _ in range(5):
        submitted = time.time()
        job = cluster.sbatch(user=ALICE, cwd=workdir,
                             script="#!/bin/sh\ndate +%s.%N > started-$SLURM_JOB_ID\n"
                                    "sleep 300\n")
        while cluster.job_field(job, "JobState") != "RUNNING":
            time.sleep(0.01)
        running = time.time()
        to_running.append(running - submitted)
        path = workdir / f"started-{job}"
        wait(lambda path=path: path.exists() and path.read_text().strip(), 10, "start")
        to_script.append(float(path.read_text()) - submitted)
        before = time.time()
        step = cluster.run("srun", f"--jobid={job}", "--overlap", "date", "+%s.%N",
                           user=ALICE, cwd=workdir)
        after = time.time()
        to_step.append(float(step.stdout) - before)
        srun_wall.append(after - before)
        cluster.cancel_all()

    def ms(values: list[float]) -> dict:
        return {"median_ms": round(statistics.median(values) * 1000),
                "all_ms": [round(value * 1000) for value in values]}

    return {"SchedulerParameters": cluster.extra.get("SchedulerParameters", "(unset)"),
            "sbatch to RUNNING (squeue/scontrol poll)": ms(to_running),
            "sbatch to the script's first line": ms(to_script),
            "srun --overlap called to step executing": ms(to_step),
            "srun --overlap whole call": ms(srun_wall)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-time-limit", action="store_true")
    options = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="jwslurm-facts-", dir="/tmp"))
    cluster = start_cluster(directory)
    report: dict = {"version": cluster.run("sinfo", "--version").stdout.strip()}
    try:
        report["env"] = env_fixtures(cluster)
        report["latency"] = [latency(cluster)]
        cluster.reconfigure(SchedulerParameters="batch_sched_delay=0")
        report["latency"].append(latency(cluster))
        cluster.reconfigure(SchedulerParameters="")
        report["query cost inside a job"] = query_cost(cluster)
        report["visibility"] = [visibility(cluster, "")]
        cluster.reconfigure(PrivateData="jobs")
        report["visibility"].append(visibility(cluster, "jobs"))
        cluster.reconfigure(PrivateData="")
        report["signals"] = signals(cluster, not options.skip_time_limit)
    finally:
        cluster.stop()
        shutil.rmtree(directory, ignore_errors=True)
    json.dump(report, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    os.umask(0o022)
    main()
