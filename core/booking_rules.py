"""The rules that decide one booking request, as pure functions of the request and the state.

The drainer applies them in queue order inside one transaction; keeping them free of I/O lets
the unit tests walk every branch quickly. They read only what the caller loaded and locked
beforehand: the inventory, and the vouchers of the batch (`Inventory.lock_vouchers`) — a voucher
not among those is treated as unknown here, never fetched. The one read they can cause is the
event's seats (`Inventory.seating`), loaded under the same lock the first time a seated line
needs them, so an event without seats never pays for them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Protocol

from core.booking_requests import BookingRequest, CustomerState, Decision
from core.inventory import Inventory
from core.lifecycle import admit
from core.pricing import applies_to
from core.seating.engine import seat_refusal, seats_fit, take_seats
from core.statuses import AdmissionReason, BookingStatus, EventStatus, RejectionReason


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


def voucher_usable(
    voucher: VoucherTerms | None, event_id: uuid.UUID, at: dt.datetime, ticket_type_ids: Iterable[uuid.UUID]
) -> bool:
    """Whether the voucher can be used at `at` for these ticket types of the event. Why not is
    deliberately not told (`core.errors.InvalidVoucher`): a guesser would learn that a code exists.

    Whether a redemption is left is not asked here: that is decided in order, by the drainer.
    """
    if voucher is None or voucher.event_id != event_id or voucher.disabled_at is not None:
        return False
    if (voucher.valid_from and at < voucher.valid_from) or (
        voucher.valid_until and at >= voucher.valid_until
    ):
        return False
    return any(applies_to(voucher, ticket_type_id) for ticket_type_id in ticket_type_ids)


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


@dataclass(frozen=True, slots=True)
class EventTerms:
    """The event as the rules read it: its sales window (`SalesWindow`), limits and waitlist."""

    id: uuid.UUID
    status: str
    starts_at: dt.datetime
    sales_start: dt.datetime | None
    sales_end: dt.datetime | None
    max_per_booking: int
    max_per_user: int
    waitlist_enabled: bool


@dataclass(frozen=True, slots=True)
class TicketTypeTerms:
    """A ticket type as the rules read it (`TicketTypeRules`), and whether it is seated."""

    id: uuid.UUID
    hidden: bool
    sales_start: dt.datetime | None
    sales_end: dt.datetime | None
    min_per_booking: int
    seated: bool


@dataclass(frozen=True, slots=True)
class VoucherRules:
    """A voucher as the rules read it (`VoucherTerms`) and as it discounts (`core.pricing.Discount`)."""

    id: uuid.UUID
    event_id: uuid.UUID
    valid_from: dt.datetime | None
    valid_until: dt.datetime | None
    disabled_at: dt.datetime | None
    ticket_type_ids: tuple
    unlocks_hidden: bool
    discount_percent: int | None
    discount_amount: int | None


def _copy(terms: type, row, **given):
    """The row's fields that `terms` names, in a `terms` (those `given` as given)."""
    return terms(**{field.name: getattr(row, field.name) for field in fields(terms) if field.name not in given},
                 **given)  # fmt: skip


@dataclass(frozen=True)
class Terms:
    """What deciding reads of the locked rows that no decision moves, copied into plain objects:
    a mapped attribute pays the ORM's bookkeeping on every read, and the rules read some thirty
    a request. The drainer copies them once per batch, after locking (docs/architecture.md, "How
    a booking is decided"); the counters stay on the rows, where `Inventory` moves them."""

    event: EventTerms
    ticket_types: dict[uuid.UUID, TicketTypeTerms]
    vouchers: dict[uuid.UUID, VoucherRules]
    seated: bool  # some ticket type is seated: the seat steps have work to do

    @classmethod
    def of(cls, inventory: Inventory) -> Terms:
        ticket_types = {tt_id: _copy(TicketTypeTerms, tt) for tt_id, tt in inventory.ticket_types.items()}
        vouchers = {
            voucher_id: _copy(VoucherRules, voucher, ticket_type_ids=tuple(voucher.ticket_type_ids))
            for voucher_id, voucher in inventory.vouchers.items()
        }
        seated = any(tt.seated for tt in ticket_types.values())
        return cls(_copy(EventTerms, inventory.event), ticket_types, vouchers, seated)


def decide(
    request: BookingRequest, inventory: Inventory, customer: CustomerState, terms: Terms | None = None
) -> Decision:
    """Decide one request and apply it to the inventory and the customer's state: refused for
    the first rule it breaks, else placed (tickets, the waitlist, or what ran out). `terms` are
    the batch's (`Terms.of` the same inventory, after its vouchers were locked); read afresh
    when not given."""
    terms = terms or Terms.of(inventory)
    if request.complimentary:
        return _decide_complimentary(request, inventory, terms)
    voucher = terms.vouchers.get(request.voucher_id)
    refused = refusal(request, inventory, terms, customer, voucher)
    if refused:
        return Decision(BookingStatus.REJECTED, refused)
    return _place(request, inventory, terms, customer, voucher)


def refusal(
    request: BookingRequest, inventory: Inventory, terms: Terms, customer: CustomerState,
    voucher: VoucherRules | None,
) -> RejectionReason | None:  # fmt: skip
    """Why the request is refused whatever is free, checked in this order; None if it is not."""
    return (
        sales_closed(terms.event, request.judged_at)
        or _unknown_ticket_types(request, terms)
        or _invalid_voucher(request, terms, voucher)
        or _first_line_refusal(request, terms, voucher)
        or _over_limits(request, terms, customer)
        or _pending_elsewhere(customer)
        or (seat_refusal(inventory, request) if terms.seated else None)
    )


def _unknown_ticket_types(request: BookingRequest, terms: Terms) -> RejectionReason | None:
    for line in request.lines:
        if line.ticket_type_id not in terms.ticket_types:
            return RejectionReason.INVALID_REQUEST
    return None


def _invalid_voucher(
    request: BookingRequest, terms: Terms, voucher: VoucherRules | None
) -> RejectionReason | None:
    """A code the request carried that is not valid for it (the API checked it, but time passed)."""
    if request.voucher_id is None:
        return None
    ticket_type_ids = [line.ticket_type_id for line in request.lines]
    if not voucher_usable(voucher, terms.event.id, request.judged_at, ticket_type_ids):
        return RejectionReason.INVALID_REQUEST
    return None


def _first_line_refusal(
    request: BookingRequest, terms: Terms, voucher: VoucherRules | None
) -> RejectionReason | None:
    for line in request.lines:
        refused = line_refusal(
            terms.ticket_types[line.ticket_type_id], line.quantity, voucher, request.judged_at
        )
        if refused:
            return refused
    return None


def _over_limits(request: BookingRequest, terms: Terms, customer: CustomerState) -> RejectionReason | None:
    """More than one booking may carry, or than the customer may have at the event in all."""
    event = terms.event
    if request.quantity > event.max_per_booking or customer.tickets + request.quantity > event.max_per_user:
        return RejectionReason.LIMIT_EXCEEDED
    return None


def _pending_elsewhere(customer: CustomerState) -> RejectionReason | None:
    """One pending booking (held or waitlisted) per customer and event."""
    return RejectionReason.HOLD_EXISTS if customer.has_pending else None


def _place(
    request: BookingRequest, inventory: Inventory, terms: Terms, customer: CustomerState,
    voucher: VoucherRules | None,
) -> Decision:  # fmt: skip
    """A request no rule refuses: its tickets if they (and a redemption of its code) are free,
    else a waitlist place if it asked and the event has a waitlist, else refused for what ran out.
    The voucher's redemptions are counted on its row."""
    tickets_fit = inventory.fits(request.lines) and (not terms.seated or seats_fit(inventory, request))
    voucher_row = inventory.vouchers.get(request.voucher_id)
    if tickets_fit and inventory.has_redemption(voucher_row):
        prices = _prices(request, inventory, voucher)
        status = admit(inventory, request.lines, prices, voucher_row)
        if terms.seated:
            take_seats(inventory, request, status)
        _count(customer, request, pending=status == BookingStatus.HELD)
        return Decision(status, unit_prices=prices)
    if request.join_waitlist and terms.event.waitlist_enabled:
        _count(customer, request, pending=True)
        return Decision(BookingStatus.WAITLISTED, unit_prices=_prices(request, inventory, voucher))
    if tickets_fit:
        return Decision(BookingStatus.REJECTED, RejectionReason.VOUCHER_EXHAUSTED)
    return Decision(BookingStatus.REJECTED, RejectionReason.SOLD_OUT)


def _prices(
    request: BookingRequest, inventory: Inventory, voucher: VoucherRules | None
) -> dict[uuid.UUID, int]:
    return {line.ticket_type_id: inventory.price(line, voucher) for line in request.lines}


def _count(customer: CustomerState, request: BookingRequest, pending: bool) -> None:
    """What the customer has now, so their next request of the batch is judged with it."""
    customer.has_pending = customer.has_pending or pending
    customer.tickets += request.quantity


def _decide_complimentary(request: BookingRequest, inventory: Inventory, terms: Terms) -> Decision:
    """A guest's tickets: confirmed at price 0 if the quotas allow, never beyond them."""
    if terms.event.status == EventStatus.CANCELLED:
        return Decision(BookingStatus.REJECTED, RejectionReason.EVENT_CANCELLED)
    if _unknown_ticket_types(request, terms):
        return Decision(BookingStatus.REJECTED, RejectionReason.INVALID_REQUEST)
    if not (inventory.fits(request.lines) and (not terms.seated or seats_fit(inventory, request))):
        return Decision(BookingStatus.REJECTED, RejectionReason.SOLD_OUT)
    prices = {line.ticket_type_id: 0 for line in request.lines}
    status = admit(inventory, request.lines, prices)
    if terms.seated:
        take_seats(inventory, request, status)
    return Decision(status, AdmissionReason.COMPLIMENTARY, prices)
