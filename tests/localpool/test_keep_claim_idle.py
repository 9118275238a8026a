"""`+KeepClaimIdle = N` (execute/claims.py): the slot of a job that ended stays claimed
for N seconds; its owner's next job starts there without a negotiation cycle, other
users' jobs wait until it expires (HTCondor 25.0's schedd, schedd.cpp)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

from polling import wait_for

from .helpers import RUNUSER, Pool, sleeper, user_dir

KEEP = "+KeepClaimIdle = {}"


def _ended_with_kept_claim(make_pool: Callable[..., Pool], owner: str, seconds: float | None,
                           **settings: object) -> tuple[Pool, str]:
    """A 1-CPU pool whose one job (of `owner`) kept its claim (None: had no such line)
    and was removed; its slot."""
    pool = make_pool(slot_cpus=1, **settings)
    extra = "" if seconds is None else KEEP.format(seconds)
    first = pool.submit(sleeper(60, extra), user_dir(pool, owner), user=owner)
    pool.wait_status(first, "2")
    slot = pool.run("condor_q", str(first), "-af", "RemoteHost").stdout.strip()
    pool.run("condor_rm", str(first), user=owner)
    wait_for(lambda: not pool.in_queue(first), 15, "the first job to leave the queue")
    return pool, slot


def test_the_owners_next_job_starts_in_the_kept_slot_without_a_negotiation_cycle(
        make_pool: Callable[..., Pool], users: tuple[str, str]):
    alice, _ = users
    # a cycle no sooner than 60 s after the first one: only a kept claim starts it sooner
    pool, slot = _ended_with_kept_claim(make_pool, alice, 60, negotiator_interval=60,
                                        negotiator_min_interval=60)
    second = pool.submit(sleeper(60), user_dir(pool, alice), user=alice)
    pool.wait_status(second, "2", timeout=10)
    assert pool.run("condor_q", str(second), "-af", "RemoteHost").stdout.strip() == slot


def test_another_users_job_waits_until_the_kept_claim_expires(
        make_pool: Callable[..., Pool], users: tuple[str, str]):
    alice, bob = users
    pool, _ = _ended_with_kept_claim(make_pool, alice, 4)
    ended = time.time()
    other = pool.submit(sleeper(60), user_dir(pool, bob), user=bob)
    pool.wait_status(other, "2", timeout=15)
    assert time.time() - ended >= 3


def test_condor_status_shows_the_kept_claim_as_claimed_and_idle(
        make_pool: Callable[..., Pool], users: tuple[str, str]):
    alice, _ = users
    pool, slot = _ended_with_kept_claim(make_pool, alice, 60)
    lines = pool.run("condor_status", "-af", "Name", "State", "Activity", "Cpus").stdout
    assert lines.splitlines() == [f"slot1@{slot.split('@')[1]} Unclaimed Idle 0",
                                  f"{slot} Claimed Idle 1"]


def test_a_job_without_the_attribute_frees_its_slot_at_once(
        make_pool: Callable[..., Pool], users: tuple[str, str]):
    alice, bob = users
    pool, _ = _ended_with_kept_claim(make_pool, alice, None)
    other = pool.submit(sleeper(60), user_dir(pool, bob), user=bob)
    pool.wait_status(other, "2", timeout=3)


def test_a_claim_that_cannot_be_kept_frees_the_slot_and_the_job_ends_as_usual(
        make_pool: Callable[..., Pool], users: tuple[str, str]):
    alice, bob = users
    pool = make_pool(slot_cpus=1)
    first = pool.submit(sleeper(60, KEEP.format(60)), user_dir(pool, alice), user=alice)
    pool.wait_status(first, "2")
    slot = pool.run("condor_q", str(first), "-af", "RemoteHost").stdout.strip()
    # bob's file under the slot's name: alice's shadow cannot replace it (sticky dir)
    subprocess.run([RUNUSER, "-u", bob, "--", "sh", "-c",
                    f"echo x > '{pool.layout.claims}/{slot}.json'"], check=True, timeout=10)
    pool.run("condor_rm", str(first), user=alice)
    wait_for(lambda: (pool.layout.history / str(first)).is_dir(), 15,
             "the removed job's record in history/")
    other = pool.submit(sleeper(60), user_dir(pool, bob), user=bob)
    pool.wait_status(other, "2", timeout=5)
