"""Why a notebook job waits, in words, from HTCondor's own analysis.

While a job stays idle, the spawner (a mixin here) runs, once it has been idle for
`wait_analysis_after` seconds and then at most every `wait_analysis_interval`
seconds, `condor_q -better-analyze JOBID` as the hub's own user, reads its summary
(`parse_analysis`, pure: the conditions table, the "Run analysis summary" counts,
"Last failed match" and its reason), and says on the spawn page why the job waits
and, from the pool's free resources (poolstatus.py, one cached condor_status for the
hub), what would start sooner:

    Job 148 cannot start: no slot in the pool has 4 GPUs (the most one slot has is 0).
    ... 1 slot could run it now without GPUs.

Nothing here goes through a shell: the command is split once and filled word by word.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import shlex
from typing import Any, Optional

from traitlets import Float, HasTraits, Integer, Unicode

from ..connection.tunnel import CommandTemplateError, format_command
from ..jobcontrol import BatchCommandError, run_command
from .poolstatus import (
    DEFAULT_STATUS_CMD,
    PoolFree,
    PoolStatus,
    memory_text,
    parse_status,
    shared_status,
)

_SUMMARY = re.compile(r"Of (\d+) slots? on (\d+) machines?")
_COUNT = re.compile(r"^\s+(\d+) slots? (.+?)\s*$")
_CONDITION = re.compile(r"^\[(\d+)\]\s+(\d+)(?:\s+(\d+))?\s+(\S.*?)\s*$")
_REQUEST = re.compile(r"^\s+(Request\w+) = (\d+(?:\.\d+)?)\b")
_RESOURCE = re.compile(r"TARGET\.(\w+)\s*>=\s*(?:MY\.)?Request(\w+)", re.IGNORECASE)
_STATE = re.compile(r"^\d+\.\d+:\s+(Job is .*?)\s*$")
RESOURCES = {"cpus": "Cpus", "memory": "Memory", "gpus": "GPUs", "disk": "Disk"}


@dataclasses.dataclass(frozen=True)
class Condition:
    """A row of "reduces to these conditions": slots matched now (and if drained)."""

    step: int
    matched: int
    if_drained: Optional[int]
    text: str

    @property
    def resource(self) -> str:
        """"cpus", "memory", "gpus", "disk" for a `TARGET.X >= RequestX` row, else ""."""
        match = _RESOURCE.search(self.text)
        if not match:
            return ""
        name = match.group(1).lower()
        return name if name in RESOURCES else ""


@dataclasses.dataclass(frozen=True)
class Analysis:
    """What `condor_q -better-analyze JOBID` says about one job."""

    slots: int = 0
    machines: int = 0
    counts: tuple[tuple[str, int], ...] = ()
    conditions: tuple[Condition, ...] = ()
    requests: tuple[tuple[str, float], ...] = ()
    matched_before: bool = False
    last_failure: str = ""
    state: str = ""

    def count(self, phrase: str) -> Optional[int]:
        """The summary count whose text starts with `phrase` (None: not printed)."""
        for text, number in self.counts:
            if text.startswith(phrase):
                return number
        return None

    @property
    def willing(self) -> int:
        return self.count("match and are willing") or 0

    @property
    def if_drained(self) -> Optional[int]:
        return self.count("would match if drained")

    @property
    def rejected_by_job(self) -> int:
        return self.count("are rejected by your job's requirements") or 0

    @property
    def reject_job(self) -> int:
        return self.count("reject your job") or 0

    def request(self, resource: str) -> float:
        """The job's request (RequestCpus, RequestMemory MB, RequestGPUs); HTCondor
        prints only those its Requirements name: cpus 1 and gpus 0 when absent."""
        wanted = "request" + RESOURCES[resource].lower()
        for name, value in self.requests:
            if name.lower() == wanted:
                return value
        return 1 if resource == "cpus" else 0

    @property
    def never(self) -> bool:
        """No slot of the pool could run it even if every slot were empty."""
        if self.slots == 0:
            return False
        if self.if_drained is not None:
            return self.if_drained == 0 and self.willing == 0
        return self.willing == 0 and self.rejected_by_job + self.reject_job >= self.slots

    def failing(self, drained: bool) -> list[Condition]:
        """The conditions no slot meets (now, or even if drained)."""
        rows = []
        for row in self.conditions:
            value = row.if_drained if drained and row.if_drained is not None else row.matched
            if value == 0:
                rows.append(row)
        return rows


def parse_analysis(text: str) -> Analysis:
    """`condor_q -better-analyze JOBID` (HTCondor 25; tests/hub/expected/waiting/) →
    Analysis. Lines it does not know are skipped; an empty text gives Analysis()."""
    slots = machines = 0
    counts: list[tuple[str, int]] = []
    conditions: list[Condition] = []
    requests: list[tuple[str, float]] = []
    matched_before = False
    last_failure = state = ""
    section = ""
    for line in text.splitlines():
        if "reduces to these conditions" in line:
            section = "conditions"
            continue
        summary = _SUMMARY.search(line)
        if summary:
            slots, machines = int(summary.group(1)), int(summary.group(2))
            section = "summary"
            continue
        if "defines the following attributes" in line:
            section = "job"
            continue
        if line.strip().endswith("has the following attributes:"):
            section = "slot"
            continue
        if section == "conditions":
            row = _CONDITION.match(line.strip())
            if row:
                drained = row.group(3)
                conditions.append(Condition(int(row.group(1)), int(row.group(2)),
                                            int(drained) if drained is not None else None,
                                            row.group(4)))
                continue
        if section == "summary":
            count = _COUNT.match(line)
            if count:
                counts.append((count.group(2), int(count.group(1))))
                continue
        if section == "job":
            request = _REQUEST.match(line)
            if request:
                requests.append((request.group(1), float(request.group(2))))
                continue
        state_line = _STATE.match(line.strip())
        if state_line:
            state = state_line.group(1)
        elif line.startswith("Last successful match:"):
            matched_before = True
        elif line.startswith("Reason for last match failure:"):
            last_failure = line.partition(":")[2].strip()
    return Analysis(slots, machines, tuple(counts), tuple(conditions), tuple(requests),
                    matched_before, last_failure, state)


def amount(resource: str, value: float) -> str:
    """`4 GPUs`, `1 CPU`, `10 TB memory`, `2 GB disk`."""
    if resource == "memory":
        return f"{memory_text(value)} memory"
    if resource == "disk":
        return f"{memory_text(value / 1024)} disk"
    number = int(value)
    noun = {"cpus": "CPU", "gpus": "GPU"}[resource]
    return f"{number} {noun}{'s' if number != 1 else ''}"


def _plural(count: int, word: str = "slot") -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


def _missing(analysis: Analysis, drained: bool) -> list[str]:
    """The resources (or conditions) no slot meets, as "4 GPUs" etc."""
    words = []
    for row in analysis.failing(drained):
        if row.resource:
            words.append(amount(row.resource, analysis.request(row.resource)))
        else:
            words.append(f"the condition {row.text}")
    return words


def sooner(analysis: Analysis, free: Optional[PoolFree]) -> str:
    """What would start sooner: "No slot with 4 GPUs is free now; 12 slots could run
    it now with 2 GPUs." ("" when nothing smaller would, or no pool status)."""
    if free is None:
        return ""
    request = {r: analysis.request(r) for r in ("cpus", "memory", "gpus")}
    if free.count(request["cpus"], request["memory"], request["gpus"]):
        return ""
    for resource in ("gpus", "cpus", "memory"):
        wanted = request[resource]
        others = {r: v for r, v in request.items() if r != resource}
        candidates = [slot for slot in free.free_slots
                      if all(getattr(slot, r) >= v for r, v in others.items())]
        if not candidates:
            continue
        best = max(getattr(slot, resource) for slot in candidates)
        if resource == "memory" and best >= 1024:
            best = best // 1024 * 1024
        if best >= wanted or (best < 1 and resource != "gpus"):
            continue
        count = sum(1 for slot in candidates if getattr(slot, resource) >= best)
        with_text = "without GPUs" if best == 0 else f"with {amount(resource, best)}"
        return (f"No slot with {amount(resource, wanted)} is free now; "
                f"{_plural(count)} could run it now {with_text}.")
    return ""


def explain(job_id: str, analysis: Analysis, free: Optional[PoolFree] = None) -> str:
    """The user's sentence for an idle job ("" when the analysis says nothing)."""
    if analysis.state and analysis.state != "Job is idle.":
        return ""  # running, held, ...: said elsewhere
    if analysis.slots == 0 and not analysis.conditions:
        if analysis.last_failure:
            return (f"Job {job_id} is idle; HTCondor's last attempt to match it: "
                    f"{analysis.last_failure}.")
        return ""
    hint = sooner(analysis, free)
    if analysis.never:
        missing = _missing(analysis, drained=True) or ["what the job requests"]
        largest = ""
        row = next((r for r in analysis.failing(True) if r.resource in ("cpus", "memory", "gpus")),
                   None)
        if row is not None and free is not None:
            most = free.largest(row.resource, now=False)
            largest = f" (the most one slot has is {amount(row.resource, most)})"
        text = (f"Job {job_id} cannot start: no slot in the pool has "
                f"{' and '.join(missing)}{largest}. Stop it and choose less.")
        return f"{text} {hint}".strip()
    if analysis.willing > 0:
        return (f"Job {job_id} is idle: {_plural(analysis.willing)} could run it; HTCondor "
                "starts it at its next matchmaking, after the jobs of users with a better "
                "priority.")
    busy = analysis.if_drained or 0
    missing = _missing(analysis, drained=False)
    text = f"Job {job_id} waits for a free slot: "
    if busy:
        text += f"the {_plural(busy)} that could run it {'are' if busy != 1 else 'is'} busy now"
    else:
        text += "every slot that could run it is busy now"
    if missing and not hint:
        text += f" (none has {' and '.join(missing)} free)"
    text += "."
    return f"{text} {hint}".strip()


# ---- the spawner's part ---------------------------------------------------------------

_LIMITS: dict[tuple[object, int], asyncio.Semaphore] = {}


def _limit(count: int) -> asyncio.Semaphore:
    """The hub's semaphore for wait analyses (one per event loop and limit)."""
    loop = asyncio.get_running_loop()
    key = (loop, max(1, count))
    if key not in _LIMITS:
        for old in [k for k in _LIMITS if k[0] is not loop]:
            del _LIMITS[old]
        _LIMITS[key] = asyncio.Semaphore(key[1])
    return _LIMITS[key]


def _hub_env(keep: list[str]) -> dict[str, str]:
    return {name: os.environ[name] for name in keep if name in os.environ}


class WaitReasons(HasTraits):
    """Mixin for JobwrapperSpawner: the pool's free resources and why a job waits."""

    parse_pool_status = staticmethod(parse_status)  # pool_status_cmd's answer (Slurm: sinfo)

    wait_analysis_cmd = Unicode(
        "condor_q -better-analyze {job_id}",
        help="""Run (as the hub's own user, with batch_query_all_exec_prefix) for a job
        that has been idle for wait_analysis_after seconds, then at most every
        wait_analysis_interval seconds while it stays idle; its output, HTCondor's
        `condor_q -better-analyze`, becomes a sentence on the spawn page saying why the
        job waits and what would start sooner. Field: {job_id}. Empty: not asked.""",
    ).tag(config=True)

    wait_analysis_after = Float(
        20.0, help="Seconds a job is idle before the hub asks HTCondor why (wait_analysis_cmd).",
    ).tag(config=True)

    wait_analysis_interval = Float(
        60.0, help="Seconds between two analyses of the same idle job (at least 5).",
    ).tag(config=True)

    wait_analysis_max_concurrent = Integer(
        2,
        help="""At most this many wait_analysis_cmd runs at once for the whole hub; more
        idle jobs wait their turn (each run is a schedd and a collector query).""",
    ).tag(config=True)

    pool_status_cmd = Unicode(
        DEFAULT_STATUS_CMD,
        help="""The hub's one query for the pool's free resources (poolstatus.py), run as
        the hub's own user with batch_query_all_exec_prefix, at most once per
        pool_status_max_age seconds for the whole hub. Its output must be `condor_status
        -af Name SlotType State Cpus Memory GPUs TotalSlotCpus TotalSlotMemory
        TotalSlotGPUs` lines; add a -constraint to show only the slots notebooks may use.
        The options form shows it; the wait explanation uses it. Empty: not asked.""",
    ).tag(config=True)

    pool_status_max_age = Float(
        30.0, help="Seconds an answer of pool_status_cmd is reused for everybody.",
    ).tag(config=True)

    def pool_status(self: Any) -> Optional[PoolStatus]:
        """The hub's shared PoolStatus (None when pool_status_cmd is empty)."""
        if not self.pool_status_cmd.strip():
            return None
        loop = asyncio.get_running_loop()
        key = (self.batch_query_all_exec_prefix, self.pool_status_cmd,
               self.pool_status_max_age, loop)
        prefix, template, keep, log = key[0], key[1], list(self.batch_env_keep), self.log

        async def run_status() -> str:
            argv = format_command(str(prefix), {}) + format_command(str(template), {})
            log.debug("Running %s", shlex.join(argv))
            return await run_command(argv, _hub_env(keep))

        return shared_status(key, lambda: PoolStatus(run_status, self.pool_status_max_age,
                                                     parse=self.parse_pool_status))

    async def pool_free(self: Any, timeout: float = 5.0) -> Optional[PoolFree]:
        """The pool's free resources, at most pool_status_max_age old; None if unknown."""
        try:
            status = self.pool_status()
        except CommandTemplateError as error:
            self.log.warning("pool_status_cmd: %s", error)
            return None
        if status is None:
            return None
        try:
            return await asyncio.wait_for(status.get(), timeout)
        except asyncio.TimeoutError:
            return status.cached()

    def pool_free_cached(self: Any) -> Optional[PoolFree]:
        """The last answer of pool_status_cmd, without asking (for the form)."""
        try:
            status = self.pool_status()
        except (CommandTemplateError, RuntimeError):
            return None
        return status.cached() if status is not None else None

    async def wait_reason(self: Any) -> str:
        """One analysis of the idle job: the sentence for the user ("" if none)."""
        if not self.wait_analysis_cmd.strip() or not self.job_id:
            return ""
        try:
            argv = format_command(self.batch_query_all_exec_prefix, {})
            argv += format_command(self.wait_analysis_cmd, {"job_id": self.job_id})
            async with _limit(self.wait_analysis_max_concurrent):
                output = await run_command(argv, _hub_env(list(self.batch_env_keep)))
        except (BatchCommandError, CommandTemplateError) as error:
            self.log.info("%s: asking why job %s waits: %s", self._log_name, self.job_id,
                          error)
            return ""
        return explain(self.job_id, parse_analysis(output), await self.pool_free())

    def explains_waits(self: Any) -> bool:
        """Whether wait_reason can say something (Slurm's: always, from squeue)."""
        return bool(self.wait_analysis_cmd.strip())

    def watch_wait(self: Any) -> None:
        """Start explaining the idle job's wait (once per start; ends with stop_watch_wait)."""
        if getattr(self, "_wait_watch", None) is None and self.explains_waits():
            self._wait_watch = asyncio.ensure_future(self._explain_wait())

    def stop_watch_wait(self: Any) -> None:
        task = getattr(self, "_wait_watch", None)
        self._wait_watch = None
        if task is not None and not task.done():
            task.cancel()

    async def _explain_wait(self: Any) -> None:
        said = ""
        await asyncio.sleep(max(0.0, self.wait_analysis_after))
        while getattr(self, "_starting", True):  # stop() ends a start: and this
            try:
                text = await self.wait_reason()
            except Exception:  # never break a spawn for an explanation
                self.log.exception("%s: explaining the wait", self._log_name)
                text = ""
            if text and text != said:
                self._event(25, text)
                said = text
            await asyncio.sleep(max(5.0, self.wait_analysis_interval))
