"""Reading the seat map and the plan's seat types from Redis (`core.seating.seat_map`), for the
API: one Redis round trip per request, PostgreSQL only when Redis lost the map."""

from __future__ import annotations

import uuid

from core import runtime
from core.db import Database, UnitOfWork
from core.errors import NotFound
from core.event_snapshots import load_event_snapshot
from core.models import Event, User
from core.seating.seat_map import map_key, publish, types_key
from core.seating.state import load_seating_state
from core.services.permissions import is_staff_of
from core.statuses import EventStatus, Role

# The roles that may be an event's staff: only their requests read PostgreSQL (to check that).
STAFF_ROLES = frozenset({Role.STAFF, Role.ORGANIZER, Role.ADMIN})


def seat_map(
    db: Database, uow: UnitOfWork, event_id: uuid.UUID, fmt: str, actor: User | None
) -> tuple[str, str]:
    """(ETag, body) of the event's seat map in `fmt` (`json` or `svg`): with held, sold and
    blocked seats told apart for its organizers and staff (`actor`, given only for a caller
    whose token says staff, organizer or admin), else available or not, for anyone, from Redis
    alone, for a published (or cancelled) event."""
    staff = False
    if actor is not None:
        event = uow.session.get(Event, event_id)
        staff = event is not None and is_staff_of(actor, event)
    if not staff:
        snapshot = load_event_snapshot(db, event_id)
        if snapshot is None or snapshot.status == EventStatus.DRAFT:
            raise NotFound("No such event.")
    found = read_map(db, event_id, f"{'staff' if staff else 'public'}.{fmt}")
    if found is None:
        raise NotFound("This event has no seating plan.")
    return found


def read_map(db: Database, event_id: uuid.UUID, variant: str) -> tuple[str, str] | None:
    """(entity tag, body) of one rendering of the map; None for an event without a seating plan."""
    client = runtime.redis_client()
    keys = [map_key(event_id, "version"), map_key(event_id, variant)]
    version, body = client.mget(keys)
    if body is None:
        if not rebuild(db, event_id):
            return None
        version, body = client.mget(keys)
    return f"{version}-{variant}", body


def seat_types(db: Database, event_id: uuid.UUID, seat_ids: list[uuid.UUID]) -> dict[uuid.UUID, str | None]:
    """The ticket type id of each seat (None: not a seat of the event's plan), from Redis."""
    client = runtime.redis_client()
    found = client.hmget(types_key(event_id), [str(seat_id) for seat_id in seat_ids])
    if all(value is None for value in found) and not client.exists(types_key(event_id)):
        rebuild(db, event_id)
        found = client.hmget(types_key(event_id), [str(seat_id) for seat_id in seat_ids])
    return dict(zip(seat_ids, found, strict=True))


def rebuild(db: Database, event_id: uuid.UUID) -> bool:
    """Publish the map from PostgreSQL (Redis lost it); False without a seating plan."""
    with db.unit_of_work() as uow:
        event = uow.session.get(Event, event_id)
        state = load_seating_state(uow, event) if event is not None else None
        if state is None:
            return False
        publish(state, with_types=True)
    return True
