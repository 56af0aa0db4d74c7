"""The seat map as a person sees it: the SVG opened in headless Chromium, a screenshot kept in
the test's output, and the right number of seats drawn in each colour, for the public and for
the event's organizers."""

from __future__ import annotations

from collections import Counter

from core.seating.seat_map import COLOURS
from core.statuses import SeatStatus
from tests.integration.booking_helpers import drain
from tests.integration.payment_helpers import pay_on_local_page
from tests.integration.seating_helpers import ask_seats, lay_out, seat_ids
from tests.jobs import run_jobs


def theatre(make_event, organizer):
    """Stalls of 6 rows of 12 with accessible places at the front, and a balcony of 3 rows of 14."""
    event = make_event(organizer, ticket_types=[{"name": "Stalls", "price": 2500, "quota": 0, "seated": True},
                                                {"name": "Balcony", "price": 1500, "quota": 0, "seated": True}])  # fmt: skip
    stalls, balcony = (tt.id for tt in event.ticket_types)
    lay_out(event, organizer, [
        {"name": "Stalls", "rows": 6, "seats_per_row": 12, "ticket_type_id": stalls, "origin": {"x": 1.0, "y": 0.0}},
        {"name": "Balcony", "rows": 3, "seats_per_row": 14, "ticket_type_id": balcony, "origin": {"x": 0.0, "y": 8.0}},
    ], focal=(6.5, -3.0))  # fmt: skip
    return event


def drawn(page) -> Counter:
    """Seats drawn, by the colour Chromium painted them (computed style, as `rgb(...)`)."""
    fills = page.eval_on_selector_all("circle[data-seat-id]", "els => els.map(e => getComputedStyle(e).fill)")
    return Counter(fills)


def rgb(colour: str) -> str:
    return "rgb({}, {}, {})".format(*(int(colour[i : i + 2], 16) for i in (1, 3, 5)))


def test_the_seat_map_in_chromium_has_each_seat_in_its_colour(db, organizer, make_event, make_user, auth_header,
                                                               live_server, browser_page, browser_log, tmp_path):  # fmt: skip
    event = theatre(make_event, organizer)
    ids = seat_ids(db, event)
    held = [ask_seats(make_user(), event, 4) for _ in range(3)]  # 12 stalls held
    drain(event)
    run_jobs("prepare_checkouts")
    pay_on_local_page(db, held[0])  # 4 of them sold
    run_jobs("process_webhook_event")
    from core import runtime
    from core.seating import plans

    with runtime.database().unit_of_work() as uow:
        plans.block_seats(
            uow, uow.session.merge(organizer), event.id, [ids[("F", "1")], ids[("F", "12")]], True
        )
        uow.commit()

    url = f"{live_server}/api/v1/events/{event.id}/seatmap.svg"
    browser_page.goto(url)
    public = drawn(browser_page)
    browser_page.screenshot(path=str(tmp_path / "seatmap-public.png"))
    assert public == {
        rgb(COLOURS[SeatStatus.AVAILABLE]): 72 + 42 - 12 - 2,
        rgb(COLOURS[SeatStatus.UNAVAILABLE]): 14,
    }

    browser_page.set_extra_http_headers(auth_header(organizer))
    browser_page.goto(url)
    staff = drawn(browser_page)
    shot = tmp_path / "seatmap-staff.png"
    browser_page.screenshot(path=str(shot))
    print(f"seat map screenshots: {tmp_path / 'seatmap-public.png'} {shot}")
    assert staff == {
        rgb(COLOURS[SeatStatus.AVAILABLE]): 100,
        rgb(COLOURS[SeatStatus.HELD]): 8,
        rgb(COLOURS[SeatStatus.SOLD]): 4,
        rgb(COLOURS[SeatStatus.BLOCKED]): 2,
    }
    labels = browser_page.eval_on_selector_all("text", "els => els.map(e => e.textContent)")
    assert {"STAGE", "Stalls", "Balcony", "A", "F"} <= set(labels)
    assert browser_log.errors == [] and browser_log.blocked == []
