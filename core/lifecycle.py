"""The booking life cycle (docs/architecture.md, "State machines"): the one place where a
booking's status changes.

`TRANSITIONS` is the state diagram as data: for each status, the statuses that may follow it and
how the inventory counters move on the way. Every change of status goes through a function here
that moves the counters (through `core.inventory.Inventory`) and writes the booking's fields
together, in the caller's transaction, under the event's inventory lock:

    queued     → held | confirmed | waitlisted | rejected     the drainer (`admit`, `DecidedRows`)
    waitlisted → held | confirmed                             promotion (`promote`)
    held       → confirmed, expired → confirmed               payment, on time or late (`confirm`)
    held | waitlisted → expired                               hold ran out, event started (`expire`...)
    held | waitlisted | confirmed | expired → cancelled       let go, refunded, event cancelled,
                                                              paid too late (`cancel`)

A transition the diagram lacks is refused with `Conflict(name="invalid_transition")`, and one
that takes tickets that are not free with `Conflict(name="sold_out")`, before anything moves.
`rejected` and `cancelled` are the end.

A booking that carries a voucher holds one of its redemptions exactly while it is `held` or
`confirmed`: a move that takes tickets takes the redemption (refused with
`Conflict(name="voucher_exhausted")` when none is left), a move that gives tickets back gives
it back, all in the same step (`core.inventory` counts both).

The fields, for every transition (`transition_fields`): `status`, `reason` (set for `rejected`
and `cancelled`, cleared otherwise) and `updated_at`; `decided_at` when the allocation decides
(out of `queued`, or a waitlist place promoted); `hold_expires_at` when a hold is made;
`confirmed_at` on confirmation; `cancelled_at` on cancellation. `hold_expires_at` is never
cleared: once the hold has ended it stays as the record of the hold the customer had (views
show it only while the booking is held), so expiry, payment and cancellation all treat it alike.

The hot and wide paths have bulk forms that keep to the same diagram and fields: the drainer
builds rows for COPY (`DecidedRows`), expiry is one guarded UPDATE per chunk that touches only
rows still in the status the transition starts from (`expire_due_holds`,
`expire_waitlists_of_started_events`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable
from typing import NoReturn

from sqlalchemy import bindparam, exists, func, select, update

from core.booking_requests import BookingRequest, Decision
from core.db import UnitOfWork
from core.errors import Conflict
from core.inventory import Inventory, Line
from core.models import Booking, BookingLine, Event, UTCDateTime, Voucher
from core.seating import engine as seats
from core.state_machines import refuse
from core.statuses import BookingStatus, RefundReason, RejectionReason

Move = Callable[[Inventory, Iterable[Line]], None]

QUEUED, HELD, CONFIRMED = BookingStatus.QUEUED, BookingStatus.HELD, BookingStatus.CONFIRMED
WAITLISTED, REJECTED = BookingStatus.WAITLISTED, BookingStatus.REJECTED
EXPIRED, CANCELLED = BookingStatus.EXPIRED, BookingStatus.CANCELLED


def _no_move(inventory: Inventory, lines: Iterable[Line]) -> None:
    """The transition gives and takes no tickets."""


TRANSITIONS: dict[BookingStatus, dict[BookingStatus, Move]] = {
    QUEUED: {HELD: Inventory.hold, CONFIRMED: Inventory.sell, WAITLISTED: _no_move, REJECTED: _no_move},
    WAITLISTED: {HELD: Inventory.hold, CONFIRMED: Inventory.sell, EXPIRED: _no_move, CANCELLED: _no_move},
    HELD: {
        CONFIRMED: Inventory.confirm_held,
        EXPIRED: Inventory.release_held,
        CANCELLED: Inventory.release_held,
    },
    CONFIRMED: {CANCELLED: Inventory.release_sold},
    EXPIRED: {CONFIRMED: Inventory.sell, CANCELLED: _no_move},
    REJECTED: {},
    CANCELLED: {},
}
# Moves that take tickets from what is free: refused when the tickets are not there.
_TAKING = frozenset({Inventory.hold, Inventory.sell})
# Moves that give tickets back (and the booking's redemption with them).
_GIVING_BACK = frozenset({Inventory.release_held, Inventory.release_sold})


def allowed(current: str, target: str) -> bool:
    """Whether the diagram has `current` → `target` (plain strings work: a member hashes as its value)."""
    return target in TRANSITIONS.get(current, {})


def _move_for(current: str, target: str) -> Move:
    move = TRANSITIONS.get(current, {}).get(target)
    if move is None:
        _refuse(current, target)
    return move


def _refuse(current: str, target: str) -> NoReturn:
    refuse("booking", current, target)


def hold_until(event: Event, now: dt.datetime) -> dt.datetime:
    """When a hold made now ends: the event's hold length from now."""
    return now + dt.timedelta(seconds=event.hold_seconds)


def transition_fields(
    current: str, target: str, now: dt.datetime, *, event: Event | None = None, reason: str | None = None
) -> dict:
    """The booking's fields after `current` → `target` at `now` (`event` is needed for a hold)."""
    fields = {"status": target, "reason": reason, "updated_at": now}
    if current in (QUEUED, WAITLISTED) and target not in (EXPIRED, CANCELLED):
        fields["decided_at"] = now
    if target == HELD:
        fields["hold_expires_at"] = hold_until(event, now)
    elif target == CONFIRMED:
        fields["confirmed_at"] = now
    elif target == CANCELLED:
        fields["cancelled_at"] = now
    return fields


def shown_status(booking: Booking, now: dt.datetime) -> BookingStatus:
    """The status a reader is told: a hold past its end is `expired` as soon as it is due, even
    before expiry (beat's, or the event's next drain) writes it. Nothing is held on it that a
    payment could not also find in an expired hold: paid late, it is confirmed if it can be."""
    return shown_hold(booking.status, booking.hold_expires_at, now)[0]


def shown_hold(
    status: str, hold_expires_at: dt.datetime | None, now: dt.datetime
) -> tuple[BookingStatus, dt.datetime | None]:
    """The status and hold end a reader is told, by the customer's view and the back office
    alike: the status as `shown_status` says, and the hold's end only while that is `held`."""
    if status == HELD and hold_expires_at is not None and hold_expires_at <= now:
        return EXPIRED, None
    return BookingStatus(status), hold_expires_at if status == HELD else None


def lines_of(booking: Booking) -> list[Line]:
    return [Line(line.ticket_type_id, line.quantity) for line in booking.lines]


def fits(inventory: Inventory, booking: Booking) -> bool:
    """Whether the booking's tickets are free, and a redemption of its voucher is left."""
    return (
        inventory.fits(lines_of(booking))
        and inventory.has_redemption(inventory.voucher(booking.voucher_id))
        and seats.booking_seats_fit(inventory, booking)
    )


def _check_fits(inventory: Inventory, booking: Booking) -> None:
    if not inventory.fits(lines_of(booking)):
        raise Conflict("These tickets are no longer free.", name=RejectionReason.SOLD_OUT)
    if not inventory.has_redemption(inventory.voucher(booking.voucher_id)):
        raise Conflict("This code has no redemption left.", name=RejectionReason.VOUCHER_EXHAUSTED)
    if not seats.booking_seats_fit(inventory, booking):
        raise Conflict("These seats are no longer free.", name=RejectionReason.SOLD_OUT)


def transition(
    booking: Booking, inventory: Inventory, target: BookingStatus, now: dt.datetime, reason: str | None = None
) -> None:
    """Move one booking to `target`, counters and fields together, or refuse before anything moves.

    The named transitions below say which one a caller means; this is what each of them does.
    """
    move = _move_for(booking.status, target)
    lines = lines_of(booking)
    if move in _TAKING:
        _check_fits(inventory, booking)
        inventory.redeem(inventory.voucher(booking.voucher_id))
    elif move in _GIVING_BACK:
        inventory.redeem(inventory.voucher(booking.voucher_id), -1)
    move(inventory, lines)
    seats.follow(booking, inventory, booking.status, target, now)
    for name, value in transition_fields(
        booking.status, target, now, event=inventory.event, reason=reason
    ).items():
        setattr(booking, name, value)


# --- deciding: queued and waitlisted requests --------------------------------------------------


def admission(prices: dict[uuid.UUID, int]) -> BookingStatus:
    """Where a request whose tickets fit goes: free tickets are confirmed at once (nothing to
    pay), others are held until paid."""
    return HELD if any(prices.values()) else CONFIRMED  # prices are never negative


def admit(
    inventory: Inventory, lines: Iterable[Line], prices: dict[uuid.UUID, int], voucher: Voucher | None = None
) -> BookingStatus:
    """The drainer's `queued` → `held` | `confirmed` for tickets (and a redemption) that fit: the
    counters move at once, so the next decision of the batch sees them; `DecidedRows` writes
    the fields."""
    target = admission(prices)
    TRANSITIONS[QUEUED][target](inventory, lines)
    inventory.redeem(voucher)
    return target


class DecidedRows:
    """The drainer's bulk form of `queued` → each decision's status, for a whole batch decided at
    `now`: the booking rows and their line rows, ready for COPY. The counters already moved when
    each request was decided (`admit`, so each decision sees the one before); this writes the
    fields by the same rules. What every row of the batch shares (the event, its currency, the
    fields each transition sets at `now`) is worked out once, not once a request."""

    def __init__(self, inventory: Inventory, now: dt.datetime):
        self.inventory, self.now = inventory, now
        self.bookings: list[dict] = []
        self.lines: list[dict] = []
        self._shared = {"event_id": inventory.event.id, "currency": next(iter(inventory.ticket_types.values())).currency,
                        "hold_expires_at": None, "confirmed_at": None}  # fmt: skip
        self._transitions: dict[tuple, dict] = {}

    def _fields(self, decision: Decision) -> dict:
        """The booking's fields shared with every decision like this one (a transition the
        diagram lacks is refused here, before any row is written)."""
        key = (decision.status, decision.reason)
        fields = self._transitions.get(key)
        if fields is None:
            _move_for(QUEUED, decision.status)
            transition = transition_fields(QUEUED, decision.status, self.now, event=self.inventory.event,
                                           reason=decision.reason)  # fmt: skip
            # Every row of a COPY has the same columns: the transition fills in what it sets.
            fields = self._transitions[key] = {**self._shared, **transition}
        return fields

    def add(self, request: BookingRequest, decision: Decision) -> dict:
        """The rows of one decided request; returns its booking row."""
        inventory = self.inventory
        fields = self._fields(decision)
        rejected = decision.status == REJECTED
        known = not rejected or inventory.knows(request.lines)
        prices = decision.unit_prices or (
            {line.ticket_type_id: inventory.price(line) for line in request.lines} if known else {}
        )
        booking = {
            **fields,
            "id": request.booking_id,
            "user_id": request.user_id,
            "queue_seq": request.seq,
            "join_waitlist": request.join_waitlist,
            "accessible": request.accessible,
            "total": 0
            if rejected
            else sum(prices[line.ticket_type_id] * line.quantity for line in request.lines),
            "idempotency_key": request.idempotency_key,
            # Only a voucher the inventory found: one deleted since the API accepted the code is
            # not referred to (the request was rejected for it).
            "voucher_id": request.voucher_id if request.voucher_id in inventory.vouchers else None,
            "requested_at": request.requested_at,
        }
        self.bookings.append(booking)
        if known:
            attendees = request.attendees
            for line in request.lines:
                self.lines.append({
                    "booking_id": request.booking_id, "ticket_type_id": line.ticket_type_id, "quantity": line.quantity,
                    "unit_price": prices[line.ticket_type_id],
                    "attendees": attendees.get(str(line.ticket_type_id)) if attendees else None,
                })  # fmt: skip
        return booking


def promote(booking: Booking, inventory: Inventory, now: dt.datetime) -> None:
    """`waitlisted` → `held` with a fresh hold, or `confirmed` if the tickets are free now.

    The price is fixed when the hold is made, not when the wait began.
    """
    if booking.status != WAITLISTED:
        _refuse(booking.status, HELD)
    _check_fits(inventory, booking)
    voucher = inventory.voucher(booking.voucher_id)
    for line in booking.lines:
        line.unit_price = inventory.price(Line(line.ticket_type_id, line.quantity), voucher)
    booking.total = sum(line.unit_price * line.quantity for line in booking.lines)
    transition(
        booking, inventory, admission({line.ticket_type_id: line.unit_price for line in booking.lines}), now
    )


# --- paying, letting go, running out -----------------------------------------------------------


def confirm(booking: Booking, inventory: Inventory, now: dt.datetime) -> None:
    """Paid: `held` → `confirmed` (held → sold), or `expired` → `confirmed` for a late payment
    whose tickets are still free (sold afresh)."""
    transition(booking, inventory, CONFIRMED, now)


def expire(booking: Booking, inventory: Inventory, now: dt.datetime) -> None:
    """`held` → `expired` (tickets back), or `waitlisted` → `expired`."""
    transition(booking, inventory, EXPIRED, now)


def cancel(
    booking: Booking, inventory: Inventory, now: dt.datetime, reason: RefundReason | None = None
) -> None:
    """→ `cancelled`: a hold let go (tickets back), a waitlist place left, a confirmed booking
    refunded (sold tickets back), or a late payment that found its tickets gone. `reason` is
    why the money goes back; a customer letting go of a hold or a place has none."""
    transition(booking, inventory, CANCELLED, now, reason)


def cancel_part(booking: Booking, inventory: Inventory, released: Iterable[Line], now: dt.datetime) -> int:
    """Part of a confirmed booking given back: the booking stays `confirmed` with fewer tickets
    (its lines and total shrink, the sold tickets go back, its redemption stays); returns the
    price of what was given back. Giving back every ticket is `cancel`, not this."""
    if booking.status != CONFIRMED:
        _refuse(booking.status, CANCELLED)
    released = list(released)
    by_type = {line.ticket_type_id: line for line in booking.lines}
    if any(line.ticket_type_id not in by_type or by_type[line.ticket_type_id].quantity < line.quantity
           for line in released):  # fmt: skip
        raise Conflict("These tickets are not part of this booking.", name="not_in_booking")
    if sum(line.quantity for line in released) >= sum(line.quantity for line in booking.lines):
        raise Conflict("Giving back every ticket cancels the booking.", name="invalid_transition")
    TRANSITIONS[CONFIRMED][CANCELLED](inventory, released)
    amount = 0
    for line in released:
        kept = by_type[line.ticket_type_id]
        kept.quantity -= line.quantity
        amount += kept.unit_price * line.quantity
        if kept.quantity == 0:
            booking.lines.remove(kept)
    booking.total -= amount
    booking.updated_at = now
    return amount


def _expire_due_statement():
    """`expire_due_holds`'s UPDATE, made once for the process: `at` (now), `of_event`, `limit`.

    First, one probe of the hold ends' index: is any hold at all due? The event's holds are
    found by the event's index, which has no hold end, so finding none of them due reads every
    hold the event has, and the drainer asks before each batch of a sale whose holds grow to
    thousands. Nothing due anywhere, the usual answer, skips that walk.

    Made at each call, through the ORM's bulk UPDATE, the statement cost the drainer some 0.9 ms
    of CPU before every batch, whatever its size: an eighth of a rush's batch of ten. Made once,
    on the table, it costs under 0.1 ms (docs/benchmarks.md)."""
    booking = Booking.__table__
    anywhere = booking.alias("anywhere")
    at = bindparam("at", type_=UTCDateTime)
    any_due = exists().where(anywhere.c.status == HELD, anywhere.c.hold_expires_at <= at)
    due = (
        select(booking.c.id)
        .where(
            booking.c.event_id == bindparam("of_event"),
            booking.c.status == HELD,
            booking.c.hold_expires_at <= at,
            any_due,
        )  # fmt: skip
        .order_by(booking.c.hold_expires_at)
        .limit(bindparam("limit"))
        .scalar_subquery()
    )
    return (
        update(booking)
        .where(booking.c.id.in_(due), booking.c.status == HELD)
        .values(**transition_fields(HELD, EXPIRED, at))
        .returning(booking.c.id)
    )


_EXPIRE_DUE = _expire_due_statement()


def expire_due_holds(uow: UnitOfWork, inventory: Inventory, now: dt.datetime, limit: int) -> list[uuid.UUID]:
    """Bulk `held` → `expired` for up to `limit` of the event's holds due by `now`, oldest first.

    One UPDATE (`_expire_due_statement`), guarded by the status, so a booking paid or let go
    meanwhile is not touched; the tickets of the rows it changed go back in one move. Returns
    the ids expired.
    """
    expired = uow.session.scalars(
        _EXPIRE_DUE, {"at": now, "of_event": inventory.event.id, "limit": limit}
    ).all()
    if expired:
        released = uow.session.execute(
            select(BookingLine.ticket_type_id, func.sum(BookingLine.quantity))
            .where(BookingLine.booking_id.in_(expired))
            .group_by(BookingLine.ticket_type_id)
        )
        TRANSITIONS[HELD][EXPIRED](
            inventory, [Line(ticket_type_id, int(n)) for ticket_type_id, n in released]
        )
        seats.release_bookings(inventory, expired, now)
        redemptions = dict(
            uow.session.execute(
                select(Booking.voucher_id, func.count())
                .where(Booking.id.in_(expired), Booking.voucher_id.is_not(None))
                .group_by(Booking.voucher_id)
            ).all()
        )
        inventory.lock_vouchers(redemptions)
        for voucher_id, count in redemptions.items():
            inventory.redeem(inventory.voucher(voucher_id), -count)
    return expired


def expire_waitlists_of_started_events(uow: UnitOfWork, now: dt.datetime) -> int:
    """Bulk `waitlisted` → `expired` for every event that has started (no tickets move)."""
    started = select(Event.id).where(Event.starts_at <= now).scalar_subquery()
    result = uow.session.execute(
        update(Booking)
        .where(Booking.status == WAITLISTED, Booking.event_id.in_(started))
        .values(**transition_fields(WAITLISTED, EXPIRED, now))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount
