"""An event's inventory, locked for one transaction: the only place that moves the counters.

Every path that takes or gives back tickets — the drainer, expiry, cancellation, payment,
the waitlist — locks the event row and its ticket types `FOR UPDATE` through `lock_inventory`,
so they are serialized per event and each sees the counters the last one committed. The CHECK
constraints on the tables refuse an oversell even if this code were wrong.

A voucher's redemptions are scarce like tickets and counted the same way: the voucher rows a
transaction needs are locked after the ticket types (`Inventory.lock_vouchers`, in id order, so
lockers never deadlock), and `redeemed` moves with the tickets of the bookings carrying them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, bindparam, case, func, select

from core.db import UnitOfWork
from core.errors import NotFound
from core.models import Event, TicketType, Voucher
from core.pricing import current_price, discounted_price
from core.seating.state import SeatingState, load_seating_state


@dataclass(frozen=True)
class Line:
    ticket_type_id: uuid.UUID
    quantity: int
    # The seats the customer chose (a seated type); empty: best available, or not seated.
    seat_ids: tuple[uuid.UUID, ...] = ()


class Inventory:
    def __init__(
        self,
        event: Event,
        ticket_types: Iterable[TicketType],
        vouchers: Iterable[Voucher] = (),
        load_vouchers: Callable[[list[uuid.UUID]], Iterable[Voucher]] | None = None,
        load_seating: Callable[[], SeatingState | None] | None = None,
    ):
        self.event = event
        self.ticket_types = {tt.id: tt for tt in ticket_types}
        self.vouchers = {voucher.id: voucher for voucher in vouchers}
        self._load_vouchers = load_vouchers
        self._load_seating = load_seating
        self._seating: SeatingState | None = None

    @property
    def seating(self) -> SeatingState | None:
        """The event's seats (`core.seating.state`), read under this same lock the first time a
        seated ticket type needs them; None for an event without a seating plan."""
        if self._seating is None and self._load_seating is not None:
            self._seating = self._load_seating()
            self._load_seating = None
        return self._seating

    @property
    def seating_loaded(self) -> bool:
        """Whether a seated ticket type needed the seats in this transaction."""
        return self._seating is not None

    def seated(self, ticket_type_id: uuid.UUID) -> bool:
        ticket_type = self.ticket_types.get(ticket_type_id)
        return ticket_type is not None and ticket_type.seated

    def lock_vouchers(self, voucher_ids: Iterable[uuid.UUID]) -> None:
        """Lock the event's vouchers among `voucher_ids` not locked yet (an unknown id, or another
        event's, is left out: `voucher` answers None for it)."""
        missing = sorted(set(voucher_ids) - self.vouchers.keys())
        if missing and self._load_vouchers is not None:
            for voucher in self._load_vouchers(missing):
                if voucher.event_id == self.event.id:
                    self.vouchers[voucher.id] = voucher

    def voucher(self, voucher_id: uuid.UUID | None) -> Voucher | None:
        if voucher_id is None:
            return None
        self.lock_vouchers([voucher_id])
        return self.vouchers.get(voucher_id)

    @staticmethod
    def has_redemption(voucher: Voucher | None) -> bool:
        """Whether one more booking may carry the voucher (always, without one)."""
        return (
            voucher is None or voucher.max_redemptions is None or voucher.redeemed < voucher.max_redemptions
        )

    @staticmethod
    def redeem(voucher: Voucher | None, count: int = 1) -> None:
        """Take (or, with a negative count, give back) redemptions of the voucher, if any."""
        if voucher is not None:
            voucher.redeemed += count

    def knows(self, lines: Iterable[Line]) -> bool:
        return all(line.ticket_type_id in self.ticket_types for line in lines)

    def free(self) -> int:
        return event_free(self.event, self.ticket_types.values())

    def fits(self, lines: Iterable[Line]) -> bool:
        """Whether every line's type is known and has its quantity left, and the event's
        capacity takes them all (a loop, not generators: the drainer asks once a request)."""
        asked = 0
        for line in lines:
            ticket_type = self.ticket_types.get(line.ticket_type_id)
            if ticket_type is None or _quota_left(ticket_type) < line.quantity:
                return False
            asked += line.quantity
        left = _capacity_left(self.event)
        return left is None or asked <= left

    def price(self, line: Line, voucher: Voucher | None = None) -> int:
        price = current_price(self.ticket_types[line.ticket_type_id])
        return price if voucher is None else discounted_price(price, voucher, line.ticket_type_id)

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
        # Only the counters that move are set: each set is tracked by the ORM, once a decision.
        event = self.event
        for line in lines:
            ticket_type = self.ticket_types[line.ticket_type_id]
            if held:
                ticket_type.held += held * line.quantity
                event.held += held * line.quantity
            if sold:
                ticket_type.sold += sold * line.quantity
                event.sold += sold * line.quantity


_FRESH = {"populate_existing": True}  # the rows as locked, whatever the session held before
# The two locks of every inventory change, made once for the process (the event: `of_event`):
# made at each call they cost some 0.14 ms of CPU more, before every batch the drainer decides
# and every booking changed elsewhere (docs/benchmarks.md).
_LOCK_EVENT = (
    select(Event).where(Event.id == bindparam("of_event")).with_for_update().execution_options(**_FRESH)
)
_LOCK_TICKET_TYPES = (
    select(TicketType)
    .where(TicketType.event_id == bindparam("of_event"))
    .order_by(TicketType.id)
    .with_for_update()
    .execution_options(**_FRESH)
)


def lock_inventory(uow: UnitOfWork, event_id: uuid.UUID) -> Inventory:
    """Lock the event and its ticket types (always in this order, so lockers never deadlock)."""
    event = uow.session.scalar(_LOCK_EVENT, {"of_event": event_id})
    if event is None:
        raise NotFound("No such event.")
    ticket_types = uow.session.scalars(_LOCK_TICKET_TYPES, {"of_event": event_id}).all()

    def load_vouchers(voucher_ids: list[uuid.UUID]) -> Iterable[Voucher]:
        return uow.session.scalars(
            select(Voucher)
            .where(Voucher.id.in_(voucher_ids))
            .order_by(Voucher.id)
            .with_for_update()
            .execution_options(**_FRESH)
        ).all()

    def load_seating() -> SeatingState | None:
        return load_seating_state(uow, event)

    return Inventory(event, ticket_types, load_vouchers=load_vouchers, load_seating=load_seating)


# --- availability: one rule, in Python and in SQL ---------------------------------------------
# A ticket type has `quota - held - sold` left; an event's overall `capacity` (if set) caps the
# sum over its ticket types. Nothing is ever less than zero free. `event_free_sql` is the same
# rule for queries, and a test checks that the two agree.


def _quota_left(ticket_type: TicketType) -> int:
    return ticket_type.quota - ticket_type.held - ticket_type.sold


def _capacity_left(event: Event) -> int | None:
    return None if event.capacity is None else event.capacity - event.held - event.sold


def ticket_type_free(event: Event, ticket_type: TicketType) -> int:
    """Tickets of this type still free, capped by what the event's capacity leaves."""
    left = _capacity_left(event)
    free = _quota_left(ticket_type) if left is None else min(_quota_left(ticket_type), left)
    return max(free, 0)


def event_free(event: Event, ticket_types: Iterable[TicketType]) -> int:
    """Tickets free across all ticket types, capped by the event's capacity."""
    free = sum(max(_quota_left(tt), 0) for tt in ticket_types)
    left = _capacity_left(event)
    return max(free if left is None else min(free, left), 0)


def _at_least_zero(value) -> ColumnElement[int]:
    return case((value > 0, value), else_=0)


def event_free_sql(public: bool = False) -> ColumnElement[int]:
    """`event_free` of the row's event, as an SQL expression over `Event` (portable SQL only);
    `public`: over the types the public sees (not hidden ones), as `event_free` is given them."""
    quota_left = TicketType.quota - TicketType.held - TicketType.sold
    by_type = select(func.coalesce(func.sum(_at_least_zero(quota_left)), 0)).where(
        TicketType.event_id == Event.id
    )
    if public:
        by_type = by_type.where(TicketType.hidden.is_(False))
    by_type = by_type.scalar_subquery()
    left = Event.capacity - Event.held - Event.sold
    capped = case((Event.capacity.is_(None), by_type), (left < by_type, left), else_=by_type)
    return _at_least_zero(capped)
