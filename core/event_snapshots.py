"""A cached view of each event in Redis, so the booking API validates requests without PostgreSQL.

It is only a first check that turns away obviously bad requests quickly: the drainer decides
against the database, by the same `sales_closed` rule. Every change to an event drops the
snapshot after commit; a short expiry bounds the life of one rebuilt from a read that raced
with a change. Each process also keeps what it read for a second, which saves a Redis round
trip on nearly every booking in a rush. That local cache is bounded and holds real events only:
an unknown id is remembered (briefly) in Redis alone, so requests for random ids can neither
grow a web process's memory nor push the events on sale out of its cache.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from dataclasses import dataclass

from cachetools import TTLCache

from core import runtime
from core.models import Event

SNAPSHOT_TTL = 30
MISSING_TTL = 5
LOCAL_SECONDS = 1.0
LOCAL_EVENTS = 1024
_MISSING = json.dumps({"missing": True})


@dataclass(frozen=True)
class TicketTypeSnapshot:
    """A ticket type's own rules (`core.booking_rules.line_refusal` reads them)."""

    id: uuid.UUID
    hidden: bool
    sales_start: dt.datetime | None
    sales_end: dt.datetime | None
    min_per_booking: int

    def to_list(self) -> list:
        return [str(self.id), self.hidden, _iso(self.sales_start), _iso(self.sales_end), self.min_per_booking]

    @classmethod
    def from_list(cls, data: list) -> TicketTypeSnapshot:
        id_, hidden, sales_start, sales_end, min_per_booking = data
        return cls(uuid.UUID(id_), hidden, _datetime(sales_start), _datetime(sales_end), min_per_booking)


@dataclass(frozen=True)
class QuestionSnapshot:
    """A question asked of attendees (`core.services.attendees` checks the answers by it)."""

    id: uuid.UUID
    label: str
    type: str
    options: list
    required: bool
    ticket_type_ids: list

    def to_list(self) -> list:
        return [str(self.id), self.label, self.type, self.options, self.required, self.ticket_type_ids]

    @classmethod
    def from_list(cls, data: list) -> QuestionSnapshot:
        id_, label, type_, options, required, ticket_type_ids = data
        return cls(uuid.UUID(id_), label, type_, options, required, ticket_type_ids)


@dataclass(frozen=True)
class EventSnapshot:
    """What a booking request is checked against before it is queued."""

    id: uuid.UUID
    status: str
    starts_at: dt.datetime
    sales_start: dt.datetime | None
    sales_end: dt.datetime | None
    max_per_booking: int
    ticket_types: dict[uuid.UUID, TicketTypeSnapshot]
    questions: tuple[QuestionSnapshot, ...] = ()
    waiting_room_opens_at: dt.datetime | None = None

    @classmethod
    def of(cls, event: Event) -> EventSnapshot:
        return cls(
            id=event.id, status=event.status, starts_at=event.starts_at, sales_start=event.sales_start,
            sales_end=event.sales_end, max_per_booking=event.max_per_booking,
            ticket_types={tt.id: TicketTypeSnapshot(tt.id, tt.hidden, tt.sales_start, tt.sales_end,
                                                    tt.min_per_booking) for tt in event.ticket_types},
            questions=tuple(QuestionSnapshot(q.id, q.label, q.type, list(q.options), q.required,
                                             list(q.ticket_type_ids)) for q in event.questions),
            waiting_room_opens_at=event.waiting_room_opens_at,
        )  # fmt: skip

    def to_json(self) -> str:
        return json.dumps({
            "id": str(self.id), "status": self.status, "starts_at": self.starts_at.isoformat(),
            "sales_start": _iso(self.sales_start), "sales_end": _iso(self.sales_end),
            "max_per_booking": self.max_per_booking, "ticket_types": [tt.to_list() for tt in self.ticket_types.values()],
            "questions": [q.to_list() for q in self.questions],
            "waiting_room_opens_at": _iso(self.waiting_room_opens_at),
        })  # fmt: skip

    @classmethod
    def from_json(cls, raw: str | bytes) -> EventSnapshot | None:
        """The snapshot stored in Redis, or None where Redis remembers that there is no event."""
        data = json.loads(raw)
        if data.get("missing"):
            return None
        return cls(
            id=uuid.UUID(data["id"]), status=data["status"],
            starts_at=dt.datetime.fromisoformat(data["starts_at"]),
            sales_start=_datetime(data["sales_start"]), sales_end=_datetime(data["sales_end"]),
            max_per_booking=data["max_per_booking"],
            ticket_types={tt.id: tt for tt in map(TicketTypeSnapshot.from_list, data["ticket_types"])},
            questions=tuple(map(QuestionSnapshot.from_list, data.get("questions", []))),
            waiting_room_opens_at=_datetime(data.get("waiting_room_opens_at")),
        )  # fmt: skip


# cachetools' caches are not thread-safe, and a web process serves requests on several threads.
_local: TTLCache[uuid.UUID, EventSnapshot] = TTLCache(maxsize=LOCAL_EVENTS, ttl=LOCAL_SECONDS)
_local_lock = threading.Lock()


def _key(event_id) -> str:
    return f"event:{event_id}:snapshot"


def load_event_snapshot(event_id: uuid.UUID) -> EventSnapshot | None:
    """The event's snapshot, or None if there is no such event."""
    with _local_lock:
        snapshot = _local.get(event_id)
    if snapshot is None:
        snapshot = _load_shared(event_id)
        if snapshot is not None:
            with _local_lock:
                _local[event_id] = snapshot
    return snapshot


def _load_shared(event_id: uuid.UUID) -> EventSnapshot | None:
    redis = runtime.redis_client()
    raw = redis.get(_key(event_id))
    if raw is None:
        with runtime.database().unit_of_work() as uow:
            event = uow.session.get(Event, event_id)
            raw = EventSnapshot.of(event).to_json() if event else _MISSING
        redis.set(_key(event_id), raw, ex=MISSING_TTL if event is None else SNAPSHOT_TTL)
    return EventSnapshot.from_json(raw)


def forget_event_snapshot(event_id: uuid.UUID) -> None:
    with _local_lock:
        _local.pop(event_id, None)
    runtime.redis_client().delete(_key(event_id))


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _datetime(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None
