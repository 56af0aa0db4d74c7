"""Allocation tasks: drain an event's queue; beat's sweeps for lost wake-ups and waiting rooms due to
open, and its hold expiry.

A drain that loses Redis or PostgreSQL mid-way is retried with growing pauses rather than left
to the sweep: what it committed stays, what it did not is replayed (the engine is written to be
run twice). After the last retry the sweep still reschedules the queue.
"""

from __future__ import annotations

from sqlalchemy import exc

from core import runtime
from core.jobs import Job, Periodic
from core.redis_cluster import OUTAGE_ERRORS
from core.services import allocation, holds, waiting_room
from worker.celery_app import job_task, periodic_task

SWEEP_SECONDS = 2.0
# How long a drain keeps looking at the empty queue before letting go: in a rush the next request
# comes well within it and is decided by this drain, not by a task sent afresh behind other work;
# a quiet event keeps a worker process this long and no longer.
LINGER_SECONDS = 0.25
# A waiting room is shuffled within about this long of its opening even if no request comes.
ROOM_SWEEP_SECONDS = 1.0
# Errors of a server that went away or stalled, not of the work: worth a retry.
CONNECTION_ERRORS = (*OUTAGE_ERRORS, exc.OperationalError, exc.InterfaceError)


# About 1, 2, 4, 8, 16, 16... seconds apart (with jitter), for a minute and a half in all.
@job_task(Job.DRAIN_EVENT, autoretry_for=CONNECTION_ERRORS, retry_backoff=1, retry_backoff_max=16,
          retry_jitter=True, max_retries=8)  # fmt: skip
def drain_event(event_id: str) -> dict:
    report = allocation.drain_event_queue(runtime.database(), event_id, linger=LINGER_SECONDS)
    return {"decided": report.decided, "batches": report.batches, "busy": report.busy}


@periodic_task(Periodic.SWEEP_ALLOCATION_QUEUES, every=SWEEP_SECONDS)
def sweep_allocation_queues() -> list[str]:
    return allocation.sweep_allocation_queues(runtime.database())


@periodic_task(Periodic.SWEEP_WAITING_ROOMS, every=ROOM_SWEEP_SECONDS)
def sweep_waiting_rooms() -> list[str]:
    return waiting_room.sweep_waiting_rooms(runtime.database())


@periodic_task(Periodic.EXPIRE_HOLDS, every=float(runtime.settings().hold_expiry_interval))
def expire_holds() -> dict:
    report = holds.expire_holds(runtime.database())
    return {"expired_holds": report.expired_holds, "expired_waitlist": report.expired_waitlist,
            "promoted": report.promoted}  # fmt: skip
