"""start_timeout running out: the spawn page says where the start was, not an empty
"Spawn failed: " (JupyterHub's own timeout has no text)."""

from __future__ import annotations

import asyncio

import pytest
from traitlets.config import Config

from jobwrapper.hub.spawner import JobwrapperSpawner, StartTimeout


def hanging_spawner(start_timeout: int, steps: list[str]) -> JobwrapperSpawner:
    config = Config()
    config.JobwrapperSpawner.start_timeout = start_timeout
    spawner = JobwrapperSpawner(config=config)

    async def start_job() -> str:
        spawner._events = []
        for step in steps:
            spawner._event(10, step)
        await asyncio.sleep(3600)
        return "never"

    spawner._start_job = start_job
    return spawner


def test_the_timeout_names_the_last_step_and_the_setting():
    spawner = hanging_spawner(1, ["Submitted job 7 to HTCondor.",
                                    "Job 7 is idle in the queue, waiting for a free slot."])
    with pytest.raises(StartTimeout) as raised:
        asyncio.run(spawner.start())
    assert raised.value.jupyterhub_message == (
        "The notebook did not start within 1 s (the hub's Spawner.start_timeout). Its "
        "last step: Job 7 is idle in the queue, waiting for a free slot. The job is "
        "removed; start again, perhaps with fewer resources, or ask your admins.")


def test_it_comes_before_jupyterhubs_own_timeout():
    spawner = hanging_spawner(2, [])

    async def as_jupyterhub_waits() -> BaseException:
        try:
            await asyncio.wait_for(spawner.start(), 2.0)
        except BaseException as error:
            return error
        raise AssertionError("start() returned")

    error = asyncio.run(as_jupyterhub_waits())
    assert isinstance(error, StartTimeout) and isinstance(error, TimeoutError)


def test_a_timeout_of_a_step_inside_is_not_relabelled():
    spawner = hanging_spawner(30, [])

    async def start_job() -> str:
        raise asyncio.TimeoutError("condor_q did not answer")

    spawner._start_job = start_job
    with pytest.raises(asyncio.TimeoutError, match="condor_q did not answer"):
        asyncio.run(spawner.start())
