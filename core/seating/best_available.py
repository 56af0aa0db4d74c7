"""Best available: which seats a group gets, as pure functions of an in-memory picture of the rows.

The rules, in order of preference (docs/seating.md, "Best available"):

1. the whole group in one row, on seats next to each other: consecutive in the row's order
   with no aisle between them (an aisle is a step along the row more than 1.5 times the row's
   usual step);
2. leaving no single free seat stranded between the group and a taken or blocked seat, an
   aisle or the row's end, when another placement does not;
3. among those, the group whose centre is nearest the focal point (the stage);
4. ties go to the earlier row of the plan, then the earlier seat.

Accessible and companion seats are kept for requests that ask for accessible seats; such a
request prefers a placement that includes an accessible seat. A group no row can seat together
gets the seats apart: the largest part that sits together first (by the same rules), then the
rest likewise; a request gets no seats only when fewer seats are free than it asks for.

The picture keeps, per row, the best placement for each group size it was asked about, and
forgets it when a seat of that row is taken or released: a decision looks at one cached answer
per row, and only the rows that changed are walked again.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

# A step along a row longer than this many times the row's usual step is an aisle.
AISLE_FACTOR = 1.5


@dataclass(frozen=True)
class PlanSeat:
    """A seat as best available sees it."""

    id: Hashable
    ticket_type_id: Hashable
    row: Hashable  # the seat's row: (section, row name)
    x: float
    y: float
    accessible: bool = False
    companion: bool = False

    @property
    def special(self) -> bool:
        """Kept for requests that ask for accessible seats."""
        return self.accessible or self.companion


@dataclass(frozen=True, order=True)
class Placement:
    """A group's seats in one row, with what makes it better or worse than another."""

    lacks_accessible: bool
    strands_single: bool
    distance: float
    row: int
    start: int
    seat_ids: tuple = ()


def aisles(seats: Sequence[PlanSeat]) -> list[bool]:
    """For each pair of consecutive seats of a row, whether an aisle (or gap) separates them."""
    steps = [math.dist((a.x, a.y), (b.x, b.y)) for a, b in zip(seats, seats[1:], strict=False)]
    if not steps:
        return []
    usual = statistics.median(steps)
    return [step > usual * AISLE_FACTOR for step in steps]


class SeatPicture:
    """The rows of a plan, which seats are free, and the focal point; no I/O."""

    def __init__(self, seats: Iterable[PlanSeat], focal: tuple[float, float], unavailable: Iterable = ()):
        rows: dict[Hashable, list[PlanSeat]] = defaultdict(list)
        for seat in seats:
            rows[seat.row].append(seat)
        self.focal = focal
        self.rows: list[list[PlanSeat]] = list(rows.values())
        self._aisles = [aisles(row) for row in self.rows]
        self.seat: dict[Hashable, PlanSeat] = {}
        self._row_of: dict[Hashable, int] = {}
        rows_of_type: dict[Hashable, set[int]] = defaultdict(set)
        for index, row in enumerate(self.rows):
            for seat in row:
                self.seat[seat.id] = seat
                self._row_of[seat.id] = index
                rows_of_type[seat.ticket_type_id].add(index)
        self._rows_of_type = {tt: sorted(rows) for tt, rows in rows_of_type.items()}
        self.free: set = set(self.seat) - set(unavailable)
        # Free seats per (ticket type, kept for accessible requests).
        self._free_count: dict[tuple, int] = defaultdict(int)
        for seat_id in self.free:
            self._count(seat_id, +1)
        self._cache: list[dict] = [{} for _ in self.rows]

    # --- the state ----------------------------------------------------------------------------

    def _count(self, seat_id, delta: int) -> None:
        seat = self.seat[seat_id]
        self._free_count[(seat.ticket_type_id, seat.special)] += delta

    def take(self, seat_ids: Iterable) -> None:
        for seat_id in seat_ids:
            if seat_id not in self.free:
                raise ValueError(f"seat {seat_id} is not free")
            self.free.discard(seat_id)
            self._count(seat_id, -1)
            self._cache[self._row_of[seat_id]].clear()

    def release(self, seat_ids: Iterable) -> None:
        for seat_id in seat_ids:
            if seat_id in self.seat and seat_id not in self.free:
                self.free.add(seat_id)
                self._count(seat_id, +1)
                self._cache[self._row_of[seat_id]].clear()

    def free_for(self, ticket_type_id, accessible: bool) -> int:
        """How many free seats of the type a request may be given."""
        count = self._free_count[(ticket_type_id, False)]
        return count + self._free_count[(ticket_type_id, True)] if accessible else count

    # --- choosing -----------------------------------------------------------------------------

    def best_together(self, ticket_type_id, size: int, accessible: bool = False) -> Placement | None:
        """The best placement of `size` seats side by side in one row, or None."""
        best = None
        for row in self._rows_of_type.get(ticket_type_id, ()):
            cache = self._cache[row]
            key = (ticket_type_id, size, accessible)
            if key not in cache:
                cache[key] = self._best_in_row(row, ticket_type_id, size, accessible)
            candidate = cache[key]
            if candidate is not None and (best is None or candidate < best):
                best = candidate
        return best

    def place(self, ticket_type_id, size: int, accessible: bool = False) -> tuple | None:
        """The seats best available gives a group of `size`: together if any row can seat it,
        else apart (largest part first); None when fewer seats are free than asked for."""
        if size < 1 or self.free_for(ticket_type_id, accessible) < size:
            return None
        together = self.best_together(ticket_type_id, size, accessible)
        if together is not None:
            return together.seat_ids
        chosen: list = []
        try:
            while len(chosen) < size:
                part = next(
                    found
                    for part_size in range(size - len(chosen), 0, -1)
                    if (found := self.best_together(ticket_type_id, part_size, accessible)) is not None
                )
                self.take(part.seat_ids)
                chosen.extend(part.seat_ids)
        finally:
            self.release(chosen)
        return tuple(chosen)

    def _eligible(self, seat: PlanSeat, ticket_type_id, accessible: bool) -> bool:
        return (
            seat.id in self.free
            and seat.ticket_type_id == ticket_type_id
            and (accessible or not seat.special)
        )

    def _best_in_row(self, row: int, ticket_type_id, size: int, accessible: bool) -> Placement | None:
        seats, breaks = self.rows[row], self._aisles[row]
        best = None
        start = 0
        while start < len(seats):
            if not self._eligible(seats[start], ticket_type_id, accessible):
                start += 1
                continue
            end = start
            while (end + 1 < len(seats) and not breaks[end]
                   and self._eligible(seats[end + 1], ticket_type_id, accessible)):  # fmt: skip
                end += 1
            run = seats[start : end + 1]
            if len(run) >= size:
                candidate = self._best_in_run(run, row, start, size, accessible)
                if best is None or candidate < best:
                    best = candidate
            start = end + 1
        return best

    def _best_in_run(
        self, run: list[PlanSeat], row: int, first: int, size: int, accessible: bool
    ) -> Placement:
        xs, ys, special = [0.0], [0.0], [0]
        for seat in run:
            xs.append(xs[-1] + seat.x)
            ys.append(ys[-1] + seat.y)
            special.append(special[-1] + (1 if seat.accessible else 0))
        fx, fy = self.focal
        best = None
        for offset in range(len(run) - size + 1):
            after = len(run) - size - offset
            centre = ((xs[offset + size] - xs[offset]) / size, (ys[offset + size] - ys[offset]) / size)
            candidate = (
                accessible and special[offset + size] == special[offset],
                offset == 1 or after == 1,
                math.dist(centre, (fx, fy)),
                offset,
            )
            if best is None or candidate < best:
                best = candidate
        lacks, strands, distance, offset = best
        ids = tuple(seat.id for seat in run[offset : offset + size])
        return Placement(lacks, strands, distance, row, first + offset, ids)

    # --- measuring ----------------------------------------------------------------------------

    def stranded_singles(self) -> int:
        """Free seats alone between taken seats, aisles or a row's end (of their ticket type)."""
        stranded = 0
        for seats, breaks in zip(self.rows, self._aisles, strict=True):
            for index, seat in enumerate(seats):
                if seat.id not in self.free:
                    continue
                before = index > 0 and not breaks[index - 1] and _joins(seats[index - 1], seat, self.free)
                after = (
                    index + 1 < len(seats) and not breaks[index] and _joins(seats[index + 1], seat, self.free)
                )
                stranded += not (before or after)
        return stranded


def _joins(neighbour: PlanSeat, seat: PlanSeat, free: set) -> bool:
    return neighbour.id in free and neighbour.ticket_type_id == seat.ticket_type_id
