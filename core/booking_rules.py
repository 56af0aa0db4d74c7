"""The rules that decide one booking request, as pure functions of the request and the state.

The drainer applies them in queue order inside one transaction; keeping them free of I/O lets
the unit tests walk every branch quickly.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Protocol

from core.inventory import Inventory, Line


@dataclass(frozen=True)
class BookingRequest:
    """One request as the API accepted it and queued it."""

    booking_id: uuid.UUID
    user_id: uuid.UUID
    event_id: uuid.UUID
    seq: int
    lines: tuple[Line, ...]
    join_waitlist: bool
    requested_at: dt.datetime
    idempotency_key: str | None = None
    # An organizer's guest (press, artists): free, outside the per-customer limits and sales window.
    complimentary: bool = False
    # The id of the HTTP request that asked (`core.request_ids`), for the drainer's log line.
    request_id: str | None = None

    @property
    def quantity(self) -> int:
        return sum(line.quantity for line in self.lines)


@dataclass
class CustomerState:
    """What one customer already has at this event: a pending booking (held or waitlisted) and
    how many tickets they hold, bought or wait for."""

    has_pending: bool = False
    tickets: int = 0


@dataclass(frozen=True)
class Decision:
    status: str  # held, confirmed, waitlisted or rejected
    reason: str | None = None
    unit_prices: dict[uuid.UUID, int] = field(default_factory=dict)


class SalesWindow(Protocol):
    """What the sales rule reads: the locked `Event`, or the API's cached `EventSnapshot`."""

    status: str
    starts_at: dt.datetime
    sales_start: dt.datetime | None
    sales_end: dt.datetime | None


def sales_closed(event: SalesWindow, at: dt.datetime) -> str | None:
    """Why sales were closed at `at`, or None if they were open."""
    if event.status == "cancelled":
        return "event_cancelled"
    if event.status != "published":
        return "sales_closed"
    if event.sales_start and at < event.sales_start:
        return "sales_closed"
    if (event.sales_end and at >= event.sales_end) or at >= event.starts_at:
        return "sales_closed"
    return None


def decide(request: BookingRequest, inventory: Inventory, customer: CustomerState) -> Decision:
    """Decide one request and apply it to the inventory and the customer's state."""
    if request.complimentary:
        return _decide_complimentary(request, inventory)
    closed = sales_closed(inventory.event, request.requested_at)
    if closed:
        return Decision("rejected", closed)
    if not inventory.knows(request.lines):
        return Decision("rejected", "invalid_request")
    event = inventory.event
    if request.quantity > event.max_per_booking or customer.tickets + request.quantity > event.max_per_user:
        return Decision("rejected", "limit_exceeded")
    if customer.has_pending:
        return Decision("rejected", "hold_exists")
    if inventory.fits(request.lines):
        prices = {line.ticket_type_id: inventory.price(line) for line in request.lines}
        free = all(price == 0 for price in prices.values())
        if free:
            inventory.sell(request.lines)
        else:
            inventory.hold(request.lines)
            customer.has_pending = True
        customer.tickets += request.quantity
        return Decision("confirmed" if free else "held", unit_prices=prices)
    if request.join_waitlist and event.waitlist_enabled:
        customer.has_pending = True
        customer.tickets += request.quantity
        prices = {line.ticket_type_id: inventory.price(line) for line in request.lines}
        return Decision("waitlisted", unit_prices=prices)
    return Decision("rejected", "sold_out")


def _decide_complimentary(request: BookingRequest, inventory: Inventory) -> Decision:
    """A guest's tickets: sold at price 0 if the quotas allow, never beyond them."""
    if inventory.event.status == "cancelled":
        return Decision("rejected", "event_cancelled")
    if not inventory.knows(request.lines):
        return Decision("rejected", "invalid_request")
    if not inventory.fits(request.lines):
        return Decision("rejected", "sold_out")
    inventory.sell(request.lines)
    return Decision("confirmed", "complimentary", {line.ticket_type_id: 0 for line in request.lines})
