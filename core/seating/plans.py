"""Seating plans: an event's organizers lay out its seats, and block some of them.

A plan is refused whole, with a `422` naming the seat at fault (docs/seating.md, "The plan"):
a label twice in one row, a seat of a ticket type that is not the event's or not seated,
coordinates that are not finite numbers, more than `MAX_SEATS` seats. Replacing a plan is
refused (`409 seating_in_use`) once any seat is held or sold. A seated ticket type's quota is
the number of its seats that are not blocked: the plan sets it, and blocking moves it.

Both run under the event's inventory lock, like every other change of what can be sold.
"""

from __future__ import annotations

import math
import uuid
from collections import Counter
from collections.abc import Iterator

from sqlalchemy import delete, insert, update

from core.db import UnitOfWork
from core.errors import Conflict, Invalid, NotFound
from core.event_snapshots import forget_event_snapshot
from core.inventory import Inventory, lock_inventory
from core.models import Seat, SeatAssignment, SeatingPlan, User, new_id
from core.seating.state import SeatingState, load_seating_state
from core.services.events import get_event_for_organizers
from core.services.permissions import require_organizer_of
from core.statuses import EventStatus

MAX_SEATS = 100_000


def row_names(count: int) -> Iterator[str]:
    """A, B, ..., Z, AA, AB, ...: the rows of a regular block, front to back."""
    for index in range(count):
        name, number = "", index + 1
        while number:
            number, letter = divmod(number - 1, 26)
            name = chr(ord("A") + letter) + name
        yield name


def expand_block(block: dict) -> list[dict]:
    """The rows of a regular block (`{name, rows: N, seats_per_row: M, ticket_type_id, origin,
    seat_spacing, row_spacing}`): seats labelled 1..M from left to right, rows A, B, ... from
    the front (the origin is the front row's first seat; rows go away from the stage along y)."""
    x0, y0 = block.get("origin", {}).get("x", 0.0), block.get("origin", {}).get("y", 0.0)
    step, row_step = block.get("seat_spacing", 1.0), block.get("row_spacing", 1.0)
    return [
        {"name": name, "seats": [
            {"label": str(number + 1), "x": x0 + number * step, "y": y0 + index * row_step,
             "ticket_type_id": block["ticket_type_id"]}
            for number in range(block["seats_per_row"])
        ]}
        for index, name in enumerate(row_names(block["rows"]))
    ]  # fmt: skip


def _seat_rows(event_id: uuid.UUID, data: dict) -> list[dict]:
    """The plan's seats as rows for the `seat` table, in plan order, checked one by one."""
    total = sum(
        section["rows"] * section["seats_per_row"] if isinstance(section.get("rows"), int)
        else sum(len(row["seats"]) for row in section.get("rows", []))
        for section in data["sections"]
    )  # fmt: skip
    if total > MAX_SEATS:
        raise Invalid(f"A plan has at most {MAX_SEATS:,} seats; this one has {total:,}.", name="too_many_seats",
                      details={"seats": total})  # fmt: skip
    seats, seen = [], set()
    for section in data["sections"]:
        rows = expand_block(section) if isinstance(section.get("rows"), int) else section.get("rows", [])
        for row in rows:
            for seat in row["seats"]:
                where = {"section": section["name"], "row": row["name"], "label": seat["label"]}
                if (section["name"], row["name"], seat["label"]) in seen:
                    raise Invalid(f"Seat {_named(where)} appears twice in its row.", name="duplicate_seat",
                                  details=where)  # fmt: skip
                seen.add((section["name"], row["name"], seat["label"]))
                if not (math.isfinite(seat["x"]) and math.isfinite(seat["y"])):
                    raise Invalid(f"Seat {_named(where)} needs finite coordinates.", name="invalid_coordinates",
                                  details=where)  # fmt: skip
                seats.append({"id": new_id(), "event_id": event_id, "ticket_type_id": seat["ticket_type_id"],
                              **where, "x": float(seat["x"]), "y": float(seat["y"]),
                              "accessible": seat.get("accessible", False), "companion": seat.get("companion", False),
                              "blocked": seat.get("blocked", False), "position": len(seats)})  # fmt: skip
    return seats


def _named(where: dict) -> str:
    return f"{where['section']}, row {where['row']}, seat {where['label']}"


def _check_types(inventory: Inventory, seats: list[dict]) -> None:
    for seat in seats:
        ticket_type = inventory.ticket_types.get(seat["ticket_type_id"])
        where = {key: seat[key] for key in ("section", "row", "label")}
        if ticket_type is None:
            raise Invalid(f"Seat {_named(where)} is of a ticket type this event does not have.",
                          name="unknown_ticket_type", details={**where, "ticket_type_id": str(seat["ticket_type_id"])})  # fmt: skip
        if not ticket_type.seated:
            raise Invalid(f"Seat {_named(where)} is of a ticket type that is not seated.",
                          name="unseated_ticket_type", details={**where, "ticket_type_id": str(ticket_type.id)})  # fmt: skip


def _lock(uow: UnitOfWork, actor: User, event_id: uuid.UUID) -> Inventory:
    inventory = lock_inventory(uow, event_id)
    require_organizer_of(actor, inventory.event)
    # Quotas move with the seats: the API's cached copy of the event is dropped on commit.
    uow.after_commit(lambda: forget_event_snapshot(event_id))
    if inventory.event.status == EventStatus.CANCELLED:
        raise Conflict("A cancelled event cannot be edited.", name="event_cancelled")
    return inventory


def put_plan(uow: UnitOfWork, actor: User, event_id: uuid.UUID, data: dict) -> SeatingState:
    """Lay out (or replace) the event's seats; returns the new plan's state."""
    inventory = _lock(uow, actor, event_id)
    focal = data["focal_point"]
    if not (math.isfinite(focal["x"]) and math.isfinite(focal["y"])):
        raise Invalid("The focal point needs finite coordinates.", name="invalid_coordinates")
    seats = _seat_rows(event_id, data)
    _check_types(inventory, seats)
    in_use = [tt for tt in inventory.ticket_types.values() if tt.seated and tt.held + tt.sold > 0]
    if in_use:
        raise Conflict("Seats of this event are held or sold: its plan can no longer be replaced.",
                       name="seating_in_use", details={"ticket_type_ids": [str(tt.id) for tt in in_use]})  # fmt: skip
    plan = uow.session.get(SeatingPlan, event_id)
    if plan is None:
        plan = SeatingPlan(event_id=event_id, focal_x=focal["x"], focal_y=focal["y"], version=0)
        uow.session.add(plan)
    plan.focal_x, plan.focal_y = float(focal["x"]), float(focal["y"])
    plan.layout_id = new_id()
    # Nothing is live (checked above): what is left of the old plan's assignments is history.
    uow.session.execute(delete(SeatAssignment).where(SeatAssignment.event_id == event_id))
    uow.session.execute(delete(Seat).where(Seat.event_id == event_id))
    if seats:
        uow.session.execute(insert(Seat), seats)
    sellable = Counter(seat["ticket_type_id"] for seat in seats if not seat["blocked"])
    for ticket_type in inventory.ticket_types.values():
        if ticket_type.seated:
            ticket_type.quota = sellable[ticket_type.id]
    uow.session.flush()
    state = load_seating_state(uow, inventory.event)
    state.types_changed = True
    state.touch()
    return state


def block_seats(
    uow: UnitOfWork, actor: User, event_id: uuid.UUID, seat_ids: list[uuid.UUID], blocked: bool
) -> SeatingState:
    """Take seats out of sale (`blocked`) or put them back; a held or sold seat cannot be blocked."""
    inventory = _lock(uow, actor, event_id)
    state = inventory.seating
    if state is None:
        raise NotFound("This event has no seating plan.")
    unknown = [str(seat_id) for seat_id in seat_ids if seat_id not in state.seats]
    if unknown:
        raise Invalid(
            "These seats are not in the event's plan.", name="unknown_seat", details={"seat_ids": unknown}
        )
    taken = [str(seat_id) for seat_id in seat_ids if seat_id in state.holder]
    if blocked and taken:
        raise Conflict(
            "Held or sold seats cannot be blocked.", name="seat_in_use", details={"seat_ids": taken}
        )
    changing = [seat_id for seat_id in dict.fromkeys(seat_ids) if (seat_id in state.blocked) != blocked]
    if not changing:
        return state
    uow.session.execute(update(Seat).where(Seat.id.in_(changing)).values(blocked=blocked))
    for ticket_type_id, count in Counter(state.seats[seat_id].ticket_type_id for seat_id in changing).items():
        inventory.ticket_types[ticket_type_id].quota += -count if blocked else count
    state.set_blocked(changing, blocked)
    return state


def plan_view(state: SeatingState) -> dict:
    """The plan as its organizers laid it out, with every seat's id."""
    sections: dict[str, dict[str, list]] = {}
    for seat in state.seats.values():
        sections.setdefault(seat.section, {}).setdefault(seat.row, []).append(
            {"id": seat.id, "label": seat.label, "x": seat.x, "y": seat.y, "ticket_type_id": seat.ticket_type_id,
             "accessible": seat.accessible, "companion": seat.companion, "blocked": seat.id in state.blocked}
        )  # fmt: skip
    return {
        "focal_point": {"x": state.plan.focal_x, "y": state.plan.focal_y},
        "sections": [
            {"name": name, "rows": [{"name": row, "seats": seats} for row, seats in rows.items()]}
            for name, rows in sections.items()
        ],  # fmt: skip
    }


def get_plan(uow: UnitOfWork, actor: User, event_id: uuid.UUID) -> SeatingState:
    """The plan, for the event's organizers (read without the lock: nothing changes here)."""
    event = get_event_for_organizers(uow, actor, event_id)
    state = load_seating_state(uow, event)
    if state is None:
        raise NotFound("This event has no seating plan.")
    return state
