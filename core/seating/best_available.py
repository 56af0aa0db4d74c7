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

The fixed part of a plan (rows, aisles, who sits where) is a `Layout`, built once and shared by
every picture of the same plan; a `SeatPicture` adds which seats are free. For each group size
it was asked about, the picture keeps a heap of each row's best placement, and walks again
only the rows that changed since (a take or a release marks its row): a decision costs a heap
look-up and a walk of the rows that changed, not a walk of the house.
"""

from __future__ import annotations

import heapq
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


@dataclass(frozen=True)
class Placement:
    """A group's seats in one row. `rank` orders placements: lacking an accessible seat (for a
    request that asked for one), stranding a single seat, the centre's distance to the focal
    point, then the row and the first seat's place in the plan."""

    rank: tuple
    seat_ids: tuple


def aisles(seats: Sequence[PlanSeat]) -> list[bool]:
    """For each pair of consecutive seats of a row, whether an aisle (or gap) separates them."""
    steps = [math.dist((a.x, a.y), (b.x, b.y)) for a, b in zip(seats, seats[1:], strict=False)]
    if not steps:
        return []
    usual = statistics.median(steps)
    return [step > usual * AISLE_FACTOR for step in steps]


def _running_sums(seats: Iterable[PlanSeat]) -> tuple[list[float], list[float], list[int]]:
    xs, ys, assisted = [0.0], [0.0], [0]
    for seat in seats:
        xs.append(xs[-1] + seat.x)
        ys.append(ys[-1] + seat.y)
        assisted.append(assisted[-1] + seat.accessible)
    return xs, ys, assisted


class Layout:
    """The fixed part of a plan: its seats numbered 0..n-1 in plan order, grouped in rows, and
    the aisles of each row. Immutable once built; shared by pictures of the same plan."""

    def __init__(self, seats: Iterable[PlanSeat]):
        self.seats: list[PlanSeat] = list(seats)
        self.index = {seat.id: number for number, seat in enumerate(self.seats)}
        rows: dict[Hashable, list[int]] = defaultdict(list)
        for number, seat in enumerate(self.seats):
            rows[seat.row].append(number)
        self.rows: list[list[int]] = list(rows.values())
        self.aisles = [aisles([self.seats[n] for n in row]) for row in self.rows]
        self.row_of = [0] * len(self.seats)
        rows_of_type: dict[Hashable, set[int]] = defaultdict(set)
        for row_number, row in enumerate(self.rows):
            for number in row:
                self.row_of[number] = row_number
                rows_of_type[self.seats[number].ticket_type_id].add(row_number)
        self.rows_of_type = {tt: sorted(rows) for tt, rows in rows_of_type.items()}
        self.types_of_row = [{self.seats[n].ticket_type_id for n in row} for row in self.rows]
        # Running sums along each row (x, y, accessible seats): a group's centre in O(1).
        self.sums = [_running_sums(self.seats[n] for n in row) for row in self.rows]
        self.ticket_type = [seat.ticket_type_id for seat in self.seats]
        self.special = [seat.special for seat in self.seats]


class SeatPicture:
    """A plan's rows, which seats are free, and the focal point; no I/O."""

    def __init__(
        self, layout: Layout | Iterable[PlanSeat], focal: tuple[float, float], unavailable: Iterable = ()
    ):
        self.layout = layout if isinstance(layout, Layout) else Layout(layout)
        self.focal = focal
        index = self.layout.index
        self._free: set[int] = set(range(len(self.layout.seats))) - {
            index[s] for s in unavailable if s in index
        }
        # Free seats per (ticket type, kept for accessible requests).
        self._free_count: dict[tuple, int] = defaultdict(int)
        for number in self._free:
            self._free_count[(self.layout.ticket_type[number], self.layout.special[number])] += 1
        self._changes: list[int] = []  # rows changed, in order; each heap remembers how far it read
        self._version = [0] * len(self.layout.rows)
        self._heaps: dict[tuple, tuple[list, list[int]]] = {}
        self._run_cache: dict[tuple, tuple[int, list]] = {}

    # --- the state ----------------------------------------------------------------------------

    @property
    def rows(self) -> list[list[PlanSeat]]:
        return [[self.layout.seats[n] for n in row] for row in self.layout.rows]

    @property
    def seat(self) -> dict[Hashable, PlanSeat]:
        return {seat.id: seat for seat in self.layout.seats}

    @property
    def free(self) -> set:
        """The ids of the free seats."""
        return {self.layout.seats[n].id for n in self._free}

    def is_free(self, seat_id) -> bool:
        number = self.layout.index.get(seat_id)
        return number is not None and number in self._free

    def _changed(self, number: int, delta: int) -> None:
        self._free_count[(self.layout.ticket_type[number], self.layout.special[number])] += delta
        row = self.layout.row_of[number]
        self._version[row] += 1
        self._changes.append(row)

    def take(self, seat_ids: Iterable) -> None:
        for seat_id in seat_ids:
            number = self.layout.index[seat_id]
            if number not in self._free:
                raise ValueError(f"seat {seat_id} is not free")
            self._free.discard(number)
            self._changed(number, -1)

    def release(self, seat_ids: Iterable) -> None:
        for seat_id in seat_ids:
            number = self.layout.index.get(seat_id)
            if number is not None and number not in self._free:
                self._free.add(number)
                self._changed(number, +1)

    def free_for(self, ticket_type_id, accessible: bool) -> int:
        """How many free seats of the type a request may be given."""
        count = self._free_count[(ticket_type_id, False)]
        return count + self._free_count[(ticket_type_id, True)] if accessible else count

    # --- choosing -----------------------------------------------------------------------------

    def best_together(self, ticket_type_id, size: int, accessible: bool = False) -> Placement | None:
        """The best placement of `size` seats side by side in one row, or None."""
        key = (ticket_type_id, size, accessible)
        if key not in self._heaps:
            heap = []
            for row in self.layout.rows_of_type.get(ticket_type_id, ()):
                self._push(heap, row, key)
            heapq.heapify(heap)
            self._heaps[key] = (heap, [len(self._changes)])
        heap, read = self._heaps[key]
        for row in set(self._changes[read[0] :]):
            self._push(heap, row, key, sift=True)
        read[0] = len(self._changes)
        while heap:
            _rank, row, version, placement = heap[0]
            if version == self._version[row]:
                return placement
            heapq.heappop(heap)  # the row changed since: its current best was pushed with it
        return None

    def _push(self, heap: list, row: int, key: tuple, sift: bool = False) -> None:
        if key[0] not in self.layout.types_of_row[row]:
            return
        placement = self._best_in_row(row, *key)
        if placement is not None:
            entry = (placement.rank, row, self._version[row], placement)
            if sift:
                heapq.heappush(heap, entry)
            else:
                heap.append(entry)

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

    def _runs(self, row: int, ticket_type_id, accessible: bool) -> list[tuple[int, int]]:
        """The row's runs of seats a request may be given, side by side: (first, last) places
        in the row. Kept until the row changes, for every group size to read."""
        key = (row, ticket_type_id, accessible)
        cached = self._run_cache.get(key)
        if cached is not None and cached[0] == self._version[row]:
            return cached[1]
        layout, free = self.layout, self._free
        numbers, breaks = layout.rows[row], layout.aisles[row]
        types, special = layout.ticket_type, layout.special
        runs, start = [], None
        for place, number in enumerate(numbers):
            if number in free and types[number] == ticket_type_id and (accessible or not special[number]):
                if start is None:
                    start = place
                if place + 1 == len(numbers) or breaks[place]:
                    runs.append((start, place))
                    start = None
            elif start is not None:
                runs.append((start, place - 1))
                start = None
        self._run_cache[key] = (self._version[row], runs)
        return runs

    def _best_in_row(self, row: int, ticket_type_id, size: int, accessible: bool) -> Placement | None:
        xs, ys, assisted = self.layout.sums[row]
        fx, fy = self.focal
        hypot = math.hypot
        best = None
        for first, last in self._runs(row, ticket_type_id, accessible):
            spare = last - first + 1 - size
            if spare < 0:
                continue
            for a in range(first, first + spare + 1):
                b = a + size
                offset = a - first
                rank = (
                    accessible and assisted[b] == assisted[a],
                    offset == 1 or spare - offset == 1,
                    hypot((xs[b] - xs[a]) / size - fx, (ys[b] - ys[a]) / size - fy),
                    row,
                    a,
                )
                if best is None or rank < best:
                    best = rank
        if best is None:
            return None
        numbers = self.layout.rows[row]
        return Placement(best, tuple(self.layout.seats[n].id for n in numbers[best[4] : best[4] + size]))

    # --- measuring ----------------------------------------------------------------------------

    def stranded_singles(self) -> int:
        """Free seats alone between taken seats, aisles or a row's end (of their ticket type)."""
        layout, free = self.layout, self._free
        stranded = 0
        for numbers, breaks in zip(layout.rows, layout.aisles, strict=True):
            for index, number in enumerate(numbers):
                if number not in free:
                    continue
                before = index > 0 and not breaks[index - 1] and self._joins(numbers[index - 1], number)
                after = (
                    index + 1 < len(numbers) and not breaks[index] and self._joins(numbers[index + 1], number)
                )
                stranded += not (before or after)
        return stranded

    def _joins(self, neighbour: int, number: int) -> bool:
        return (
            neighbour in self._free and self.layout.ticket_type[neighbour] == self.layout.ticket_type[number]
        )
