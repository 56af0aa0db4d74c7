"""Each rule of best available, on small plans built for it (`core.seating.best_available`)."""

from __future__ import annotations

import pytest

from core.seating.best_available import PlanSeat, SeatPicture

STANDARD = "standard"


def row(name: str, count: int, y: float, *, x0: float = 0.0, step: float = 1.0, aisle_after: int | None = None,
        accessible: tuple[int, ...] = (), companion: tuple[int, ...] = ()) -> list[PlanSeat]:  # fmt: skip
    """A straight row of seats named `<row><n>` (1-based), with an optional aisle after seat `aisle_after`."""
    seats, x = [], x0
    for n in range(1, count + 1):
        seats.append(PlanSeat(f"{name}{n}", STANDARD, name, x, y, n in accessible, n in companion))
        x += step * (3 if n == aisle_after else 1)
    return seats


def picture(*rows: list[PlanSeat], taken: tuple[str, ...] = (), focal=(4.5, -5.0)) -> SeatPicture:
    return SeatPicture([seat for r in rows for seat in r], focal, unavailable=taken)


def test_the_first_request_gets_the_centre_of_the_front_row():
    plan = picture(row("A", 10, 0.0), row("B", 10, 1.0))
    assert plan.place(STANDARD, 2) == ("A5", "A6")
    assert plan.place(STANDARD, 1) in (("A5",), ("A6",))


def test_a_group_sits_side_by_side_in_one_row_never_across_an_aisle():
    # Row A has 3 + 3 seats either side of an aisle: a group of 4 goes to row B.
    plan = picture(row("A", 6, 0.0, aisle_after=3), row("B", 8, 1.0), focal=(3.5, -5.0))
    seats = plan.place(STANDARD, 4)
    assert seats is not None and all(seat.startswith("B") for seat in seats)
    numbers = sorted(int(seat[1:]) for seat in seats)
    assert numbers == list(range(numbers[0], numbers[0] + 4))


def test_a_row_whose_only_placement_strands_a_single_seat_is_passed_over():
    # Row A has 3 free seats (A1-A3, the rest taken): two there would strand one. Row B is farther
    # but seats the pair without stranding anyone.
    taken = ("A4", "A5", "A6", "A7", "A8")
    plan = picture(row("A", 8, 0.0), row("B", 8, 1.0), taken=taken, focal=(1.0, -1.0))
    seats = plan.place(STANDARD, 2)
    assert seats is not None and all(seat.startswith("B") for seat in seats)
    assert plan.stranded_singles() == 0


def test_within_a_row_the_placement_that_strands_nobody_wins_over_a_nearer_one():
    # Seats 2..6 of a row free: a pair centred nearest the focal point (over seat 3/4) would leave
    # seat 2 alone; the pair at 2-3 or 5-6 strands nobody.
    taken = ("A1", "A7", "A8")
    plan = picture(row("A", 8, 0.0), taken=taken, focal=(3.0, -1.0))
    seats = plan.place(STANDARD, 2)
    assert seats in (("A2", "A3"), ("A5", "A6"))


def test_stranding_is_accepted_when_no_other_placement_exists():
    plan = picture(row("A", 3, 0.0), focal=(0.0, -1.0))
    assert plan.place(STANDARD, 2) == ("A1", "A2")


def test_accessible_seats_are_kept_for_requests_that_ask_for_them():
    # The front row's middle seats are accessible (A4) with companions (A3, A5).
    plan = picture(row("A", 7, 0.0, accessible=(4,), companion=(3, 5)), row("B", 7, 1.0), focal=(3.0, -5.0))
    ordinary = plan.place(STANDARD, 2)
    assert ordinary is not None and not any(seat in ("A3", "A4", "A5") for seat in ordinary)
    assisted = plan.place(STANDARD, 2, accessible=True)
    assert assisted is not None and "A4" in assisted


def test_only_special_seats_left_means_nothing_for_an_ordinary_request():
    plan = picture(row("A", 3, 0.0, accessible=(2,), companion=(1, 3)))
    assert plan.free_for(STANDARD, accessible=False) == 0
    assert plan.place(STANDARD, 1) is None
    assert plan.place(STANDARD, 3, accessible=True) == ("A1", "A2", "A3")


def test_a_group_no_row_can_seat_together_gets_the_nearest_seats_apart_largest_part_first():
    # Two rows of 3 with one seat taken in each: 4 people cannot sit together anywhere.
    plan = picture(row("A", 3, 0.0), row("B", 3, 1.0), taken=("A1", "B3"), focal=(1.0, -5.0))
    seats = plan.place(STANDARD, 4)
    assert seats is not None and sorted(seats) == ["A2", "A3", "B1", "B2"]
    assert plan.free == {"A2", "A3", "B1", "B2"}  # placing does not take


def test_more_than_is_free_gets_nothing():
    plan = picture(row("A", 4, 0.0), taken=("A1", "A2"))
    assert plan.place(STANDARD, 3) is None


def test_seats_of_another_ticket_type_are_never_given():
    vip = [PlanSeat(f"V{n}", "vip", "V", float(n), 0.0) for n in range(4)]
    plan = SeatPicture(vip + row("A", 4, 1.0), (1.5, -5.0))
    seats = plan.place(STANDARD, 2)
    assert seats is not None and all(seat.startswith("A") for seat in seats)
    assert plan.place("vip", 2) in (("V0", "V1"), ("V2", "V3"))  # the middle pair would strand two


def test_taking_and_releasing_move_the_answer():
    plan = picture(row("A", 4, 0.0), row("B", 4, 1.0), focal=(1.5, -5.0))
    first = plan.place(STANDARD, 4)
    assert first == ("A1", "A2", "A3", "A4")
    plan.take(first)
    assert plan.place(STANDARD, 4) == ("B1", "B2", "B3", "B4")
    plan.release(["A1", "A2", "A3", "A4"])
    assert plan.place(STANDARD, 4) == first


def test_taking_a_seat_that_is_not_free_takes_none_of_the_group():
    plan = picture(row("A", 4, 0.0), taken=("A3",))
    with pytest.raises(ValueError):
        plan.take(["A1", "A2", "A3"])
    with pytest.raises(ValueError):
        plan.take(["A1", "A1"])
    assert plan.free == {"A1", "A2", "A4"}


def test_stranded_singles_are_counted_per_run():
    plan = picture(row("A", 5, 0.0), taken=("A2", "A4"))
    assert plan.stranded_singles() == 3
