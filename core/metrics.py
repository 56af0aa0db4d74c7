"""Operational figures kept in Redis, so every web process, worker and beat on every machine adds
to the same numbers and the API's /metrics reports them all (`api.metrics` reads them at scrape
time): allocation batches and decisions, request → decision latency, payments and mails by
result, task failures, when each of beat's sweeps last succeeded, and the pending bookings.

Recording a batch is one pipeline, whatever its size. Counting a payment or a mail is one
command and never fails the work it counts: a Redis error there is logged and dropped.

A scrape reads Redis only, but for the counts of holds and waitlist entries: those are counted
in PostgreSQL (one statement) at most once per `PENDING_COUNT_SECONDS` by all web processes
together, and afresh after each allocation batch (the batch drops the cached counts). Expiries
and payments show within that time.
"""

from __future__ import annotations

import bisect
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import redis
from sqlalchemy import func, select

from core import runtime
from core.booking_requests import BookingRequest
from core.db import Database
from core.models import Booking
from core.statuses import PENDING_BOOKING_STATUSES

log = logging.getLogger(__name__)

KEY = "metrics:allocation"
DECISIONS_KEY = "metrics:decisions"
PAYMENTS_KEY = "metrics:payments"
MAILS_KEY = "metrics:mails"
FAILURES_KEY = "metrics:task_failures"
PERIODIC_KEY = "metrics:periodic_last_success"
PENDING_KEY = "metrics:pending_bookings"
# The events whose queues a scrape counts (`allocation.queued_requests`), cached like PENDING_KEY.
EVENTS_WITH_QUEUES_KEY = "metrics:events_with_queues"
PENDING_COUNT_SECONDS = 15
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
SIZE_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2500)
# What a customer waits between asking and being decided: a flash sale's queue runs to minutes.
WAIT_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
# Field separator of the labelled counters' hash fields ("held:" is a hold with no reason).
SEP = ":"


def observe_batch(
    client: redis.Redis, event_id, batch: list[BookingRequest], decided: list[dict], seconds: float
) -> None:
    """Count a committed batch in one pipeline and write its log line, which names every decided
    booking with the request id it was asked under. `decided` are the booking rows written (a
    replayed request is in `batch` but not in `decided`)."""
    now = time.time()
    waits = [now - booking["requested_at"].timestamp() for booking in decided]
    outcomes = Counter(f"{booking['status']}{SEP}{booking['reason'] or ''}" for booking in decided)
    pipe = client.pipeline(transaction=False)
    pipe.hincrby(KEY, "batches", 1)
    pipe.hincrby(KEY, "decisions", len(batch))
    pipe.hincrbyfloat(KEY, "seconds", seconds)
    _observe(pipe, "latency", LATENCY_BUCKETS, [seconds])
    _observe(pipe, "size", SIZE_BUCKETS, [len(batch)])
    if waits:
        pipe.hincrby(KEY, "wait_count", len(waits))
        pipe.hincrbyfloat(KEY, "wait_seconds", sum(waits))
        _observe(pipe, "wait", WAIT_BUCKETS, waits)
    for outcome, count in outcomes.items():
        pipe.hincrby(DECISIONS_KEY, outcome, count)
    pipe.delete(PENDING_KEY)  # the batch may have made holds: the next scrape counts again
    pipe.execute()
    if log.isEnabledFor(logging.INFO):
        request_ids = {request.booking_id: request.request_id for request in batch}
        log.info(
            "decided %d booking requests of event %s in %.3f s", len(decided), event_id, seconds,
            extra={"event_id": str(event_id), "bookings": [
                {"booking_id": str(b["id"]), "request_id": request_ids.get(b["id"]), "status": b["status"],
                 "reason": b["reason"]} for b in decided]},
        )  # fmt: skip


def _observe(pipe, prefix: str, bounds: tuple, values: Iterable[float]) -> None:
    """Add `values` to a cumulative histogram's buckets: one command per bucket that grows."""
    values = sorted(values)
    for bound in bounds:
        count = bisect.bisect_right(values, bound)
        if count:
            pipe.hincrby(KEY, f"{prefix}_le_{bound}", count)


def count_payment(result: str, payments: int = 1) -> None:
    """Payments reached `result`: confirmed, confirmed_after_hold_expired, refunding (paid, but
    the booking could not be kept), amount_mismatch (paid a price not ours: refunded), failed
    (an asynchronous method failed), or refunded."""
    _count(PAYMENTS_KEY, result, payments)


def count_mail(kind: str, sent: bool) -> None:
    """One attempt to send a mail of `kind`; a failed one may be tried again later."""
    _count(MAILS_KEY, f"{kind}{SEP}{'sent' if sent else 'failed'}")


def _count(key: str, field: str, amount: int = 1) -> None:
    if not amount:
        return
    try:
        runtime.redis_client().hincrby(key, field, amount)
    except redis.RedisError as error:
        log.warning("could not count %s %s: %s", key, field, error)


def record_dead_letter(client: redis.Redis) -> None:
    """A request the drainer set aside (`core.services.allocation.set_aside`)."""
    client.hincrby(KEY, "dead_letters", 1)


def record_task_failure(client: redis.Redis, task_name: str) -> None:
    client.hincrby(FAILURES_KEY, task_name, 1)


def record_periodic_success(client: redis.Redis, task_name: str) -> None:
    """Beat's sweep `task_name` just succeeded: its age on /metrics starts again from zero."""
    with contextlib.suppress(redis.RedisError):
        client.hset(PERIODIC_KEY, task_name, f"{time.time():.3f}")


@dataclass(frozen=True)
class Figures:
    allocation: dict[str, float]
    decisions: dict[tuple[str, str], int]
    payments: dict[str, int]
    mails: dict[tuple[str, str], int]
    task_failures: dict[str, int]
    periodic_ages: dict[str, float]


def read(client: redis.Redis) -> Figures:
    """Every counter, in one round trip."""
    pipe = client.pipeline(transaction=False)
    for key in (KEY, DECISIONS_KEY, PAYMENTS_KEY, MAILS_KEY, FAILURES_KEY, PERIODIC_KEY):
        pipe.hgetall(key)
    allocation, decisions, payments, mails, failures, periodic = pipe.execute()
    now = time.time()
    return Figures(
        allocation={name: float(value) for name, value in allocation.items()},
        decisions=_labelled(decisions),
        payments={name: int(value) for name, value in payments.items()},
        mails=_labelled(mails),
        task_failures={name: int(value) for name, value in failures.items()},
        periodic_ages={name: max(now - float(at), 0.0) for name, at in periodic.items()},
    )


def _labelled(counts: dict[str, str]) -> dict[tuple[str, str], int]:
    return {tuple(field.split(SEP, 1)): int(value) for field, value in counts.items()}


def pending_bookings(client: redis.Redis, database: Database) -> dict[str, int]:
    """Bookings holding tickets unpaid and bookings on a waitlist, from the shared cached counts
    when there are some."""
    cached = client.hgetall(PENDING_KEY)
    if cached:
        return {status: int(cached.get(status, 0)) for status in PENDING_BOOKING_STATUSES}
    with database.unit_of_work() as uow:
        rows = uow.session.execute(
            select(Booking.status, func.count())
            .where(Booking.status.in_(PENDING_BOOKING_STATUSES))
            .group_by(Booking.status)
        )
        counts = dict.fromkeys(PENDING_BOOKING_STATUSES, 0) | dict(rows.all())
    pipe = client.pipeline(transaction=False)
    pipe.hset(PENDING_KEY, mapping=counts)
    pipe.expire(PENDING_KEY, PENDING_COUNT_SECONDS)
    pipe.execute()
    return counts
