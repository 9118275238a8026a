"""`condor_q`: -format, -af, -l and a plain listing, for jobs in the local queue.

Like HTCondor: jobs named by id are shown whoever owns them; with no ids and no
`-all` only the caller's jobs are listed; a job that is not in the queue prints
nothing and the exit code is still 0. `-format FMT EXPR` prints FMT (printf-like,
one conversion, `\\n` and `\\t` escapes) with EXPR's value and is skipped silently
when EXPR is undefined; `-af` prints values separated by spaces, `undefined` for
missing ones (`-af:j` puts the job id first, `-af:t` separates with tabs).
`-better-analyze` (or `-analyze`) says why a job runs or waits, in HTCondor 25's
layout (analyze.py).
"""

from __future__ import annotations

import os
import pwd
import re
import sys
import time
from typing import Any

from jobwrapper.localpool.ads.classads import Ad, format_for_print, lookup, parse_literal, render_ad
from jobwrapper.localpool.ads.expressions import UnsupportedExpression, evaluate
from jobwrapper.localpool.config import PoolLayout
from jobwrapper.localpool.records import JobRecord, load_record, queued_jobs

_CONVERSION = re.compile(r"%([-+ 0#]*\d*(?:\.\d+)?)([sdifgexXvV%])")
_STATUS_LETTER = {1: "I", 2: "R", 3: "X", 4: "C", 5: "H"}


class QueryUsageError(ValueError):
    """A bad condor_q command line."""


def unescape(text: str) -> str:
    """condor_q's escapes in -format strings."""
    return text.replace("\\n", "\n").replace("\\t", "\t").replace("\\\\", "\\")


def expression_value(ad: Ad, expression: str) -> tuple[bool, Any]:
    """(defined, value) of an attribute name or a simple expression."""
    found, value = lookup(ad, expression)
    if found:
        return value is not None, value
    literal = parse_literal(expression)
    if not isinstance(literal, str) or expression.strip().startswith('"'):
        return True, literal
    try:
        value = evaluate(expression, ad, time.time())
    except UnsupportedExpression:
        return False, None
    return value is not None, value


def apply_format(fmt: str, value: Any) -> str:
    """printf-style formatting of one value, as -format does."""
    fmt = unescape(fmt)
    match = _CONVERSION.search(fmt)
    if not match or match.group(2) == "%":
        return fmt.replace("%%", "%")
    flags, kind = match.group(1), match.group(2)
    if kind in "vV":
        text = format_for_print(value) if kind == "v" else _render(value)
    elif kind in "di":
        text = f"%{flags}d" % int(value if not isinstance(value, str) else float(value))
    elif kind in "fge":
        text = f"%{flags}{kind}" % float(value)
    elif kind in "xX":
        text = f"%{flags}{kind}" % int(value)
    else:
        text = f"%{flags}s" % format_for_print(value)
    return fmt[: match.start()] + text + fmt[match.end() :].replace("%%", "%")


def _render(value: Any) -> str:
    from jobwrapper.localpool.ads.classads import render_value

    return render_value(value)


def is_autoformat(arg: str) -> bool:
    """`-af`, `-af:FLAGS`, `-autoformat[:FLAGS]` (any case)."""
    lowered = arg.lower()
    return lowered.startswith("-af") or lowered.startswith("-autoformat")


def read_autoformat(argv: list[str], index: int, options: dict[str, Any]) -> int:
    """Read `-af[:FLAGS] ATTR...` at argv[index] into `options` (af_flags, autoformat);
    the index of the next argument."""
    options["af_flags"] = argv[index].partition(":")[2]
    attributes = []
    index += 1
    while index < len(argv) and not argv[index].startswith("-"):
        attributes.append(argv[index])
        index += 1
    options["autoformat"] = attributes
    return index


def _parse_argv(argv: list[str]) -> dict[str, Any]:
    options: dict[str, Any] = {"formats": [], "autoformat": None, "long": False, "all": False,
                               "ids": [], "owners": [], "analyze": False}
    index = 0
    while index < len(argv):
        arg = argv[index]
        lowered = arg.lower()
        if lowered == "-format":
            if index + 2 >= len(argv):
                raise QueryUsageError("-format requires a format string and an attribute")
            options["formats"].append((argv[index + 1], argv[index + 2]))
            index += 3
            continue
        if is_autoformat(arg):
            index = read_autoformat(argv, index, options)
            continue
        if lowered in ("-l", "-long"):
            options["long"] = True
        elif lowered in ("-better-analyze", "-analyze", "-better-analyse", "-analyse"):
            options["analyze"] = True
        elif lowered in ("-all", "-allusers", "-nobatch", "-totals", "-global", "-wide"):
            options["all"] = options["all"] or lowered.startswith("-all")
        elif lowered in ("-constraint", "-name", "-pool"):
            raise QueryUsageError(f"{arg} is not supported by the local pool")
        elif arg.startswith("-"):
            raise QueryUsageError(f"unknown option {arg}")
        elif re.fullmatch(r"\d+(\.\d+)?", arg):
            options["ids"].append(int(arg.split(".")[0]))
        else:
            options["owners"].append(arg)
        index += 1
    return options


def select_jobs(layout: PoolLayout, options: dict[str, Any]) -> list[JobRecord]:
    """The jobs a condor_q command line names."""
    if options["ids"]:
        jobs = [load_record(layout, cluster) for cluster in options["ids"]]
        return [job for job in jobs if job is not None]
    jobs = queued_jobs(layout)
    if options["owners"]:
        return [job for job in jobs if job.ad.get("Owner") in options["owners"]]
    if options["all"]:
        return jobs
    me = pwd.getpwuid(os.getuid()).pw_name
    return [job for job in jobs if job.ad.get("Owner") == me]


def autoformat_line(job: JobRecord, attributes: list[str], flags: str) -> str:
    """One -af line: values separated by a space (`,`: ", "; `t`: a tab), `undefined`
    for missing ones, the job id first with `j`."""
    values = [expression_value(job.ad, name) for name in attributes]
    words = [format_for_print(v) if ok else "undefined" for ok, v in values]
    if "j" in flags:
        words.insert(0, f"{job.cluster}.0")
    separator = "\t" if "t" in flags else ", " if "," in flags else " "
    return separator.join(words) + "\n"


def print_listing(jobs: list[JobRecord]) -> None:
    """A plain `condor_q -nobatch`-like table and HTCondor's totals line."""
    print(f"\n\n-- Schedd: localpool : <127.0.0.1:9618> @ {time.strftime('%m/%d/%y %H:%M:%S')}")
    print(" ID      OWNER            SUBMITTED     RUN_TIME ST PRI SIZE CMD")
    counts = {letter: 0 for letter in "CXIRH"}
    for job in jobs:
        ad = job.ad
        status = _STATUS_LETTER.get(job.status, "?")
        counts[status] = counts.get(status, 0) + 1
        start = ad.get("JobCurrentStartDate")
        run = int(time.time() - start) if start and job.status == 2 else 0
        run_time = f"{run // 86400}+{time.strftime('%H:%M:%S', time.gmtime(run % 86400))}"
        submitted = time.strftime("%m/%d %H:%M", time.localtime(ad.get("QDate", 0)))
        print(f"{job.cluster:>4}.0   {ad.get('Owner', ''):<14} {submitted}  {run_time} "
              f"{status}  0    0.0 {os.path.basename(str(ad.get('Cmd', '')))}")
    print(
        f"\nTotal for query: {len(jobs)} jobs; {counts['C']} completed, {counts['X']} removed, "
        f"{counts['I']} idle, {counts['R']} running, {counts['H']} held, 0 suspended\n"
    )


def query(argv: list[str], layout: PoolLayout) -> int:
    """The condor_q command; returns its exit code."""
    options = _parse_argv(argv)
    jobs = select_jobs(layout, options)
    out = sys.stdout
    if options["analyze"]:
        from jobwrapper.localpool.commands.analyze import analyze_jobs
        from jobwrapper.localpool.config import load_config

        analyze_jobs(jobs, layout, load_config(layout.root), out)
        out.flush()
        return 0
    for job in jobs:
        if options["long"]:
            out.write(render_ad(job.ad) + "\n")
        elif options["formats"]:
            for fmt, expression in options["formats"]:
                defined, value = expression_value(job.ad, expression)
                if defined:
                    out.write(apply_format(fmt, value))
        elif options["autoformat"] is not None:
            out.write(autoformat_line(job, options["autoformat"], options.get("af_flags", "")))
    if not (options["long"] or options["formats"] or options["autoformat"] is not None):
        print_listing(jobs)
    out.flush()
    return 0
