"""Best available's fast placement (`core.seating.best_available`: bit masks of free seats, cached
runs, per-size heaps, distances kept per plan) gives exactly the seats a brute-force reading of
the rules (docs/seating.md, "Best available") gives, on random small plans, through a sequence of
takes and releases that exercises every cache it keeps."""

from __future__ import annotations

import math
import statistics

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.seating.best_available import Layout, PlanSeat, SeatPicture

TYPES = ("standard", "vip")


# --- the reference: every placement of the house, ranked by the rules as written -------------


def reference_aisles(row: list[PlanSeat]) -> list[bool]:
    steps = [math.dist((a.x, a.y), (b.x, b.y)) for a, b in zip(row, row[1:], strict=False)]
    return [step > statistics.median(steps) * 1.5 for step in steps] if steps else []


def reference_best_together(rows, free: set, focal, ticket_type, size: int, accessible: bool):
    """Every window of `size` seats of every row, kept if its seats are free, of the type, open
    to the request and without an aisle inside; ranked by (lacking an accessible seat, stranding
    a single seat, the centre's distance to the focal point, row, first seat)."""

    def usable(row, place) -> bool:
        seat = row[place]
        return seat.id in free and seat.ticket_type_id == ticket_type and (accessible or not seat.special)

    best = None
    for row_number, row in enumerate(rows):
        breaks = reference_aisles(row)

        def joined(place, neighbour, row=row, breaks=breaks) -> bool:
            """Whether usable seats `place` and `neighbour` sit side by side without an aisle."""
            if not 0 <= neighbour < len(row) or not usable(row, neighbour):
                return False
            return not breaks[min(place, neighbour)]

        for first in range(len(row) - size + 1):
            window = range(first, first + size)
            if not all(usable(row, p) for p in window) or any(breaks[p] for p in window[:-1]):
                continue
            last = first + size - 1
            # A usable seat just outside the group, with no usable seat beyond it, is stranded.
            strands = (joined(first, first - 1) and not joined(first - 1, first - 2)) or (
                joined(last, last + 1) and not joined(last + 1, last + 2)
            )
            seats = [row[p] for p in window]
            centre = (sum(s.x for s in seats) / size, sum(s.y for s in seats) / size)
            lacking = accessible and not any(s.accessible for s in seats)
            rank = (
                lacking,
                strands,
                math.hypot(centre[0] - focal[0], centre[1] - focal[1]),
                row_number,
                first,
            )
            if best is None or rank < best[0]:
                best = (rank, tuple(s.id for s in seats))
    return None if best is None else best[1]


def reference_place(rows, free: set, focal, ticket_type, size: int, accessible: bool):
    """Together if any row can; else the largest part that sits together, then the rest."""
    open_to = [s for row in rows for s in row
               if s.id in free and s.ticket_type_id == ticket_type and (accessible or not s.special)]  # fmt: skip
    if len(open_to) < size:
        return None
    left, chosen = set(free), []
    while len(chosen) < size:
        for part in range(size - len(chosen), 0, -1):
            found = reference_best_together(rows, left, focal, ticket_type, part, accessible)
            if found is not None:
                chosen.extend(found)
                left -= set(found)
                break
    return tuple(chosen)


# --- random small plans ------------------------------------------------------------------------


@st.composite
def plans(draw):
    rows = []
    for row_number in range(draw(st.integers(1, 4))):
        x, row = draw(st.integers(-3, 3)), []
        for place in range(draw(st.integers(1, 9))):
            x += draw(st.sampled_from((1, 1, 1, 1, 3)))  # now and then an aisle
            kind = draw(st.sampled_from(("plain",) * 6 + ("accessible", "companion")))
            ticket_type = draw(st.sampled_from(TYPES[:1] * 5 + TYPES[1:]))
            # Now and then a seat out of line: rows whose distances do not just fall then rise.
            y = row_number + draw(st.sampled_from((0.0,) * 6 + (0.5, -0.5, 1.0)))
            row.append(PlanSeat(f"{row_number}-{place}", ticket_type, row_number, float(x), y,
                                kind == "accessible", kind == "companion"))  # fmt: skip
        rows.append(row)
    seats = [seat for row in rows for seat in row]
    taken = draw(st.sets(st.sampled_from([s.id for s in seats])))
    focal = (float(draw(st.integers(-2, 12))), float(draw(st.integers(-5, 0))))
    steps = draw(st.lists(st.tuples(st.integers(1, 5), st.booleans(), st.sampled_from(TYPES),
                                    st.integers(0, 3)), min_size=1, max_size=25))  # fmt: skip
    return rows, taken, focal, steps


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans())
def test_the_fast_placement_is_the_brute_force_placement(plan):
    rows, taken, focal, steps = plan
    picture = SeatPicture([seat for row in rows for seat in row], focal, unavailable=taken)
    free = {seat.id for row in rows for seat in row} - taken
    given_out: list[tuple] = []
    for size, accessible, ticket_type, give_back in steps:
        expected = reference_place(rows, free, focal, ticket_type, size, accessible)
        assert picture.place(ticket_type, size, accessible) == expected
        together = picture.best_together(ticket_type, size, accessible)
        assert (together and together.seat_ids) == reference_best_together(
            rows, free, focal, ticket_type, size, accessible
        )
        if expected is not None:
            picture.take(expected)
            free -= set(expected)
            given_out.append(expected)
        if give_back and given_out:  # a hold ran out: its seats come back
            returned = given_out.pop(give_back % len(given_out))
            picture.release(returned)
            free |= set(returned)
        assert picture.free == free


# --- one run of free seats, against each of its starts ------------------------------------------


def reference_best_in_run(seats: list[PlanSeat], focal, size: int, first: int, last: int) -> tuple:
    """(strands a single seat, distance, first seat) of the best group of `size` among the free
    seats `first`..`last` of a row, every start weighed."""
    spare = last - first + 1 - size
    return min(
        (
            offset == 1 or spare - offset == 1,
            math.hypot(sum(s.x for s in seats[a : a + size]) / size - focal[0],
                       sum(s.y for s in seats[a : a + size]) / size - focal[1]),
            a,
        )
        for offset, a in enumerate(range(first, first + spare + 1))
    )  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from((1, 1, 2)), st.sampled_from((0.0, 0.0, 0.5, -0.5, 1.0, 2.0))),
             min_size=1, max_size=16),
    st.tuples(st.integers(-4, 24), st.integers(-6, 3)),
)  # fmt: skip
def test_a_runs_best_start_is_the_best_of_all_its_starts(steps, focal):
    """The best start `Centres` finds in a run without reading it all (where the row's distances
    fall, then rise) is the start a reading of every start finds, on rows straight or not."""
    seats, x = [], 0
    for place, (step, y) in enumerate(steps):
        x += step
        seats.append(PlanSeat(place, "standard", "A", float(x), y))
    focal = (float(focal[0]), float(focal[1]))
    centres = Layout(seats).centres(focal)
    for size in range(1, 7):
        for first in range(len(seats)):
            for last in range(first + size - 1, len(seats)):
                expected = reference_best_in_run(seats, focal, size, first, last)
                assert centres.best_in_run(0, size, (first, last)) == expected


def test_of_equal_distances_on_the_way_to_the_nearest_seat_the_first_wins():
    # Distances 7, 6, 5, 5, 5, 3, 8 from the focal point: seats 2 to 4 as far as each other.
    places = [(0, 7), (0, 6), (3, 4), (4, 3), (5, 0), (3, 0), (8, 0)]
    seats = [PlanSeat(n, "standard", "A", float(x), float(y)) for n, (x, y) in enumerate(places)]
    centres = Layout(seats).centres((0.0, 0.0))
    assert (
        centres.best_in_run(0, 1, (0, 6))
        == (False, 5.0, 2)
        == reference_best_in_run(seats, (0.0, 0.0), 1, 0, 6)
    )
