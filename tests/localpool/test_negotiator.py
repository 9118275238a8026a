"""Negotiation cycles (execute/negotiator.py): when an idle job is matched, as HTCondor's
negotiator does with NEGOTIATOR_INTERVAL, NEGOTIATOR_MIN_INTERVAL and reschedules."""

from __future__ import annotations

import time

from jobwrapper.localpool.config import PoolConfig, PoolLayout
from jobwrapper.localpool.execute.negotiator import matched_at, next_cycle

from .helpers import Pool, sleeper, user_dir

CONFIG = PoolConfig(negotiator_interval=60.0, negotiator_min_interval=5.0)


def test_the_first_cycle_of_a_pool_runs_at_once():
    assert next_cycle([], [], CONFIG, after=100.0) == 100.0


def test_without_a_request_a_job_waits_for_the_next_tick_of_the_interval():
    assert next_cycle([1000.0], [], CONFIG, after=1010.0) == 1060.0
    assert next_cycle([1000.0], [], CONFIG, after=1130.0) == 1180.0  # ticks went on


def test_a_request_right_after_a_cycle_waits_for_the_minimum_interval():
    assert next_cycle([1000.0], [1001.0], CONFIG, after=1001.0) == 1005.0


def test_a_request_long_after_the_last_cycle_runs_one_at_once():
    assert next_cycle([1000.0], [1030.0], CONFIG, after=1030.0) == 1030.0


def test_a_request_before_the_last_cycle_was_answered_by_it():
    assert next_cycle([1000.0], [999.0], CONFIG, after=1010.0) == 1060.0


def _start_time(pool: Pool, cluster: int) -> float:
    pool.wait_status(cluster, "2", timeout=30)
    return time.time()


def test_a_submit_right_after_a_cycle_starts_after_the_minimum_interval(make_pool, users):
    pool = make_pool(negotiator_interval=60, negotiator_min_interval=2)
    alice = users[0]
    submit_dir = user_dir(pool, alice)
    first = pool.submit(sleeper(30), submit_dir, user=alice)
    _start_time(pool, first)
    submitted = time.time()
    second = pool.submit(sleeper(30), submit_dir, user=alice)
    assert pool.status(second) == "1"
    assert _start_time(pool, second) - submitted >= 1.0  # matched by the next cycle only


def test_without_submit_reschedules_condor_reschedule_starts_the_waiting_job(make_pool, users):
    pool = make_pool(negotiator_interval=600, negotiator_min_interval=0.1,
                     submit_send_reschedule=False)
    alice, bob = users
    first = pool.submit(sleeper(30), user_dir(pool, bob), user=bob)  # the pool's first cycle
    pool.wait_status(first, "2", timeout=30)
    second = pool.submit(sleeper(30), user_dir(pool, alice), user=alice)
    time.sleep(1.0)
    assert pool.status(second) == "1"  # the next tick is 600 s away
    result = pool.run("condor_reschedule", user=alice)
    assert (result.returncode, result.stdout) == (0, 'Sent "Reschedule" command to local schedd\n')
    pool.wait_status(second, "2", timeout=30)


def test_condor_reschedule_with_a_target_is_one_line_and_exit_1(pool: Pool):
    result = pool.run("condor_reschedule", "-name", "other")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == ('condor_reschedule: invalid argument "-name"; '
                             "the local pool takes no targets\n")


def test_a_submit_time_the_file_name_rounds_down_is_matched_by_its_own_cycle(tmp_path):
    layout = PoolLayout(tmp_path / "pool")
    layout.root.mkdir()
    submitted = 1000.0000004  # named "cycle-1000.000000": earlier than the float itself
    config = PoolConfig(negotiator_interval=600.0, negotiator_min_interval=0.1)
    assert matched_at(layout, config, submitted) == 1000.0
