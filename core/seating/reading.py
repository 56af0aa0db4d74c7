"""Reading the seat map and the plan's seat types from Redis (`core.seating.seat_map`), for the
API: one small Redis round trip per request (two when the map changed since this process last
drew it), PostgreSQL only for a plan this process has not laid out yet, or when Redis lost the
map (docs/seating.md, "The cache")."""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict

from core import runtime
from core.db import Database, UnitOfWork
from core.errors import NotFound
from core.event_snapshots import load_event_snapshot
from core.models import Event, SeatingPlan, User
from core.seating.seat_map import fill, fragments, map_key, map_keys, publish, types_key
from core.seating.state import cached_fixed_plan, fixed_plan, load_seating_state
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


# The last rendering this process drew of each (event, rendering), with its version: a version
# is drawn once per process and rendering, however many clients ask for it meanwhile.
_DRAWN: OrderedDict[tuple, tuple[str, str]] = OrderedDict()
_DRAWN_KEPT = 64
# One drawer at a time per event: the clients that find the map changed while it draws wait for
# its rendering instead of each drawing (and, for a plan new to the process, laying it out) again.
_DRAWING: dict[uuid.UUID, threading.Lock] = {}
_drawing_guard = threading.Lock()


def read_map(db: Database, event_id: uuid.UUID, variant: str) -> tuple[str, str] | None:
    """(entity tag, body) of one rendering of the map; None for an event without a seating plan."""
    version = runtime.redis_client().get(map_key(event_id, "version"))
    drawn = _DRAWN.get((event_id, variant))
    if drawn is None or version is None or drawn[0] != version:
        with _drawing(event_id):
            drawn = _DRAWN.get((event_id, variant))
            if drawn is None or version is None or int(drawn[0]) < int(version):
                drawn = _draw(db, event_id, variant)
                if drawn is None:
                    return None
                _keep(event_id, variant, drawn)
    version, body = drawn
    return f"{version}-{variant}", body


def _drawing(event_id: uuid.UUID) -> threading.Lock:
    with _drawing_guard:
        return _DRAWING.setdefault(event_id, threading.Lock())


def _keep(event_id: uuid.UUID, variant: str, drawn: tuple[str, str]) -> None:
    _DRAWN[(event_id, variant)] = drawn
    _DRAWN.move_to_end((event_id, variant))
    while len(_DRAWN) > _DRAWN_KEPT:
        _DRAWN.popitem(last=False)


def _draw(db: Database, event_id: uuid.UUID, variant: str) -> tuple[str, str] | None:
    """(version, body) of the rendering drawn from the statuses in Redis, rebuilt from
    PostgreSQL first when Redis has none or they follow a layout PostgreSQL no longer has;
    None without a seating plan."""
    client = runtime.redis_client()
    for _attempt in range(2):
        version, layout_id, statuses = client.mget(map_keys(event_id))
        renderings = _renderings(db, event_id, layout_id) if statuses is not None else None
        if renderings is not None:
            return version, fill(renderings[variant], variant, statuses)
        if not rebuild(db, event_id):
            return None
    raise RuntimeError(f"the seat map of event {event_id} changed its layout twice while it was read")


def _renderings(db: Database, event_id: uuid.UUID, layout_id: str) -> dict | None:
    """The fixed text of the map's renderings for the plan's layout `layout_id`: kept by this
    process once laid out, else read from PostgreSQL (None if the plan there is of another
    layout: the map in Redis is about to follow it)."""
    layout = uuid.UUID(layout_id)
    fixed = cached_fixed_plan(event_id, layout)
    if fixed is None:
        with db.unit_of_work() as uow:
            plan = uow.session.get(SeatingPlan, event_id)
            if plan is None or plan.layout_id != layout:
                return None
            fixed = fixed_plan(uow, plan)
    return fragments(fixed)


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
