"""A cached view of each event in Redis, so the booking API validates requests without PostgreSQL.

It is only a first check that turns away obviously bad requests quickly: the drainer decides
against the database, by the same `sales_closed` rule.

A change is seen by every web process as soon as it commits. Each event has a version in Redis
(`event:{<id>}:version`), moved after every committed change (`forget_event_snapshot`); a
snapshot carries the version it was built at and is served only while that is still the
event's version. A snapshot is stored only if the version has not moved since it was read (one
script), so a rebuild that raced with a change can never outlive it.

Each process also keeps what it read for a second, which saves a Redis round trip on nearly
every booking in a rush. It keeps only events on sale (published): a draft, a cancelled event
and an unknown id are always asked of Redis, so a publication is never missed for that second.
A process that refuses a request on its own copy asks Redis again first (`fresh=True`), so an
edit is never refused on for that second either; a request its copy accepts is decided by the
drainer against the database anyway. That local cache is bounded, and an unknown id is
remembered (briefly) in Redis alone, so requests for random ids can neither grow a web
process's memory nor push the events on sale out of its cache.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from dataclasses import dataclass

from cachetools import TTLCache

from core import runtime
from core.db import Database
from core.models import Event
from core.redis_cluster import event_key
from core.statuses import EventStatus

SNAPSHOT_TTL = 30
MISSING_TTL = 5
# A version outlives every snapshot built at it; an expired one reads as 0, which a snapshot
# built at a later version does not match.
VERSION_TTL = 7 * 24 * 3600
LOCAL_SECONDS = 1.0
LOCAL_EVENTS = 1024
_MISSING = {"missing": True}

# Store the snapshot only if the event's version is still the one it was built at.
_STORE_IF_CURRENT = """
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
"""


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
    # Whose event it is: its organizers booking a draft are told it is a draft.
    organization_id: uuid.UUID | None = None
    waiting_room_opens_at: dt.datetime | None = None

    @classmethod
    def of(cls, event: Event) -> EventSnapshot:
        return cls(
            id=event.id, organization_id=event.organization_id, status=event.status,
            starts_at=event.starts_at, sales_start=event.sales_start,
            sales_end=event.sales_end, max_per_booking=event.max_per_booking,
            ticket_types={tt.id: TicketTypeSnapshot(tt.id, tt.hidden, tt.sales_start, tt.sales_end,
                                                    tt.min_per_booking) for tt in event.ticket_types},
            questions=tuple(QuestionSnapshot(q.id, q.label, q.type, list(q.options), q.required,
                                             list(q.ticket_type_ids)) for q in event.questions),
            waiting_room_opens_at=event.waiting_room_opens_at,
        )  # fmt: skip

    def to_data(self) -> dict:
        return {
            "id": str(self.id), "organization_id": _str(self.organization_id), "status": self.status,
            "starts_at": self.starts_at.isoformat(),
            "sales_start": _iso(self.sales_start), "sales_end": _iso(self.sales_end),
            "max_per_booking": self.max_per_booking, "ticket_types": [tt.to_list() for tt in self.ticket_types.values()],
            "questions": [q.to_list() for q in self.questions],
            "waiting_room_opens_at": _iso(self.waiting_room_opens_at),
        }  # fmt: skip

    @classmethod
    def from_data(cls, data: dict) -> EventSnapshot | None:
        """The snapshot stored in Redis, or None where Redis remembers that there is no event."""
        if data.get("missing"):
            return None
        return cls(
            id=uuid.UUID(data["id"]), status=data["status"],
            organization_id=uuid.UUID(data["organization_id"]) if data.get("organization_id") else None,
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
    return event_key("event", event_id, "snapshot")


def _version_key(event_id) -> str:
    return event_key("event", event_id, "version")


def load_event_snapshot(db: Database, event_id: uuid.UUID, fresh: bool = False) -> EventSnapshot | None:
    """The event's snapshot, or None if there is no such event; `fresh`: not this process's
    copy, but the shared one (built from `db` if the event changed since it was stored)."""
    if not fresh:
        with _local_lock:
            snapshot = _local.get(event_id)
        if snapshot is not None:
            return snapshot
    snapshot = _load_shared(db, event_id)
    if snapshot is not None and snapshot.status == EventStatus.PUBLISHED:
        with _local_lock:
            _local[event_id] = snapshot
    return snapshot


def _load_shared(db: Database, event_id: uuid.UUID) -> EventSnapshot | None:
    redis = runtime.redis_client()
    raw, version = redis.mget(_key(event_id), _version_key(event_id))
    version = version or "0"
    if raw is not None:
        data = json.loads(raw)
        if data.get("v") == version:
            return EventSnapshot.from_data(data)
    with db.unit_of_work() as uow:
        event = uow.session.get(Event, event_id)
        data = {**(EventSnapshot.of(event).to_data() if event else _MISSING), "v": version}
    ttl = MISSING_TTL if event is None else SNAPSHOT_TTL
    redis.eval(_STORE_IF_CURRENT, 2, _key(event_id), _version_key(event_id), version, json.dumps(data), ttl)
    return EventSnapshot.from_data(data)


def forget_event_snapshot(event_id: uuid.UUID) -> None:
    """After a change to the event commits: its version moves, so no process serves a snapshot
    built before (this process's own copy is dropped too)."""
    with _local_lock:
        _local.pop(event_id, None)
    pipe = runtime.redis_client().pipeline(transaction=False)
    pipe.incr(_version_key(event_id))
    pipe.expire(_version_key(event_id), VERSION_TTL)
    pipe.delete(_key(event_id))
    pipe.execute()


def _str(value) -> str | None:
    return str(value) if value is not None else None


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _datetime(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None
