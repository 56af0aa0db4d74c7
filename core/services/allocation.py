"""The allocation engine: one drainer per event decides queued requests in order, in batches.

A drain holds the event's Redis lock, reads a batch from the head of the queue, decides it in
one database transaction (inventory locked, overdue holds expired, bookings inserted in bulk,
counters updated), commits, and only then removes the batch from the queue. A crash anywhere
replays the batch: requests already in the database are recognised by their booking id and not
decided again.

No request stalls the queue: a batch the database refuses because of a row it cannot write (an
account deleted meanwhile, a value out of range) is halved and each half decided in turn, in
queue order, until the request at fault stands alone; that one is set aside as a dead letter
(`DeadLetter`, with the error) for an operator, and the queue goes on. A lost connection is no
request's fault: it is raised, and the drain is retried. The happy path pays nothing for this.

Each drain first shuffles the event's waiting room into the queue if its opening has come
(`core.services.waiting_room`; and again before a batch while the room is still there), then
makes sure the event's sequence counter in Redis is above every number already decided
(`BookingQueue.repair_sequence`): a Redis that lost its data restarts the counter, and queue
numbers must never repeat.

While PostgreSQL stores a batch's last rows, the drainer reads the batch after it; and it
removes a committed batch from the queue while PostgreSQL runs the next one's first queries
(`core.drain_pipeline`): the two would otherwise take turns.

A sale's tail is set by how a drain is scheduled (docs/latency-tail.md): the drain under way
keeps the event's pending flag set, so the booking step sends no spare drain tasks to wait for
its lock while checkouts queue behind them in the broker; the worker's drain lingers a moment on
an empty queue, so the next request is decided at once rather than by a task sent afresh.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from redis.exceptions import LockError
from sqlalchemy import ARRAY, ColumnElement, Text, any_, bindparam, cast, func, or_, select, union_all
from sqlalchemy.exc import DataError, IntegrityError

from core import cycle_collector, drain_trace, metrics, runtime
from core.booking_queue import booking_queue, lock_key
from core.booking_requests import BookingRequest, CustomerState
from core.booking_rules import Terms, decide
from core.bulk_insert import BackgroundCopy
from core.db import Database, UnitOfWork
from core.drain_pipeline import DrainPipeline
from core.inventory import lock_inventory
from core.jobs import Job
from core.lifecycle import DecidedRows
from core.models import Booking, BookingLine, DeadLetter, Event, SeatAssignment, utcnow
from core.queued_form import request_fields
from core.seating.engine import seating_of
from core.services import follow_ups, holds, waiting_room
from core.services.waitlist import promote_waitlist
from core.statuses import COUNTED_BOOKING_STATUSES, PENDING_BOOKING_STATUSES, BookingStatus, EventStatus

# A drainer that dies keeps the event's queue waiting at most this long before another takes over.
LOCK_SECONDS = 5
# How often a drain waiting for the event's lock asks for it: the drainer before it lets go just
# after its last look, and the requests queued since wait for this one (redis-py's default: 0.1 s).
LOCK_POLL = 0.005
# How often a lingering drainer looks at the empty queue again.
IDLE_POLL = 0.01
# What the database says when a row of the batch cannot be written: the data's fault, not the
# connection's, so splitting the batch finds the request at fault.
UNWRITABLE = (IntegrityError, DataError)
# Requests are queued until an event starts; its queue is drained long before a day has passed.
QUEUES_OUTLIVE_START = dt.timedelta(days=1)
# How many decisions of a batch go to PostgreSQL in one chunk, copied while the next is decided.
COPY_CHUNK = 128
# Sales that opened a minute from now may already take requests (the API's clock may be ahead).
SALES_CLOCK_MARGIN = dt.timedelta(minutes=1)

log = logging.getLogger(__name__)


@dataclass
class DrainReport:
    decided: int = 0
    batches: int = 0
    busy: bool = False


def drain_event_queue(
    db: Database,
    event_id: uuid.UUID | str,
    batch_size: int | None = None,
    lock_wait: float = 1.0,
    linger: float = 0.0,
) -> DrainReport:
    """Decide everything queued for the event, batch after batch, while holding its lock; then
    keep looking for `linger` seconds after the last batch before letting go, so a request that
    comes meanwhile is decided by this drain rather than by a new task queued behind other work.

    While the drain reads (or lingers) the event's pending flag stays set, so the booking step
    schedules no second drain; the last look clears it in the same step that finds the queue
    empty (`BookingQueue.next_batch`): a request queued after that schedules a new drain, which
    takes the lock as soon as this one lets go (polled every `LOCK_POLL` seconds). A drain killed
    between batches leaves the flag set: the sweep reschedules the queue once its lock has run out.

    Commits once per batch, in `db` (`decide_batch`), before the batch leaves the queue."""
    event_id = uuid.UUID(str(event_id))
    batch_size = batch_size or runtime.settings().allocation_batch_size
    queue = booking_queue()
    trace = drain_trace.drain(event_id)
    lock = queue.redis.lock(
        lock_key(event_id), timeout=LOCK_SECONDS, blocking_timeout=lock_wait, sleep=LOCK_POLL
    )
    acquired = lock.acquire()
    trace.locked(acquired)
    if not acquired:
        return DrainReport(busy=True)
    report, pipeline = DrainReport(), DrainPipeline(queue, event_id, batch_size)
    try:
        # Before anything is decided: a waiting room due to open becomes the head of the queue.
        waiting_room.open_if_due(db, event_id, keep_lock=lock.reacquire)
        queue.repair_sequence(event_id, highest_decided_seq(db, event_id))
        quiet_until, idle = time.monotonic() + linger, False
        while True:
            last_look = time.monotonic() >= quiet_until
            # A batch's objects die with it: no cycle collection meanwhile (`core.cycle_collector`).
            with cycle_collector.paused():
                decided = _drain_batch(db, event_id, pipeline, trace, lock, last_look, idle)
            if decided is None:
                if last_look:
                    break
                idle = True
                time.sleep(IDLE_POLL)
                continue
            idle = False
            if not decided:  # a waiting room opened first: its entrants are the head of the queue now
                continue
            report.decided += decided
            report.batches += 1
            lock.reacquire()  # raises if the lock was lost: another drainer has taken over
            quiet_until = time.monotonic() + linger
    except LockError:
        return report
    finally:
        try:
            pipeline.close()  # the last batch leaves the queue before the lock is let go
        finally:
            with contextlib.suppress(LockError):
                lock.release()
    return report


def _drain_batch(
    db: Database,
    event_id: uuid.UUID,
    pipeline: DrainPipeline,
    trace,
    lock,
    last_look: bool,
    idle: bool,
) -> int | None:
    """One batch of `drain_event_queue`: read the head of the queue, decide it, remove it (now, or
    while the next batch is decided: `DrainPipeline.finish`).
    Returns how many requests it decided: None when the queue was empty, 0 when a waiting room
    whose opening came since went first (the queue is read again). What the batch made is freed
    when this returns (or once it is finished behind the next), by reference counting: none of it
    waits for the cycle collector."""
    trace.batch_read()
    batch, room_waiting = pipeline.next_batch(last_look)
    if not batch:
        return None
    if idle:
        lock.reacquire()  # still this drain's after the idle spell, or it raises
    # A room whose opening came since: its entrants go first (the batch is read again).
    if room_waiting and waiting_room.open_if_due(db, event_id, keep_lock=lock.reacquire) is not None:
        return 0
    started = time.perf_counter()
    decided = decide_batch(db, event_id, batch, meanwhile=functools.partial(pipeline.read_ahead, batch))
    visible = trace.batch_committed()
    elapsed = max(time.perf_counter() - started, 1e-6)
    pipeline.finish(
        functools.partial(_finish_batch, pipeline.queue, event_id, batch, decided, elapsed, visible)
    )
    return len(batch)


def _finish_batch(queue, event_id: uuid.UUID, batch: list[BookingRequest], decided: list[dict], elapsed: float,
                  visible: Callable) -> None:  # fmt: skip
    """A committed batch leaves the queue (announced to the waiting clients), then is counted."""
    queue.remove_decided(event_id, batch)
    visible(r.booking_id for r in batch)
    queue.record_rate(event_id, len(batch) / elapsed)
    metrics.observe_batch(queue.redis, event_id, batch, decided, elapsed)


def decide_batch(
    db: Database,
    event_id: uuid.UUID,
    batch: list[BookingRequest],
    meanwhile: Callable[[], None] | None = None,
) -> list[dict]:
    """Decide a batch in one transaction of its own, committed here; requests already decided (a
    replay) are skipped. Returns the booking rows written. `meanwhile` is called while PostgreSQL
    stores the batch's last rows, if they are copied in the background (`decide_requests`).

    A batch with a row the database refuses is halved, each half decided in order, down to the
    one request at fault, which is set aside as a dead letter.
    """
    try:
        with db.unit_of_work() as uow:
            decided = decide_requests(uow, event_id, batch, meanwhile)
            uow.commit()
        return decided
    except UNWRITABLE as error:
        if len(batch) == 1:
            set_aside(db, event_id, batch[0], error)
            return []
        half = len(batch) // 2
        return decide_batch(db, event_id, batch[:half]) + decide_batch(db, event_id, batch[half:])


def set_aside(db: Database, event_id: uuid.UUID, request: BookingRequest, error: Exception) -> None:
    """Record a request nobody can decide as a dead letter (once: a replay finds it there), in
    a transaction of its own: the batch's was refused."""
    reason = str(getattr(error, "orig", error)).strip()
    with db.unit_of_work() as uow:
        if uow.session.get(DeadLetter, request.booking_id) is not None:
            return
        uow.session.add(DeadLetter(booking_id=request.booking_id, event_id=event_id, user_id=request.user_id,
                                   queue_seq=request.seq, request=request_fields(request),
                                   error=reason))  # fmt: skip
        uow.commit()
    metrics.record_dead_letter(runtime.redis_client())
    log.warning("request %s of event %s set aside as a dead letter: %s", request.booking_id, event_id, reason)


def dead_letters_query(event_id: uuid.UUID):
    """The event's dead letters, in queue order (for its organizers)."""
    return select(DeadLetter).where(DeadLetter.event_id == event_id).order_by(DeadLetter.queue_seq)


def highest_decided_seq(db: Database, event_id: uuid.UUID) -> int:
    """The highest queue number the event's requests were decided under: one index lookup per
    status (and one among the dead letters), not a scan of the event's bookings."""
    highest = [
        select(func.max(Booking.queue_seq).label("seq")).where(
            Booking.event_id == event_id, Booking.status == status
        )
        for status in BookingStatus
        if status != BookingStatus.QUEUED
    ]
    highest.append(select(func.max(DeadLetter.queue_seq).label("seq")).where(DeadLetter.event_id == event_id))
    every = union_all(*highest).subquery()
    with db.unit_of_work() as uow:
        return uow.session.scalar(select(func.coalesce(func.max(every.c.seq), 0)))


def decide_requests(
    uow: UnitOfWork,
    event_id: uuid.UUID,
    batch: list[BookingRequest],
    meanwhile: Callable[[], None] | None = None,
) -> list[dict]:
    """Decide requests inside the caller's transaction (the event's inventory locked here);
    returns the booking rows written. The drainer's batches and organizers' comps come here.

    `meanwhile` is called once every chunk is decided, while the background copy still stores
    the last of them (the drainer reads its next batch); not at all when the rows are written on
    the spot, where it would only add to the wait."""
    inventory = lock_inventory(uow, event_id)
    now = utcnow()
    # Overdue holds end here too, so a stopped beat never turns them into `sold_out` answers.
    holds.expire_overdue(uow, inventory, now)
    # Tickets that came back go to the waitlist before any newer request.
    follow_ups.bookings_promoted(uow, promote_waitlist(uow, inventory, now))
    postgresql = _on_postgresql(uow)
    seen = set(uow.session.scalars(
        _decided_statement(postgresql), {"ids": _values([r.booking_id for r in batch], postgresql)}
    ))  # fmt: skip
    fresh = [request for request in batch if request.booking_id not in seen]
    customers = customer_states(uow, event_id, {request.user_id for request in fresh})
    inventory.lock_vouchers({request.voucher_id for request in fresh if request.voucher_id is not None})
    terms = Terms.of(inventory)  # the rows' fixed fields, read once for the batch
    rows = DecidedRows(inventory, now)
    # The seats are read before the copying starts: from here on only the copy uses the connection.
    seating = seating_of(inventory)
    # Each chunk's rows go to PostgreSQL while the next chunk is decided: one COPY per table a chunk.
    with BackgroundCopy(uow.session.connection(), in_background=len(fresh) > COPY_CHUNK) as copy:
        for start in range(0, len(fresh), COPY_CHUNK):
            bookings, lines = len(rows.bookings), len(rows.lines)
            for request in fresh[start : start + COPY_CHUNK]:
                rows.add(request, decide(request, inventory, customers[request.user_id], terms))
            copy.send([(Booking.__table__, rows.bookings[bookings:]), (BookingLine.__table__, rows.lines[lines:]),
                       (SeatAssignment.__table__, seating.new_rows() if seating else [])])  # fmt: skip
        if meanwhile is not None and copy.in_background:
            meanwhile()
    follow_ups.bookings_held(uow, [b["id"] for b in rows.bookings if b["status"] == BookingStatus.HELD])
    follow_ups.bookings_confirmed(
        uow, [b["id"] for b in rows.bookings if b["status"] == BookingStatus.CONFIRMED]
    )
    return rows.bookings


def customer_states(uow: UnitOfWork, event_id: uuid.UUID, user_ids: set[uuid.UUID]) -> dict:
    """What each customer already has at the event, read in one query for the whole batch
    (`_customer_states_statement`)."""
    states: dict[uuid.UUID, CustomerState] = defaultdict(CustomerState)
    if not user_ids:
        return states
    postgresql = _on_postgresql(uow)
    rows = uow.session.execute(
        _customer_states_statement(postgresql), {"users": _values(user_ids, postgresql), "of_event": event_id}
    )
    for user_id, status, quantity in rows:
        state = states[user_id]
        state.tickets += int(quantity)
        state.has_pending = state.has_pending or status in PENDING_BOOKING_STATUSES
    return states


# The batch's two reads (the replay check, the customers' standing) are made once per process
# and dialect, with their values as parameters: made at each batch, they cost the drainer 0.2
# and 0.5 to 0.9 ms of CPU, whatever the batch's size; made once, 0.06 to 0.15 ms
# (docs/benchmarks.md).


@functools.cache
def _decided_statement(postgresql: bool):
    """The batch's requests already decided (`ids`): a replay decides them not again."""
    booking = Booking.__table__
    return select(booking.c.id).where(_among(booking.c.id, "ids", postgresql))


@functools.cache
def _customer_states_statement(postgresql: bool):
    """Tickets by customer (`users`) and status at the event (`of_event`).

    The customers' bookings are found by customer (`ix_booking_user_event`: a thousand index
    lookups), fenced off from the event's condition in a materialized CTE: while a sale runs, the
    planner's statistics lag behind the event's new rows, and it would otherwise read every one
    of the event's bookings, each batch, to find the batch's customers among them."""
    booking, line = Booking.__table__, BookingLine.__table__
    theirs = (
        select(booking.c.id, booking.c.user_id, booking.c.event_id, booking.c.status)
        .where(_among(booking.c.user_id, "users", postgresql))
        .cte("theirs")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    return (
        select(theirs.c.user_id, theirs.c.status, func.sum(line.c.quantity))
        .join(line, line.c.booking_id == theirs.c.id)
        .where(theirs.c.event_id == bindparam("of_event"), theirs.c.status.in_(COUNTED_BOOKING_STATUSES))
        .group_by(theirs.c.user_id, theirs.c.status)
    )


def _on_postgresql(uow: UnitOfWork) -> bool:
    return uow.session.get_bind().dialect.name == "postgresql"


def _among(column, name: str, postgresql: bool) -> ColumnElement[bool]:
    """`column IN :name`, given as `_values`: on PostgreSQL one array written as text, so a
    batch's thousand ids are one parameter to send, not a thousand to adapt one by one."""
    if postgresql:
        return column == any_(cast(bindparam(name, type_=Text), ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))


def _values(values, postgresql: bool):
    return "{" + ",".join(map(str, values)) + "}" if postgresql else list(values)


def sweep_allocation_queues(db: Database) -> list[str]:
    """Schedule a drain for every queue that has requests and nobody draining it.

    Repairs lost wake-ups: an API process that died between queueing a request and scheduling
    its drain, or a drainer killed while holding the lock (once the lock has run out). The
    queues looked at are those of the events on sale, from PostgreSQL: no global Redis key
    lists them (every booking would write it, and a cluster spreads the queues over its shards).
    """
    rescheduled = []
    for event_id, (queued, draining) in booking_queue().waiting(events_with_queues(db)).items():
        if queued and not draining:
            runtime.dispatch(Job.DRAIN_EVENT, event_id=event_id)
            rescheduled.append(event_id)
    return rescheduled


def queued_requests(db: Database) -> int:
    """Requests waiting in all events' queues together (for /metrics). The events are listed
    from PostgreSQL at most once per `metrics.PENDING_COUNT_SECONDS` by all web processes
    together: a scrape reads Redis alone otherwise."""
    queue = booking_queue()
    cached = queue.redis.get(metrics.EVENTS_WITH_QUEUES_KEY)
    if cached is None:
        event_ids = [str(event_id) for event_id in events_with_queues(db)]
        queue.redis.set(
            metrics.EVENTS_WITH_QUEUES_KEY, json.dumps(event_ids), ex=metrics.PENDING_COUNT_SECONDS
        )
    else:
        event_ids = json.loads(cached)
    return sum(queued for queued, _ in queue.waiting(event_ids).values())


def events_with_queues(db: Database, now: dt.datetime | None = None) -> list[uuid.UUID]:
    """The events whose queues may hold requests: on sale, or cancelled or started within a day
    (what was queued before still has to be decided). One index range of `event`."""
    now = now or utcnow()
    with db.unit_of_work() as uow:
        return list(
            uow.session.scalars(
                select(Event.id).where(
                    Event.status.in_((EventStatus.PUBLISHED, EventStatus.CANCELLED)),
                    Event.starts_at > now - QUEUES_OUTLIVE_START,
                    or_(Event.sales_start.is_(None), Event.sales_start <= now + SALES_CLOCK_MARGIN),
                )
            )
        )
