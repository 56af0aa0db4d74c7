"""Helpers for tests of the waiting room: give an event a room, open it, recompute a shuffle the
way the public view tells anyone to (from its answer alone)."""

from __future__ import annotations

import datetime as dt

from core.event_snapshots import forget_event_snapshot
from core.models import Event, utcnow
from core.services import waiting_room


def add_waiting_room(db, event, sales_in: dt.timedelta = dt.timedelta(hours=1)) -> None:
    """The room opened a minute ago; the opening is `sales_in` from now."""
    with db.unit_of_work() as uow:
        row = uow.session.get(Event, event.id)
        row.sales_start = utcnow() + sales_in
        row.waiting_room_opens_at = utcnow() - dt.timedelta(minutes=1)
        waiting_room.prepare_room(uow, row)
        uow.commit()
        event.sales_start, event.waiting_room_opens_at = row.sales_start, row.waiting_room_opens_at
    forget_event_snapshot(event.id)


def open_sales_now(db, event) -> None:
    """The opening comes now (the organizer moved it): what a clock reaching it does."""
    with db.unit_of_work() as uow:
        uow.session.get(Event, event.id).sales_start = utcnow() - dt.timedelta(milliseconds=1)
        uow.commit()
    forget_event_snapshot(event.id)


def recomputed_queue_numbers(view: dict, booking_ids) -> dict[str, int]:
    """Run the recipe the waiting room's public view publishes, on its seed and first number."""
    scope = {"SEED": view["seed"], "BOOKING_IDS": [str(b) for b in booking_ids],
             "FIRST_QUEUE_SEQ": view["first_queue_number"]}  # fmt: skip
    exec(view["recompute"], scope)  # the published recipe itself is what is checked
    return scope["queue_number"]
