"""One `condor_q` for all the hub's jobs: the queue watcher.

batchspawner runs `condor_q JOBID` once per spawner and poll (through sudo, as the
user). With a hundred notebooks starting at once that is dozens of processes a second
on the hub, each forking the hub and each a query the schedd answers. The watcher
batches them: every status request that arrives while a query runs, or within
`min_interval` of the last one, is answered by the same next query,

    condor_q 101 102 103 -af:j JobStatus RemoteHost

run as the hub's own user (job ads are readable by every user of a pool; no user's
identity is needed to read them). Its lines (`101.0 2 slot1@node`) are turned into
batchspawner's status text (`2, slot1@node`), so the spawner's state_*_re still apply.
One watcher serves every spawner of a hub process that uses the same command.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

# `condor_q -af:j JobStatus RemoteHost`: "CLUSTER.PROC STATUS HOST" (HOST may be
# "undefined"; nothing follows STATUS if a site's command asks for fewer attributes).
_LINE = re.compile(r"^(\d+)(?:\.\d+)?\s+(\d+)(?:\s+(\S+))?")

QueryRunner = Callable[[list[str]], Awaitable[str]]


def parse_status_lines(output: str) -> dict[str, str]:
    """`condor_q -af:j JobStatus RemoteHost` output → {cluster id: "STATUS, HOST"}."""
    statuses: dict[str, str] = {}
    for line in output.splitlines():
        match = _LINE.match(line.strip())
        if not match:
            continue
        cluster, status, host = match.groups()
        host = "" if host in (None, "undefined") else host
        statuses.setdefault(cluster, f"{status}, {host}")
    return statuses


class QueueWatcher:
    """Answers "what is job N doing?" for many callers with few condor_q runs."""

    def __init__(self, run_query: QueryRunner, min_interval: float = 1.0,
                 parse: Callable[[str], dict[str, str]] | None = None) -> None:
        self.run_query = run_query
        self.parse = parse or parse_status_lines  # Slurm's: hub/slurm/queue.py
        self.min_interval = min_interval
        self._waiting: dict[str, list[asyncio.Future[str]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._last_start = float("-inf")

    async def status(self, job_id: str) -> str:
        """The job's status text from a query that started after this call
        ("" once the job has left the queue). Raises what the query raised."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str] = loop.create_future()
        self._waiting.setdefault(str(job_id), []).append(future)
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run())
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while self._waiting:
            delay = self._last_start + self.min_interval - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            batch, self._waiting = self._waiting, {}
            self._last_start = loop.time()
            try:
                output = await self.run_query(sorted(batch, key=_numeric))
            except Exception as error:  # handed to every caller
                _settle(batch.values(), error=error)
                continue
            statuses = self.parse(output)
            for job_id, futures in batch.items():
                _settle([futures], result=statuses.get(job_id, ""))


def _numeric(job_id: str) -> tuple[int, str]:
    return (int(job_id), "") if job_id.isdigit() else (0, job_id)


def _settle(groups: Iterable[list[asyncio.Future[str]]], result: str = "",
            error: BaseException | None = None) -> None:
    for futures in groups:
        for future in futures:
            if future.done():  # the caller gave up (cancelled, timed out)
                continue
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)


T = TypeVar("T")
_WATCHERS: dict[tuple[object, ...], QueueWatcher] = {}


def shared_instance(registry: dict[tuple[object, ...], T], key: tuple[object, ...],
                    make: Callable[[], T]) -> T:
    """The hub process's one object for `key` in `registry`, made on first use. The
    key's last item is the event loop: objects of other (ended) loops are dropped."""
    found = registry.get(key)
    if found is None:
        for old in [k for k in registry if k[-1] is not key[-1]]:
            del registry[old]  # a test's event loop that has ended
        found = registry[key] = make()
    return found


def shared_watcher(key: tuple[object, ...], make: Callable[[], QueueWatcher]) -> QueueWatcher:
    """The hub process's watcher for `key` (command, prefix, interval, event loop)."""
    return shared_instance(_WATCHERS, key, make)
