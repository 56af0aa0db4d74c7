"""The fair opening: requests that arrive between an event's `waiting_room_opens_at` and its
`sales_start` wait in a room, and at the opening the room is shuffled into the head of the queue
in an order anyone can recompute from the seed revealed afterwards (`core.shuffle_order`).

The seed is drawn when the room is set up and kept in PostgreSQL (`WaitingRoom`), which outlives
anything that happens to Redis; its SHA-256 is public from the start, the seed only once the
shuffle is recorded. Entering costs the booking step alone (Redis, no PostgreSQL).

The shuffle (`open_if_due`) runs in the drainer, under the event's lock, before anything is
decided: the first drain after `sales_start` does it, whether a request after the opening, a
waiting client's poll, or beat's sweep (`sweep_waiting_rooms`) scheduled it. It is exactly once
because each of its steps is (`core.waiting_room_queue`): closing reserves the entrants' numbers
once; placing writes values that depend only on the seed and the frozen room, so a drainer killed
half-way and its successor (or two drainers) write the same numbers; finishing marks the room
shuffled once, after checking every entrant is placed; recording in PostgreSQL keeps the first
time. Nothing is decided before the mark, so no later request overtakes an entrant.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Callable

from sqlalchemy import select, update

from core import runtime, shuffle_order
from core.booking_queue import RoomStep, booking_queue, queue_key, sequence_key
from core.db import Database, UnitOfWork
from core.errors import Conflict, Invalid, NotFound
from core.event_snapshots import EventSnapshot
from core.jobs import Job
from core.models import Event, User, WaitingRoom, utcnow
from core.services.permissions import is_organizer_of
from core.statuses import EventStatus
from core.waiting_room_queue import Opening, WaitingRoomQueue, room_queue_for

# An entrant's status and idempotency key outlive the opening by this long.
AFTER_OPENING_TTL = 24 * 3600


# --- the organizer's side ---------------------------------------------------------------------


def check_opening_time(event: Event) -> None:
    """A waiting room opens before the sales it leads to, which must have a start."""
    opens_at = event.waiting_room_opens_at
    if opens_at is None:
        return
    if event.sales_start is None:
        raise Invalid("A waiting room needs a sales_start to open onto.", name="waiting_room_without_sales_start",
                      details={"waiting_room_opens_at": ["needs sales_start"]})  # fmt: skip
    if opens_at >= event.sales_start:
        raise Invalid("The waiting room must open before sales start.", name="waiting_room_after_sales_start",
                      details={"waiting_room_opens_at": ["must be before sales_start"]})  # fmt: skip


def check_change(event: Event, changes: dict, now: dt.datetime) -> None:
    """Once customers may be in the room, its opening time stays as it is."""
    opens_at = event.waiting_room_opens_at
    if "waiting_room_opens_at" not in changes or changes["waiting_room_opens_at"] == opens_at:
        return
    if opens_at is not None and opens_at <= now:
        raise Conflict(
            "The waiting room is open: its opening time can no longer change.", name="waiting_room_open"
        )


def prepare_room(uow: UnitOfWork, event: Event) -> None:
    """Draw the room's secret seed when the event first gets a waiting room (kept if it had one)."""
    if event.waiting_room_opens_at is None or uow.session.get(WaitingRoom, event.id) is not None:
        return
    seed = shuffle_order.new_seed()
    uow.session.add(
        WaitingRoom(event_id=event.id, seed=seed, seed_commitment=shuffle_order.seed_commitment(seed))
    )


# --- the booking step -------------------------------------------------------------------------


def room_step(snapshot: EventSnapshot, now: dt.datetime) -> tuple[RoomStep, int]:
    """What the booking step does about the event's room, and how long an entrant's status lives."""
    opens_at, sales_start = snapshot.waiting_room_opens_at, snapshot.sales_start
    if opens_at is None or sales_start is None:
        return RoomStep.NONE, 0
    if now >= sales_start:
        return RoomStep.QUEUE, 0
    return RoomStep.ENTER, math.ceil((sales_start - now).total_seconds()) + AFTER_OPENING_TTL


def checked_at(snapshot: EventSnapshot, now: dt.datetime) -> dt.datetime:
    """The time a request is checked as of: in the room, the opening (sales are not open yet)."""
    opens_at = snapshot.waiting_room_opens_at
    if opens_at is not None and snapshot.sales_start is not None and opens_at <= now < snapshot.sales_start:
        return snapshot.sales_start
    return now


def wake_after_opening(event_id: uuid.UUID, sales_start: dt.datetime | None, now: dt.datetime) -> None:
    """An entrant polls after the opening and the room is still there: schedule the drain that
    shuffles it (once per drain cycle), so a slow beat delays nobody."""
    if sales_start is None or now < sales_start:
        return
    if booking_queue().claim_drain(event_id):
        runtime.dispatch(Job.DRAIN_EVENT, event_id=str(event_id))


# --- the opening ------------------------------------------------------------------------------


def open_if_due(
    db: Database, event_id: uuid.UUID, keep_lock: Callable[[], object] = lambda: None
) -> Opening | None:
    """Shuffle the event's room into its queue if the opening has come and that is not recorded
    yet; `keep_lock` is called between steps (the drainer renews its lock). Safe to run again
    at any point, and by two callers at once (see the module's docstring)."""
    with db.unit_of_work() as uow:
        row = uow.session.get(WaitingRoom, event_id)
        if row is None or row.shuffled_at is not None:
            return None
        sales_start = uow.session.scalar(select(Event.sales_start).where(Event.id == event_id))
        seed = row.seed
    if sales_start is None or utcnow() < sales_start:
        return None
    client = runtime.redis_client()
    rooms = room_queue_for(client)
    opening = rooms.close(event_id, sequence_key(event_id))
    shuffled_at = opening.shuffled_at or _shuffle(rooms, event_id, seed, opening, keep_lock)
    _record_shuffle(db, event_id, opening, dt.datetime.fromisoformat(shuffled_at))
    return Opening(opening.first, opening.count, shuffled_at)


def _shuffle(rooms: WaitingRoomQueue, event_id, seed: str, opening: Opening, keep_lock) -> str:
    requests = rooms.room_requests(event_id)
    order = shuffle_order.shuffled(seed, requests)
    chunk = runtime.settings().waiting_room_chunk
    for start in range(0, len(order), chunk):
        numbered = [(opening.first + rank, booking_id, requests[booking_id])
                    for rank, booking_id in enumerate(order[start : start + chunk], start)]  # fmt: skip
        rooms.place(event_id, queue_key(event_id), numbered)
        keep_lock()
    return rooms.finish(event_id, queue_key(event_id), utcnow().isoformat())


def _record_shuffle(db: Database, event_id: uuid.UUID, opening: Opening, shuffled_at: dt.datetime) -> None:
    """Publish the shuffle (and so the seed) once Redis has it all; the first record stays."""
    with db.unit_of_work() as uow:
        uow.session.execute(
            update(WaitingRoom)
            .where(WaitingRoom.event_id == event_id, WaitingRoom.shuffled_at.is_(None))
            .values(shuffled_at=shuffled_at, entrants=opening.count, first_queue_seq=opening.first)
        )
        uow.commit()


def sweep_waiting_rooms(db: Database) -> list[str]:
    """Schedule the drain that shuffles every room whose opening has come (beat, every second)."""
    with db.unit_of_work() as uow:
        due = uow.session.scalars(
            select(WaitingRoom.event_id)
            .join(Event, Event.id == WaitingRoom.event_id)
            .where(WaitingRoom.shuffled_at.is_(None), Event.status == EventStatus.PUBLISHED,
                   Event.waiting_room_opens_at.is_not(None), Event.sales_start <= utcnow())
        ).all()  # fmt: skip
    queue = booking_queue()
    scheduled = []
    for event_id in map(str, due):
        if not queue.is_draining(event_id):
            runtime.dispatch(Job.DRAIN_EVENT, event_id=event_id)
            scheduled.append(event_id)
    return scheduled


# --- the public view --------------------------------------------------------------------------


def waiting_room_view(uow: UnitOfWork, event_id: uuid.UUID, actor: User | None) -> dict:
    """The room as anyone may see it: the commitment before the shuffle, the seed after."""
    event = uow.session.get(Event, event_id)
    if event is None or (event.status == EventStatus.DRAFT and not is_organizer_of(actor, event)):
        raise NotFound("No such event.")
    row = uow.session.get(WaitingRoom, event_id)
    if row is None or event.waiting_room_opens_at is None:
        raise NotFound("This event has no waiting room.", name="no_waiting_room")
    view = {"event_id": event.id, "opens_at": event.waiting_room_opens_at, "sales_start": event.sales_start,
            "seed_commitment": row.seed_commitment}  # fmt: skip
    if row.shuffled_at is None:
        rooms = room_queue_for(runtime.redis_client())
        opening = rooms.opening(event_id)
        return {**view, "entrants": opening.count if opening else rooms.entrants(event_id)}
    return {**view, "entrants": row.entrants, "seed": row.seed, "shuffled_at": row.shuffled_at,
            "first_queue_number": row.first_queue_seq, "recompute": shuffle_order.RECOMPUTE}  # fmt: skip
