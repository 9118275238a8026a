"""The job's user log (`log = FILE`) in HTCondor's text event format.

Written events: 000 submitted, 001 executing, 005 terminated, 009 aborted, 012 held.
Each event is a header line `NNN (CCC.PPP.SSS) YYYY-MM-DD HH:MM:SS text`, optional
indented detail lines, and a `...` line, as condor's own writer produces.
"""

from __future__ import annotations

import time

_USAGE = (
    "\t\tUsr 0 00:00:00, Sys 0 00:00:00  -  Run Remote Usage\n"
    "\t\tUsr 0 00:00:00, Sys 0 00:00:00  -  Run Local Usage\n"
    "\t\tUsr 0 00:00:00, Sys 0 00:00:00  -  Total Remote Usage\n"
    "\t\tUsr 0 00:00:00, Sys 0 00:00:00  -  Total Local Usage\n"
    "\t0  -  Run Bytes Sent By Job\n"
    "\t0  -  Run Bytes Received By Job\n"
    "\t0  -  Total Bytes Sent By Job\n"
    "\t0  -  Total Bytes Received By Job\n"
)


def _write(path: str, cluster: int, code: int, text: str, details: str = "") -> None:
    if not path:
        return
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
    event = f"{code:03d} ({cluster:03d}.000.000) {stamp} {text}\n{details}...\n"
    with open(path, "a") as handle:
        handle.write(event)


def submitted(path: str, cluster: int, address: str) -> None:
    _write(path, cluster, 0, f"Job submitted from host: {address}")


def executing(path: str, cluster: int, address: str, slot_name: str) -> None:
    _write(path, cluster, 1, f"Job executing on host: {address}", f"\tSlotName: {slot_name}\n")


def terminated(path: str, cluster: int, exit_code: int | None, signal: int | None) -> None:
    if signal is not None:
        first = f"\t(0) Abnormal termination (signal {signal})\n\t(0) No core file\n"
    else:
        first = f"\t(1) Normal termination (return value {exit_code})\n"
    _write(path, cluster, 5, "Job terminated.", first + _USAGE)


def aborted(path: str, cluster: int, reason: str) -> None:
    _write(path, cluster, 9, "Job was aborted.", f"\t{reason}\n")


def held(path: str, cluster: int, reason: str) -> None:
    _write(path, cluster, 12, "Job was held.", f"\t{reason}\n\tCode 47 Subcode 0\n")
