"""Allocation figures kept in Redis, so every drainer on every machine adds to the same numbers
and the API's /metrics can report them: batches, decisions, batch sizes and batch latency.

A scrape reads Redis only, but for the count of unpaid holds: that is counted in PostgreSQL at
most once per `HELD_COUNT_SECONDS` by all web processes together, and counted afresh after each
allocation batch (the batch drops the cached count). Expiries and payments show within that time.
"""

from __future__ import annotations

import redis
from sqlalchemy import func, select

from core.db import Database
from core.models import Booking
from core.statuses import BookingStatus

KEY = "metrics:allocation"
FAILURES_KEY = "metrics:task_failures"
HELD_KEY = "metrics:held_bookings"
HELD_COUNT_SECONDS = 15
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
SIZE_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2500)


def record_batch(client: redis.Redis, size: int, seconds: float) -> None:
    pipe = client.pipeline(transaction=False)
    pipe.hincrby(KEY, "batches", 1)
    pipe.hincrby(KEY, "decisions", size)
    pipe.hincrbyfloat(KEY, "seconds", seconds)
    for bound in LATENCY_BUCKETS:
        if seconds <= bound:
            pipe.hincrby(KEY, f"latency_le_{bound}", 1)
    for bound in SIZE_BUCKETS:
        if size <= bound:
            pipe.hincrby(KEY, f"size_le_{bound}", 1)
    pipe.delete(HELD_KEY)  # the batch may have made holds: the next scrape counts again
    pipe.execute()


def record_dead_letter(client: redis.Redis) -> None:
    """A request the drainer set aside (`core.services.allocation.set_aside`)."""
    client.hincrby(KEY, "dead_letters", 1)


def record_task_failure(client: redis.Redis, task_name: str) -> None:
    client.hincrby(FAILURES_KEY, task_name, 1)


def read(client: redis.Redis) -> tuple[dict[str, float], dict[str, int]]:
    stats = {name: float(value) for name, value in client.hgetall(KEY).items()}
    failures = {name: int(value) for name, value in client.hgetall(FAILURES_KEY).items()}
    return stats, failures


def held_bookings(client: redis.Redis, database: Database) -> int:
    """Bookings holding tickets unpaid, from the shared cached count when there is one."""
    cached = client.get(HELD_KEY)
    if cached is not None:
        return int(cached)
    with database.unit_of_work() as uow:
        held = uow.session.scalar(select(func.count()).where(Booking.status == BookingStatus.HELD))
    client.set(HELD_KEY, held, ex=HELD_COUNT_SECONDS)
    return held
