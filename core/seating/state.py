"""An event's seats inside one transaction, under the event's inventory lock.

`load_seating_state` reads the plan, its seats and the live assignments once (the first time a
seated ticket type needs them: `core.inventory.Inventory.seating`); every change of a seat's
state in the transaction goes through the `SeatingState` it returns, which keeps the picture
best available reads (`core.seating.best_available`), writes the assignments, and, on commit,
hands the seat map to Redis (`core.seating.seat_map`). Because the event's rows are locked, the
picture is the truth for the whole transaction: no other writer can move a seat meanwhile.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Row, insert, select, update

from core.db import UnitOfWork
from core.models import Booking, Event, Seat, SeatAssignment, SeatingPlan, utcnow
from core.seating import seat_map
from core.seating.best_available import Layout, PlanSeat, SeatPicture
from core.seating.seat_map import STATUS_CODES
from core.statuses import BookingStatus, SeatStatus

# What stays while a plan stands (whether a seat is blocked is read on every load).
SEAT_COLUMNS = (Seat.id, Seat.ticket_type_id, Seat.section, Seat.row, Seat.label, Seat.x, Seat.y,
                Seat.accessible, Seat.companion)  # fmt: skip


@dataclass
class FixedPlan:
    """What does not change while a plan stands: its seats (in plan order) and the focal point,
    their layout for best available, and the seat map's fixed pieces once rendered
    (`core.seating.seat_map`)."""

    layout_id: uuid.UUID
    seats: dict[uuid.UUID, Row]
    focal: tuple[float, float]
    fragments: dict = field(default_factory=dict)

    @functools.cached_property
    def layout(self) -> Layout:
        """Built the first time a transaction needs the seats' state: a web process that only
        draws the map never pays for it (half a second for a 20,000-seat stadium)."""
        return Layout(PlanSeat(s.id, s.ticket_type_id, (s.section, s.row), s.x, s.y, s.accessible, s.companion)
                      for s in self.seats.values())  # fmt: skip


# The fixed part of recent plans, by (event id, layout id): a plan laid out anew gets a new
# layout id, so an entry is never stale. Saves a drainer reading and indexing every seat of a
# 20,000-seat plan on each batch; only the blocked seats and live assignments are read.
_FIXED: OrderedDict[tuple, FixedPlan] = OrderedDict()
FIXED_PLANS_KEPT = 16


def cached_fixed_plan(event_id: uuid.UUID, layout_id: uuid.UUID) -> FixedPlan | None:
    """The fixed part of the plan laid out as `layout_id`, if this process has it."""
    return _FIXED.get((event_id, layout_id))


def fixed_plan(uow: UnitOfWork, plan: SeatingPlan) -> FixedPlan:
    key = (plan.event_id, plan.layout_id)
    fixed = _FIXED.get(key)
    if fixed is None:
        rows = uow.session.execute(
            select(*SEAT_COLUMNS).where(Seat.event_id == plan.event_id).order_by(Seat.position)
        ).all()
        seats = {seat.id: seat for seat in rows}
        fixed = _FIXED[key] = FixedPlan(plan.layout_id, seats, (plan.focal_x, plan.focal_y))
        while len(_FIXED) > FIXED_PLANS_KEPT:
            _FIXED.popitem(last=False)
    with contextlib.suppress(KeyError):  # another thread may have just let it go
        _FIXED.move_to_end(key)
    return fixed


class SeatingState:
    """The plan's seats, which are blocked, held or sold and by which booking, and the picture."""

    def __init__(
        self, uow: UnitOfWork | None, plan: SeatingPlan, fixed: FixedPlan, blocked: Iterable, live: Iterable
    ):
        self.fixed = fixed
        self.seats = fixed.seats  # in plan order
        self.blocked = set(blocked)
        self.holder: dict[uuid.UUID, uuid.UUID] = {}
        self.sold: set[uuid.UUID] = set()
        self.by_booking: dict[uuid.UUID, list[uuid.UUID]] = {}
        for seat_id, booking_id, status in live:
            self._assign([seat_id], booking_id, status)
        self.picture = SeatPicture(fixed.layout, fixed.focal, unavailable=self.blocked | self.holder.keys())
        # Each seat's status as the seat map in Redis holds it: one byte a seat, in plan order.
        self._codes = bytearray(
            "".join(STATUS_CODES[self.status(seat_id)] for seat_id in self.seats), "ascii"
        )
        self.begin(uow, plan)

    def begin(self, uow: UnitOfWork | None, plan: SeatingPlan) -> None:
        """Start a transaction's use of this state (`uow` has locked the event; `plan` is its
        fresh row): nothing planned, nothing changed yet."""
        self._uow = uow
        self.plan = plan
        self.loaded_at = utcnow()
        self._planned: dict[uuid.UUID, list[uuid.UUID]] = {}
        self._new_rows: list[tuple] = []  # (booking, its seats, when) of each booking given seats
        self._changed = False
        # The plan's seats themselves changed (a new plan): the seat → type hash is rewritten.
        self.types_changed = False

    def _assign(self, seat_ids: list[uuid.UUID], booking_id: uuid.UUID, status: str) -> None:
        self.holder.update(dict.fromkeys(seat_ids, booking_id))
        if booking_id in self.by_booking:
            self.by_booking[booking_id].extend(seat_ids)
        else:
            self.by_booking[booking_id] = seat_ids  # the list is the state's from here on
        if status == BookingStatus.CONFIRMED:
            self.sold.update(seat_ids)

    def status(self, seat_id: uuid.UUID) -> SeatStatus:
        """The seat's status as organizers and staff see it."""
        if seat_id in self.holder:
            return SeatStatus.SOLD if seat_id in self.sold else SeatStatus.HELD
        return SeatStatus.BLOCKED if seat_id in self.blocked else SeatStatus.AVAILABLE

    def is_free(self, seat_id: uuid.UUID) -> bool:
        return self.picture.is_free(seat_id)

    # --- choosing, then taking -----------------------------------------------------------------

    def plan_seats(self, booking_id: uuid.UUID, seat_ids: list[uuid.UUID]) -> None:
        """Remember the seats chosen for a booking until `take` (after its counters moved)."""
        self._planned[booking_id] = seat_ids

    def planned(self, booking_id: uuid.UUID) -> bool:
        """Whether seats were planned for the booking (`plan_seats`) and not taken yet."""
        return booking_id in self._planned

    def take(self, booking_id: uuid.UUID, status: str, now: dt.datetime | None = None) -> list[uuid.UUID]:
        """Give the booking the seats planned for it; the assignment rows wait in `new_rows`."""
        now = now or self.loaded_at
        seat_ids = self._planned.pop(booking_id, [])
        numbers = self.picture.take(seat_ids)
        self._assign(seat_ids, booking_id, status)
        self._new_rows.append((booking_id, seat_ids, now))
        self._mark_taken(numbers, SeatStatus.SOLD if status == BookingStatus.CONFIRMED else SeatStatus.HELD)
        return seat_ids

    def new_rows(self) -> list[dict]:
        """The assignments made since the last call, for the caller to insert."""
        taken, self._new_rows = self._new_rows, []
        event_id = self.plan.event_id
        return [{"booking_id": booking_id, "seat_id": seat_id, "assigned_at": at, "event_id": event_id}
                for booking_id, seat_ids, at in taken for seat_id in seat_ids]  # fmt: skip

    def write_new_rows(self) -> None:
        """Insert the new assignments now (the bookings they name are already rows)."""
        rows = self.new_rows()
        if rows:
            self._uow.session.execute(insert(SeatAssignment), rows)

    def seats_once_held(self, booking_id: uuid.UUID) -> list[uuid.UUID]:
        """The seats the booking was given before (live or released): a hold that ran out."""
        return list(self._uow.session.scalars(
            select(SeatAssignment.seat_id).where(SeatAssignment.booking_id == booking_id)
        ))  # fmt: skip

    def sell(self, booking_id: uuid.UUID) -> None:
        """The booking's held seats are paid for."""
        seats = self.by_booking.get(booking_id, [])
        self.sold.update(seats)
        self._mark_changed(seats)

    # --- giving back --------------------------------------------------------------------------

    def release_bookings(self, booking_ids: Iterable[uuid.UUID], now: dt.datetime) -> None:
        """Every live seat of these bookings goes back (a hold ended, a booking was cancelled)."""
        booking_ids = [b for b in booking_ids if self.by_booking.get(b)]
        if not booking_ids:
            return
        self._uow.session.execute(
            update(SeatAssignment)
            .where(SeatAssignment.booking_id.in_(booking_ids), SeatAssignment.released_at.is_(None))
            .values(released_at=now)
            .execution_options(synchronize_session=False)
        )
        for booking_id in booking_ids:
            self._free(self.by_booking.pop(booking_id))

    def release_tickets(self, ticket_ids: Iterable[uuid.UUID], now: dt.datetime) -> None:
        """The seats of these tickets go back (tickets given back one by one, a ticket moved)."""
        released = self._uow.session.execute(
            update(SeatAssignment)
            .where(SeatAssignment.ticket_id.in_(list(ticket_ids)), SeatAssignment.released_at.is_(None))
            .values(released_at=now)
            .returning(SeatAssignment.seat_id)
            .execution_options(synchronize_session=False)
        ).scalars().all()  # fmt: skip
        for seat_id in released:
            self.by_booking[self.holder[seat_id]].remove(seat_id)
        self._free(released)

    def _free(self, seat_ids: list[uuid.UUID]) -> None:
        for seat_id in seat_ids:
            del self.holder[seat_id]
            self.sold.discard(seat_id)
        self.picture.release(seat_ids)
        self._mark_changed(seat_ids)

    # --- blocking -----------------------------------------------------------------------------

    def set_blocked(self, seat_ids: list[uuid.UUID], blocked: bool) -> None:
        """Take free seats out of sale, or put blocked ones back (the caller moves the quotas)."""
        if blocked:
            self.blocked.update(seat_ids)
            self.picture.take([s for s in seat_ids if self.is_free(s)])
        else:
            self.blocked.difference_update(seat_ids)
            self.picture.release([s for s in seat_ids if s not in self.holder])
        self._mark_changed(seat_ids)

    # --- publishing ---------------------------------------------------------------------------

    def touch(self) -> None:
        """The plan itself changed: publish it on commit, under a new version."""
        self._move_version()

    def statuses(self) -> str:
        """Every seat's status, one `STATUS_CODES` byte a seat in plan order: the seat map."""
        return self._codes.decode("ascii")

    def _mark_taken(self, numbers: list[int], status: SeatStatus) -> None:
        """Seats just taken (by their numbers in the plan) all have their booking's status: the
        map shows it, without working out each seat's status as `_mark_changed` must."""
        if numbers:
            code, codes = ord(STATUS_CODES[status]), self._codes
            for number in numbers:
                codes[number] = code
            self._move_version()

    def _mark_changed(self, seat_ids: list[uuid.UUID]) -> None:
        """These seats' status changed: the map will show it."""
        if not seat_ids:
            return
        index, codes = self.fixed.layout.index, self._codes
        for seat_id in seat_ids:
            codes[index[seat_id]] = ord(STATUS_CODES[self.status(seat_id)])
        self._move_version()

    def _move_version(self) -> None:
        """The first change of the transaction moves the plan's version; the seat map is
        published once the transaction commits (`committed`)."""
        if not self._changed:
            self._changed = True
            self.plan.version += 1

    def committed(self) -> None:
        """After the transaction's commit (never before: a map must not show a hold that a
        rollback undid): publish the map if a seat changed, then keep the state for the next
        transaction of this process."""
        if self._changed:
            seat_map.publish(self, with_types=self.types_changed)
        _keep(self)


# The state each recent event was left in by this process's last committed transaction, with
# the plan version it had then. Every change of a seat moves the version in the transaction
# that makes it, so a state whose version is still the plan's (read under the event's lock) is
# exactly what PostgreSQL holds: the drainer's next batch reuses it, its picture's heaps and all,
# instead of reading every live assignment again. A state is taken out while a transaction uses
# it and put back only once that transaction commits: a rollback never leaves a changed state.
_COMMITTED: OrderedDict[uuid.UUID, tuple[int, SeatingState]] = OrderedDict()
STATES_KEPT = 16


def load_seating_state(uow: UnitOfWork, event: Event) -> SeatingState | None:
    """The event's seats as they stand under its inventory lock; None without a plan."""
    plan = uow.session.get(SeatingPlan, event.id, populate_existing=True)
    if plan is None:
        return None
    version, state = _COMMITTED.pop(event.id, (None, None))
    if state is not None and version == plan.version and state.fixed.layout_id == plan.layout_id:
        state.begin(uow, plan)
    else:
        state = read_seating_state(uow, plan)
    uow.after_commit(state.committed)
    return state


def _keep(state: SeatingState) -> None:
    _COMMITTED[state.plan.event_id] = (state.plan.version, state)
    _COMMITTED.move_to_end(state.plan.event_id)
    while len(_COMMITTED) > STATES_KEPT:
        _COMMITTED.popitem(last=False)


def read_seating_state(uow: UnitOfWork, plan: SeatingPlan) -> SeatingState:
    """The event's seats as PostgreSQL holds them (only the plan's fixed part from the cache)."""
    fixed = fixed_plan(uow, plan)
    blocked = uow.session.scalars(
        select(Seat.id).where(Seat.event_id == plan.event_id, Seat.blocked.is_(True))
    ).all()
    live = uow.session.execute(
        select(SeatAssignment.seat_id, SeatAssignment.booking_id, Booking.status)
        .join(Booking, Booking.id == SeatAssignment.booking_id)
        .where(SeatAssignment.event_id == plan.event_id, SeatAssignment.released_at.is_(None))
    ).all()
    return SeatingState(uow, plan, fixed, blocked, live)
