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
import operator
import statistics
from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

# A step along a row longer than this many times the row's usual step is an aisle.
AISLE_FACTOR = 1.5
# How many runs' best starts `Centres` keeps per row and group size, per seat of the row: a
# bound on its memory whatever the churn of takes and releases.
RUNS_KEPT_PER_SEAT = 4


@dataclass(frozen=True, slots=True)
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


class Placement(NamedTuple):
    """A group's seats in one row. `rank` orders placements: lacking an accessible seat (for a
    request that asked for one), stranding a single seat, the centre's distance to the focal
    point, then the row and the first seat's place in the plan. A named tuple: one is made a
    decision, several times faster than a frozen dataclass."""

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


def _mask(places: Iterable[int]) -> int:
    """The bit mask of these places of a row (bit i: the row's i-th seat)."""
    mask = 0
    for place in places:
        mask |= 1 << place
    return mask


class Layout:
    """The fixed part of a plan: its seats numbered 0..n-1 in plan order, grouped in rows, and
    the aisles of each row. Immutable once built, but for the centre distances it memoizes;
    shared by pictures of the same plan.

    A row's seats are bits of an int (bit i: the row's i-th seat), so a picture keeps a row's
    free seats as one int and finds its runs of free seats with a few integer operations."""

    def __init__(self, seats: Iterable[PlanSeat]):
        self.seats: list[PlanSeat] = list(seats)
        self.index = {seat.id: number for number, seat in enumerate(self.seats)}
        rows: dict[Hashable, list[int]] = defaultdict(list)
        for number, seat in enumerate(self.seats):
            rows[seat.row].append(number)
        self.rows: list[list[int]] = list(rows.values())
        self.row_ids = [[self.seats[n].id for n in row] for row in self.rows]  # each row's seat ids, in order
        self.aisles = [aisles([self.seats[n] for n in row]) for row in self.rows]
        self.row_of = [0] * len(self.seats)
        self.place_of = [0] * len(self.seats)  # the seat's place along its row
        rows_of_type: dict[Hashable, set[int]] = defaultdict(set)
        for row_number, row in enumerate(self.rows):
            for place, number in enumerate(row):
                self.row_of[number] = row_number
                self.place_of[number] = place
                rows_of_type[self.seats[number].ticket_type_id].add(row_number)
        self.rows_of_type = {tt: sorted(rows) for tt, rows in rows_of_type.items()}
        self.types_of_row = [{self.seats[n].ticket_type_id for n in row} for row in self.rows]
        # Running sums along each row (x, y, accessible seats): a group's centre in O(1).
        self.sums = [_running_sums(self.seats[n] for n in row) for row in self.rows]
        self.ticket_type = [seat.ticket_type_id for seat in self.seats]
        self.special = [seat.special for seat in self.seats]
        # Each seat's kind, a number for its (ticket type, kept for accessible requests).
        self.kinds: dict[tuple, int] = {}
        self.kind = [
            self.kinds.setdefault((seat.ticket_type_id, seat.special), len(self.kinds)) for seat in self.seats
        ]
        # Per row: the whole row, the aisles (bit i: an aisle between places i and i + 1), and
        # for each (ticket type, accessible request) the seats such a request may be given.
        self.full = [(1 << len(row)) - 1 for row in self.rows]
        self.breaks = [_mask(place for place, aisle in enumerate(row) if aisle) for row in self.aisles]
        self.eligible: list[dict[tuple, int]] = []
        for row in self.rows:
            masks: dict[tuple, int] = defaultdict(int)
            for place, number in enumerate(row):
                masks[(self.ticket_type[number], True)] |= 1 << place
                if not self.special[number]:
                    masks[(self.ticket_type[number], False)] |= 1 << place
            self.eligible.append(dict(masks))
        self._centres: dict[tuple[float, float], Centres] = {}

    def centres(self, focal: tuple[float, float]) -> Centres:
        """The distances of groups' centres to `focal` (see `Centres`), shared by every picture
        of the plan with that focal point."""
        found = self._centres.get(focal)
        if found is None:
            found = self._centres[focal] = Centres(self, focal)
        return found


class Centres(dict):
    """The distance of the group's centre to the focal point of every group of `size` seats
    side by side in a row, by first place, keyed by (row, size): fixed while the plan stands,
    so worked out the first time a row is weighed for a size, and kept.

    So is the best start of a group in a run of free seats (`best_in_run`): it depends on the
    run's bounds and those distances only, not on what is free elsewhere, so a row changed by a
    take is weighed again from its runs' kept answers, and only its new runs (one or two per
    take) are worked out.

    Along a straight row (and most curved ones) the distances fall to the row's nearest start
    and rise after it: for such a row and size `lowest` keeps that start, and the nearest of any
    range of starts is the range's start nearest to it, found without reading the range."""

    def __init__(self, layout: Layout, focal: tuple[float, float]):
        super().__init__()
        self.layout = layout
        self.focal = focal
        # Per (row, size): each run's best start, by the run (first, last place).
        self.run_bests: dict[tuple[int, int], dict[tuple[int, int], tuple]] = defaultdict(dict)
        # Per (row, size): the first nearest start, if the distances fall to it and rise after it;
        # else -1 (those rows' ranges are read).
        self.lowest: dict[tuple[int, int], int] = {}

    def __missing__(self, key: tuple[int, int]) -> list[float]:
        row, size = key
        xs, ys, _ = self.layout.sums[row]
        (fx, fy), hypot = self.focal, math.hypot
        found = self[key] = [
            hypot((x1 - x0) / size - fx, (y1 - y0) / size - fy)
            for x0, x1, y0, y1 in zip(xs, xs[size:], ys, ys[size:], strict=False)
        ]
        lowest = found.index(min(found)) if found else -1  # a row too short for the group: no start
        falls_then_rises = (
            lowest >= 0
            and all(map(operator.ge, found[:lowest], found[1 : lowest + 1]))
            and all(map(operator.le, found[lowest:-1], found[lowest + 1 :]))
        )
        self.lowest[key] = lowest if falls_then_rises else -1
        return found

    def _nearest(self, row: int, size: int, low: int, high: int) -> int:
        """The first of the nearest starts from `low` to `high` (a range of the row's starts)."""
        distances, lowest = self[row, size], self.lowest[row, size]
        if lowest < 0:  # the distances go up and down: read them
            return distances.index(min(distances[low : high + 1]), low, high + 1)
        if lowest < low:  # rising all through the range
            return low
        if lowest <= high:
            return lowest
        if distances[high - 1] != distances[high]:  # falling all through the range
            return high
        return distances.index(distances[high], low, high + 1)  # the first of equal distances

    def best_in_run(self, row: int, size: int, run: tuple[int, int]) -> tuple:
        """(strands a single seat, distance, first place) of the best group of `size` in the run
        of free seats `run` of an ordinary request (see `SeatPicture._best_in_row`); () if the
        group does not fit in it. Worked out and kept in `run_bests`, where callers look first.

        Within a run of `spare` seats more than the group needs, the group starting `offset`
        seats in strands a single seat when `offset` or `spare - offset` is 1, so the best is
        the nearest of the other starts (the run's two ends and the starts from 2 to
        `spare - 2` in, a slice of the row's fixed distances), and only a run with exactly one
        seat to spare has nothing better than a stranding start."""
        known = self.run_bests[row, size]
        first, last = run
        spare = last - first + 1 - size
        if spare < 0:
            found = ()
        else:
            distances = self[row, size]
            end = first + spare  # the last start; on equal distances the earlier start wins
            nearest = first if distances[first] <= distances[end] else end
            if spare >= 4:
                start = self._nearest(row, size, first + 2, end - 2)
                middle = distances[start]
                if middle < distances[nearest] or (middle == distances[nearest] and nearest == end):
                    nearest = start
            found = (spare == 1, distances[nearest], nearest)
        if len(known) > RUNS_KEPT_PER_SEAT * len(self.layout.rows[row]):
            known.clear()  # a row sold and given back over and over: forget its old runs
        known[run] = found
        return found


class SeatPicture:
    """A plan's rows, which seats are free, and the focal point; no I/O."""

    def __init__(
        self, layout: Layout | Iterable[PlanSeat], focal: tuple[float, float], unavailable: Iterable = ()
    ):
        self.layout = layout if isinstance(layout, Layout) else Layout(layout)
        self.focal = focal
        layout = self.layout
        self._free_rows = list(layout.full)  # each row's free seats, as a bit mask
        self._free_count = [0] * len(layout.kinds)  # free seats of each kind
        for kind in layout.kind:
            self._free_count[kind] += 1
        self._changes: list[int] = []  # rows changed, in order
        self._version = [0] * len(layout.rows)
        # Per (ticket type, accessible request): a heap per group size asked for, of each row's
        # best placement (its rank, then the row's version), and how far into `_changes` they are.
        self._heaps: dict[tuple, dict[int, list]] = {}
        self._read: dict[tuple, int] = {}
        self._centres = layout.centres(focal)
        self._run_cache: dict[tuple, tuple[int, list]] = {}
        self._flip([n for seat_id in set(unavailable) if (n := layout.index.get(seat_id)) is not None], -1)

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
        return {self.layout.seats[n].id for n in range(len(self.layout.seats)) if self._is_free(n)}

    def _is_free(self, number: int) -> bool:
        return bool(self._free_rows[self.layout.row_of[number]] >> self.layout.place_of[number] & 1)

    def is_free(self, seat_id) -> bool:
        number = self.layout.index.get(seat_id)
        return number is not None and self._is_free(number)

    def _flip(self, numbers: list[int], delta: int) -> None:
        """These seats become free (`delta` +1) or not (-1); their rows are marked changed."""
        layout = self.layout
        masks: dict[int, int] = {}
        for number in numbers:
            row = layout.row_of[number]
            masks[row] = masks.get(row, 0) | 1 << layout.place_of[number]
        self._apply(masks, numbers, delta)

    def _apply(self, masks: dict[int, int], numbers: list[int], delta: int) -> None:
        """`_flip` once the seats' bits of each row are known."""
        counts, kind = self._free_count, self.layout.kind
        for number in numbers:
            counts[kind[number]] += delta
        for row, mask in masks.items():
            self._free_rows[row] ^= mask
            self._version[row] += 1
            self._changes.append(row)

    def take(self, seat_ids: Iterable) -> list[int]:
        """Take these seats: all of them, or none if one is not free (ValueError). Returns their
        numbers in the plan (`Layout.index`), for the caller's own per-seat state."""
        layout, free_rows = self.layout, self._free_rows
        numbers = [layout.index[seat_id] for seat_id in seat_ids]
        masks: dict[int, int] = {}
        for number in numbers:
            row, bit = layout.row_of[number], 1 << layout.place_of[number]
            mask = masks.get(row, 0)
            if mask & bit or not free_rows[row] & bit:  # given twice, or not free
                raise ValueError(f"seats {[layout.seats[n].id for n in numbers]} are not all free")
            masks[row] = mask | bit
        self._apply(masks, numbers, -1)
        return numbers

    def release(self, seat_ids: Iterable) -> None:
        """Give back these seats (those of another plan or already free are passed over)."""
        index = self.layout.index
        numbers = {
            n for seat_id in seat_ids if (n := index.get(seat_id)) is not None and not self._is_free(n)
        }
        self._flip(list(numbers), +1)

    def free_for(self, ticket_type_id, accessible: bool) -> int:
        """How many free seats of the type a request may be given."""
        kinds = self.layout.kinds
        wanted = (
            ((ticket_type_id, False), (ticket_type_id, True)) if accessible else ((ticket_type_id, False),)
        )
        return sum(self._free_count[kinds[kind]] for kind in wanted if kind in kinds)

    # --- choosing -----------------------------------------------------------------------------

    def best_together(self, ticket_type_id, size: int, accessible: bool = False) -> Placement | None:
        """The best placement of `size` seats side by side in one row, or None."""
        mode = (ticket_type_id, accessible)
        heaps = self._heaps.get(mode)
        if heaps is None:
            heaps = self._heaps[mode] = {}
        elif self._read[mode] < len(self._changes):
            self._catch_up(mode, heaps)
        self._read[mode] = len(self._changes)
        heap = heaps.get(size)
        if heap is None:
            heap = heaps[size] = []
            for row in self.layout.rows_of_type.get(ticket_type_id, ()):
                entry = self._best_in_row(row, self._runs(row, ticket_type_id, accessible), size, accessible)
                if entry is not None:
                    heap.append(entry)
            heapq.heapify(heap)
        versions = self._version
        while heap:
            entry = heap[0]
            row, first = entry[3], entry[4]
            if entry[5] == versions[row]:
                return Placement(entry[:5], tuple(self.layout.row_ids[row][first : first + size]))
            heapq.heappop(heap)  # the row changed since: its current best was pushed with it
        return None

    def _catch_up(self, mode: tuple, heaps: dict[int, list]) -> None:
        """Weigh again, for every group size of the mode, the rows changed since it last read."""
        ticket_type_id, accessible = mode
        best_in_row, push, replace, pop = self._best_in_row, heapq.heappush, heapq.heapreplace, heapq.heappop
        for row in set(self._changes[self._read[mode] :]):
            if ticket_type_id not in self.layout.types_of_row[row]:
                continue
            runs = self._runs(row, ticket_type_id, accessible)
            for size, heap in heaps.items():
                entry = best_in_row(row, runs, size, accessible)
                if heap and heap[0][3] == row:  # the row's own outdated best is on top: swap it
                    if entry is None:
                        pop(heap)
                    else:
                        replace(heap, entry)
                elif entry is not None:
                    push(heap, entry)

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
        free = self._free_rows[row] & self.layout.eligible[row].get((ticket_type_id, accessible), 0)
        breaks = self.layout.breaks[row]
        runs = []
        while free:
            first = (free & -free).bit_length() - 1
            shifted = free >> first
            last = first + (shifted ^ (shifted + 1)).bit_length() - 2  # the run of ones from `first`
            free &= -(1 << (last + 1))
            aisle = (breaks >> first) & ((1 << (last - first)) - 1)  # aisles inside the run
            while aisle:
                cut = first + (aisle & -aisle).bit_length() - 1
                runs.append((first, cut))
                aisle >>= cut + 1 - first
                first = cut + 1
            runs.append((first, last))
        self._run_cache[key] = (self._version[row], runs)
        return runs

    def _best_in_row(
        self, row: int, runs: list[tuple[int, int]], size: int, accessible: bool
    ) -> tuple | None:
        """The heap entry of the row's best placement of `size` over its `runs` (`_runs`), or
        None: its rank (see `Placement`) followed by the row's version. For the ordinary
        request, each run's best start is kept with the plan (`Centres.best_in_run`)."""
        if not runs:
            return None
        if accessible:
            return self._best_assisted(row, runs, size)
        centres = self._centres
        known = centres.run_bests[row, size]
        best = None
        for run in runs:
            found = known.get(run)
            if found is None:
                found = centres.best_in_run(row, size, run)
            if found and (best is None or found < best):
                best = found
        if best is None:
            return None
        strands, distance, first = best
        return (False, strands, distance, row, first, self._version[row])

    def _best_assisted(self, row: int, runs: list[tuple[int, int]], size: int) -> tuple | None:
        """`_best_in_row` for a request that asked for accessible seats: each start is weighed
        for whether its group has an accessible seat, which no slice of distances tells."""
        _xs, _ys, assisted = self.layout.sums[row]
        distances = self._centres[row, size]
        best = None
        for first, last in runs:
            spare = last - first + 1 - size
            for a in range(first, first + spare + 1):
                offset = a - first
                rank = (
                    assisted[a + size] == assisted[a],
                    offset == 1 or spare - offset == 1,
                    distances[a],
                    a,
                )
                if best is None or rank < best:
                    best = rank
        if best is None:
            return None
        lacking, strands, distance, first = best
        return (lacking, strands, distance, row, first, self._version[row])

    # --- measuring ----------------------------------------------------------------------------

    def stranded_singles(self) -> int:
        """Free seats alone between taken seats, aisles or a row's end (of their ticket type)."""
        layout = self.layout
        stranded = 0
        for row, (numbers, breaks) in enumerate(zip(layout.rows, layout.aisles, strict=True)):
            free = self._free_rows[row]
            for index, number in enumerate(numbers):
                if not free >> index & 1:
                    continue
                before = index > 0 and not breaks[index - 1] and self._joins(numbers[index - 1], number)
                after = (
                    index + 1 < len(numbers) and not breaks[index] and self._joins(numbers[index + 1], number)
                )
                stranded += not (before or after)
        return stranded

    def _joins(self, neighbour: int, number: int) -> bool:
        return (
            self._is_free(neighbour) and self.layout.ticket_type[neighbour] == self.layout.ticket_type[number]
        )
