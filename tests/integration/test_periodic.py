"""Any number of beats: each sweep runs once per period whoever sent it, a claim left by a dead
worker runs out within the period, and a sweep run twice at the same moment (a lost claim)
still does its work once (`core.periodic`)."""

from __future__ import annotations

import os
import threading
import time

from core import periodic, runtime
from core.jobs import Periodic
from core.services import holds
from tests.integration.booking_helpers import ask, assert_counters_agree, drain, end_holds_now, load


def wait_until_gone(redis_client, key: str) -> None:
    while redis_client.exists(key):
        time.sleep(0.02)


def test_a_sweep_sent_by_two_beats_runs_once_per_period(settings, redis_client):
    runs = []
    assert periodic.once_per_period("sweep", 0.5, lambda: runs.append(1) or "ran") == "ran"
    assert periodic.once_per_period("sweep", 0.5, lambda: runs.append(2)) is None  # the other beat's copy
    assert runs == [1]
    claimant = redis_client.get(periodic.claim_key("sweep"))
    assert claimant.endswith(f":{os.getpid()}")
    wait_until_gone(redis_client, periodic.claim_key("sweep"))  # the next period
    assert periodic.once_per_period("sweep", 0.5, lambda: "ran again") == "ran again"


def test_the_claim_of_a_worker_killed_mid_sweep_runs_out(settings, redis_client):
    # A worker died holding the claim: nobody releases it, and nobody has to.
    redis_client.set(periodic.claim_key("sweep"), "dead-host:1", px=300)
    assert periodic.once_per_period("sweep", 10, lambda: "ran") is None
    wait_until_gone(redis_client, periodic.claim_key("sweep"))
    assert periodic.once_per_period("sweep", 10, lambda: "ran") == "ran"


def test_the_beat_task_runs_its_sweep_once_per_period(settings, redis_client):
    from worker.celery_app import celery_app

    task = celery_app.tasks[Periodic.EXPIRE_HOLDS.task_name]
    assert task.apply().get() is not None
    assert task.apply().get() is None  # a second beat's copy in the same period


def test_hold_expiry_run_twice_at_the_same_moment_expires_each_hold_once(
    db, organizer, make_event, make_user
):
    """What a lost claim allows (it ran out under a slow sweep, or a Redis failover forgot it):
    two copies at once. The event's inventory lock serializes them and the second finds
    nothing due."""
    event = make_event(organizer, quota=30)
    booked = [ask(make_user(), event) for _ in range(30)]
    waiting = [ask(make_user(), event, join_waitlist=True) for _ in range(10)]
    drain(event)
    end_holds_now(db, booked)
    reports, start = [], threading.Barrier(2)

    def sweep():
        start.wait()
        reports.append(holds.expire_holds(runtime.database()))

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(report.expired_holds for report in reports) == 30
    assert sum(report.promoted for report in reports) == 10
    assert {load(db, booking_id).status for booking_id in booked} == {"expired"}
    assert {load(db, booking_id).status for booking_id in waiting} == {"held"}
    assert assert_counters_agree(db, event)["held"] == 10
