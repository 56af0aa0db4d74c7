"""The rules that decide one booking request, as pure functions of the request and the state.

The drainer applies them in queue order inside one transaction; keeping them free of I/O lets
the unit tests walk every branch quickly.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from core.inventory import Inventory, Line
from core.lifecycle import admit
from core.pricing import applies_to
from core.statuses import AdmissionReason, BookingStatus, EventStatus, RejectionReason


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
    # The voucher whose code the request carried (the API found the code valid).
    voucher_id: uuid.UUID | None = None
    # The attendees the customer named, by ticket type id (`core.services.attendees` checked them).
    attendees: dict[str, list[dict]] | None = None
    # A request made in a waiting room is judged as of the opening it waited for, not its arrival.
    opening_at: dt.datetime | None = None

    @property
    def quantity(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def judged_at(self) -> dt.datetime:
        """The moment the sales window, the voucher's validity and the type's window apply at."""
        return self.opening_at or self.requested_at


@dataclass
class CustomerState:
    """What one customer already has at this event: a pending booking (held or waitlisted) and
    how many tickets they hold, bought or wait for."""

    has_pending: bool = False
    tickets: int = 0


@dataclass(frozen=True)
class Decision:
    status: BookingStatus  # held, confirmed, waitlisted or rejected
    reason: RejectionReason | AdmissionReason | None = None
    unit_prices: dict[uuid.UUID, int] = field(default_factory=dict)


class SalesWindow(Protocol):
    """What the sales rule reads: the locked `Event`, or the API's cached `EventSnapshot`."""

    status: str
    starts_at: dt.datetime
    sales_start: dt.datetime | None
    sales_end: dt.datetime | None


def sales_closed(event: SalesWindow, at: dt.datetime) -> RejectionReason | None:
    """Why sales were closed at `at`, or None if they were open."""
    if event.status == EventStatus.CANCELLED:
        return RejectionReason.EVENT_CANCELLED
    if event.status != EventStatus.PUBLISHED:
        return RejectionReason.SALES_CLOSED
    if event.sales_start and at < event.sales_start:
        return RejectionReason.SALES_CLOSED
    if (event.sales_end and at >= event.sales_end) or at >= event.starts_at:
        return RejectionReason.SALES_CLOSED
    return None


class VoucherTerms(Protocol):
    """What the voucher rule reads: the locked `Voucher`, or the terms the API caches."""

    event_id: uuid.UUID
    valid_from: dt.datetime | None
    valid_until: dt.datetime | None
    disabled_at: dt.datetime | None
    ticket_type_ids: list
    unlocks_hidden: bool


def voucher_refusal(
    voucher: VoucherTerms | None, event_id: uuid.UUID, at: dt.datetime, ticket_type_ids: Iterable[uuid.UUID]
) -> str | None:
    """Why the voucher cannot be used at `at` for these ticket types of the event, or None.

    Whether a redemption is left is not asked here: that is decided in order, by the drainer.
    """
    if voucher is None or voucher.event_id != event_id:
        return "This code is not valid for this event."
    if voucher.disabled_at is not None:
        return "This code is no longer valid."
    if voucher.valid_from and at < voucher.valid_from:
        return "This code is not valid yet."
    if voucher.valid_until and at >= voucher.valid_until:
        return "This code has expired."
    if not any(applies_to(voucher, ticket_type_id) for ticket_type_id in ticket_type_ids):
        return "This code does not apply to these ticket types."
    return None


class TicketTypeRules(Protocol):
    """What the per-type rules read: the locked `TicketType`, or the API's cached snapshot of it."""

    id: uuid.UUID
    hidden: bool
    sales_start: dt.datetime | None
    sales_end: dt.datetime | None
    min_per_booking: int


def unlocks(voucher: VoucherTerms | None, ticket_type: TicketTypeRules) -> bool:
    """Whether the type may be sold with this voucher: a public type always, a hidden one only
    with a voucher that unlocks hidden types and applies to it."""
    if not ticket_type.hidden:
        return True
    return voucher is not None and voucher.unlocks_hidden and applies_to(voucher, ticket_type.id)


def line_refusal(
    ticket_type: TicketTypeRules, quantity: int, voucher: VoucherTerms | None, at: dt.datetime
) -> RejectionReason | None:
    """Why one line of a request cannot be sold at `at`: a hidden type without its code (as if
    it did not exist), the type's own sales window, its minimum per booking."""
    if not unlocks(voucher, ticket_type):
        return RejectionReason.INVALID_REQUEST
    if (ticket_type.sales_start and at < ticket_type.sales_start) or (
        ticket_type.sales_end and at >= ticket_type.sales_end
    ):
        return RejectionReason.SALES_CLOSED
    if quantity < ticket_type.min_per_booking:
        return RejectionReason.LIMIT_EXCEEDED
    return None


def decide(request: BookingRequest, inventory: Inventory, customer: CustomerState) -> Decision:
    """Decide one request and apply it to the inventory and the customer's state."""
    if request.complimentary:
        return _decide_complimentary(request, inventory)
    closed = sales_closed(inventory.event, request.judged_at)
    if closed:
        return Decision(BookingStatus.REJECTED, closed)
    if not inventory.knows(request.lines):
        return Decision(BookingStatus.REJECTED, RejectionReason.INVALID_REQUEST)
    event = inventory.event
    voucher = None
    if request.voucher_id is not None:
        voucher = inventory.voucher(request.voucher_id)
        ticket_type_ids = [line.ticket_type_id for line in request.lines]
        if voucher_refusal(voucher, event.id, request.judged_at, ticket_type_ids):
            return Decision(BookingStatus.REJECTED, RejectionReason.INVALID_REQUEST)
    for line in request.lines:
        refused = line_refusal(
            inventory.ticket_types[line.ticket_type_id], line.quantity, voucher, request.judged_at
        )
        if refused:
            return Decision(BookingStatus.REJECTED, refused)
    if request.quantity > event.max_per_booking or customer.tickets + request.quantity > event.max_per_user:
        return Decision(BookingStatus.REJECTED, RejectionReason.LIMIT_EXCEEDED)
    if customer.has_pending:
        return Decision(BookingStatus.REJECTED, RejectionReason.HOLD_EXISTS)
    tickets_fit = inventory.fits(request.lines)
    if tickets_fit and inventory.has_redemption(voucher):
        prices = {line.ticket_type_id: inventory.price(line, voucher) for line in request.lines}
        status = admit(inventory, request.lines, prices, voucher)
        customer.has_pending = customer.has_pending or status == BookingStatus.HELD
        customer.tickets += request.quantity
        return Decision(status, unit_prices=prices)
    if request.join_waitlist and event.waitlist_enabled:
        customer.has_pending = True
        customer.tickets += request.quantity
        prices = {line.ticket_type_id: inventory.price(line, voucher) for line in request.lines}
        return Decision(BookingStatus.WAITLISTED, unit_prices=prices)
    if tickets_fit:
        return Decision(BookingStatus.REJECTED, RejectionReason.VOUCHER_EXHAUSTED)
    return Decision(BookingStatus.REJECTED, RejectionReason.SOLD_OUT)


def _decide_complimentary(request: BookingRequest, inventory: Inventory) -> Decision:
    """A guest's tickets: confirmed at price 0 if the quotas allow, never beyond them."""
    if inventory.event.status == EventStatus.CANCELLED:
        return Decision(BookingStatus.REJECTED, RejectionReason.EVENT_CANCELLED)
    if not inventory.knows(request.lines):
        return Decision(BookingStatus.REJECTED, RejectionReason.INVALID_REQUEST)
    if not inventory.fits(request.lines):
        return Decision(BookingStatus.REJECTED, RejectionReason.SOLD_OUT)
    prices = {line.ticket_type_id: 0 for line in request.lines}
    return Decision(admit(inventory, request.lines, prices), AdmissionReason.COMPLIMENTARY, prices)
