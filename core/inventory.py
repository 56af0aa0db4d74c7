"""An event's inventory, locked for one transaction: the only place that moves the counters.

Every path that takes or gives back tickets — the drainer, expiry, cancellation, payment,
the waitlist — locks the event row and its ticket types `FOR UPDATE` through `lock_inventory`,
so they are serialized per event and each sees the counters the last one committed. The CHECK
constraints on the tables refuse an oversell even if this code were wrong.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select

from core.db import UnitOfWork
from core.errors import NotFound
from core.models import Event, TicketType
from core.pricing import current_price


@dataclass(frozen=True)
class Line:
    ticket_type_id: uuid.UUID
    quantity: int


class Inventory:
    def __init__(self, event: Event, ticket_types: Iterable[TicketType]):
        self.event = event
        self.ticket_types = {tt.id: tt for tt in ticket_types}

    def knows(self, lines: Iterable[Line]) -> bool:
        return all(line.ticket_type_id in self.ticket_types for line in lines)

    def free(self) -> int:
        """Tickets free across all ticket types, capped by the event's capacity."""
        total = sum(max(tt.quota - tt.held - tt.sold, 0) for tt in self.ticket_types.values())
        if self.event.capacity is not None:
            total = min(total, self.event.capacity - self.event.held - self.event.sold)
        return max(total, 0)

    def fits(self, lines: Iterable[Line]) -> bool:
        lines = list(lines)
        if not self.knows(lines):
            return False
        wanted = sum(line.quantity for line in lines)
        if (
            self.event.capacity is not None
            and self.event.held + self.event.sold + wanted > self.event.capacity
        ):
            return False
        return all(
            self.ticket_types[line.ticket_type_id].quota
            - self.ticket_types[line.ticket_type_id].held
            - self.ticket_types[line.ticket_type_id].sold
            >= line.quantity
            for line in lines
        )

    def price(self, line: Line) -> int:
        return current_price(self.ticket_types[line.ticket_type_id])

    def hold(self, lines: Iterable[Line]) -> None:
        self._move(lines, held=+1)

    def sell(self, lines: Iterable[Line]) -> None:
        """Straight to sold (free tickets confirm without a hold)."""
        self._move(lines, sold=+1)

    def confirm_held(self, lines: Iterable[Line]) -> None:
        self._move(lines, held=-1, sold=+1)

    def release_held(self, lines: Iterable[Line]) -> None:
        self._move(lines, held=-1)

    def release_sold(self, lines: Iterable[Line]) -> None:
        self._move(lines, sold=-1)

    def _move(self, lines: Iterable[Line], held: int = 0, sold: int = 0) -> None:
        for line in lines:
            ticket_type = self.ticket_types[line.ticket_type_id]
            ticket_type.held += held * line.quantity
            ticket_type.sold += sold * line.quantity
            self.event.held += held * line.quantity
            self.event.sold += sold * line.quantity


def lock_inventory(uow: UnitOfWork, event_id: uuid.UUID) -> Inventory:
    """Lock the event and its ticket types (always in this order, so lockers never deadlock)."""
    fresh = {"populate_existing": True}
    event = uow.session.scalar(
        select(Event).where(Event.id == event_id).with_for_update().execution_options(**fresh)
    )
    if event is None:
        raise NotFound("No such event.")
    ticket_types = uow.session.scalars(
        select(TicketType)
        .where(TicketType.event_id == event_id)
        .order_by(TicketType.id)
        .with_for_update()
        .execution_options(**fresh)
    ).all()
    return Inventory(event, ticket_types)
