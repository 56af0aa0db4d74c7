"""A cached view of each event in Redis, so the booking API validates requests without PostgreSQL.

It is only a first check that turns away obviously bad requests quickly: the drainer decides
against the database. Every change to an event drops the snapshot after commit; a short expiry
bounds the life of one rebuilt from a read that raced with a change. Each process also keeps
what it read for a second, which saves a Redis round trip on nearly every booking in a rush.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid

from core import runtime
from core.models import Event

SNAPSHOT_TTL = 30
MISSING_TTL = 5
LOCAL_SECONDS = 1.0

_local: dict[str, tuple[float, dict | None]] = {}


def _key(event_id) -> str:
    return f"event:{event_id}:snapshot"


def load_event_snapshot(event_id: uuid.UUID) -> dict | None:
    """The event's snapshot, or None if there is no such event."""
    key = _key(event_id)
    now = time.monotonic()
    cached = _local.get(key)
    if cached and now - cached[0] < LOCAL_SECONDS:
        return cached[1]
    snapshot = _load_shared(event_id)
    _local[key] = (now, snapshot)
    return snapshot


def _load_shared(event_id: uuid.UUID) -> dict | None:
    redis = runtime.redis_client()
    raw = redis.get(_key(event_id))
    if raw is None:
        with runtime.database().unit_of_work() as uow:
            event = uow.session.get(Event, event_id)
            snapshot = _snapshot(event) if event else {"missing": True}
        raw = json.dumps(snapshot)
        redis.set(_key(event_id), raw, ex=MISSING_TTL if event is None else SNAPSHOT_TTL)
    snapshot = json.loads(raw)
    return None if snapshot.get("missing") else snapshot


def forget_event_snapshot(event_id: uuid.UUID) -> None:
    _local.pop(_key(event_id), None)
    runtime.redis_client().delete(_key(event_id))


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _snapshot(event: Event) -> dict:
    return {
        "id": str(event.id),
        "status": event.status,
        "organization_id": str(event.organization_id),
        "starts_at": _iso(event.starts_at),
        "sales_start": _iso(event.sales_start),
        "sales_end": _iso(event.sales_end),
        "max_per_booking": event.max_per_booking,
        "waitlist_enabled": event.waitlist_enabled,
        "ticket_types": [str(tt.id) for tt in event.ticket_types],
    }
