"""Allocation tasks: drain an event's queue; beat's sweep for lost wake-ups and its hold expiry."""

from __future__ import annotations

from core import runtime
from core.services import allocation, holds
from worker.celery_app import celery_app

SWEEP_SECONDS = 2.0


@celery_app.task(name="boxoffice.drain_event")
def drain_event(event_id: str) -> dict:
    report = allocation.drain_event_queue(event_id)
    return {"decided": report.decided, "batches": report.batches, "busy": report.busy}


@celery_app.task(name="boxoffice.sweep_allocation_queues")
def sweep_allocation_queues() -> list[str]:
    return allocation.sweep_allocation_queues()


@celery_app.task(name="boxoffice.expire_holds")
def expire_holds() -> dict:
    report = holds.expire_holds()
    return {"expired_holds": report.expired_holds, "expired_waitlist": report.expired_waitlist,
            "promoted": report.promoted}  # fmt: skip


celery_app.conf.beat_schedule.update(
    {
        "sweep-allocation-queues": {"task": "boxoffice.sweep_allocation_queues", "schedule": SWEEP_SECONDS},
        "expire-holds": {
            "task": "boxoffice.expire_holds",
            "schedule": float(runtime.settings().hold_expiry_interval),
        },
    }
)
