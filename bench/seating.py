"""The seating benchmark: best available beside general admission, and stranded seats at sell-out.

Both measurements compare with a reference taken in the same run (docs/seating.md, "Figures"):

- engine: decisions per second of the allocation engine (`drain_event_queue`, in this process,
  batches of 1,000, PostgreSQL and Redis for real) on a 20,000-seat stadium plan, for a flash
  sale of groups of 1 to 6 asking for best available, beside the very same requests on a
  general-admission event of 20,000 tickets (goal: at least half its rate), with the CPU a
  decision cost the drainer's process and PostgreSQL's processes serving the bench's database
  (when they run on this machine) for each: rates move with whatever else the machine runs,
  CPU much less. The seated drain includes everything seats cost: reading the plan under the
  lock, choosing, writing the assignments, and publishing the seat map into Redis after each
  batch. The two events are queued and drained alternately, a batch at a time, so that both see
  the same load on a shared machine.
- placement: the same stadium sold to a stream of groups (1 to 6, few singles), each seated
  together, by best available and by a naive first-fit (the first row, from the left, with
  enough seats side by side), until the first group no row can seat together (sell-out for
  groups); the free seats then left alone between taken seats, aisles or row ends, as a share
  of the house (goal: fewer than first-fit, and under 1 %), and the share of the house sold.

    python -m bench.seating            # the full run
    python -m bench.seating --quick    # a tenth of the engine's load
"""

from __future__ import annotations

import argparse
import random
import time
import uuid

from bench import report, servers
from bench.flash_sale import DEFAULT_DSN, DEFAULT_REDIS_URL, Bench
from core import cycle_collector, runtime
from core.inventory import Line
from core.models import Event, TicketType, User, utcnow
from core.seating import plans
from core.seating.best_available import PlanSeat, SeatPicture
from core.services import allocation, bookings

SECTIONS, ROWS, SEATS_PER_ROW = 8, 50, 50  # 20,000 seats
GROUP_SIZES = (1, 2, 3, 4, 5, 6)
GROUP_WEIGHTS = (5, 35, 15, 25, 10, 10)  # a flash sale: pairs and families, few singles
BATCH = 1000


def stadium(ticket_type_id) -> list[dict]:
    """Eight stands side by side, 50 rows of 50 seats each, an aisle between stands."""
    return [{"name": f"Stand {index + 1}", "rows": ROWS, "seats_per_row": SEATS_PER_ROW,
             "ticket_type_id": ticket_type_id, "origin": {"x": index * (SEATS_PER_ROW + 3), "y": 0.0}}
            for index in range(SECTIONS)]  # fmt: skip


def focal_point() -> dict:
    return {"x": (SECTIONS * (SEATS_PER_ROW + 3) - 3) / 2, "y": -10.0}


def groups(count: int, seed: int) -> list[int]:
    return random.Random(seed).choices(GROUP_SIZES, GROUP_WEIGHTS, k=count)


# --- engine: best available beside general admission ------------------------------------------


def seated_event(bench: Bench, organizer: User) -> tuple[uuid.UUID, uuid.UUID]:
    event_id, ticket_type_id = bench.event(quota=0, title="Stadium")
    with bench.db.unit_of_work() as uow:
        uow.session.get(TicketType, ticket_type_id).seated = True
        uow.session.get(Event, event_id).max_per_booking = 6
        uow.commit()
    with bench.db.unit_of_work() as uow:
        plans.put_plan(
            uow, organizer, event_id, {"focal_point": focal_point(), "sections": stadium(ticket_type_id)}
        )
        uow.commit()
    return event_id, ticket_type_id


def queue_requests(bench: Bench, event_id, ticket_type_id, sizes: list[int]) -> None:
    for (user_id, _), size in zip(bench.customers(len(sizes)), sizes, strict=True):
        ask = bookings.BookingAsk(event_id, (Line(ticket_type_id, size),))
        bookings.request_booking(runtime.database(), user_id, ask, session_id="b")


def drain_time(event_id, requests: int) -> float:
    """Seconds to drain the event's whole queue of `requests` (a drain that lost its lock after
    a slow batch is simply continued, as the sweep would). What the run has set up so far is
    set aside from the cycle collector's walks first, as a worker process sets aside its start-up
    (`core.cycle_collector`)."""
    cycle_collector.set_aside_start_up()
    decided = 0
    started = time.perf_counter()
    while decided < requests:
        decided += allocation.drain_event_queue(runtime.database(), event_id, batch_size=BATCH).decided
    return time.perf_counter() - started


def measure_engine(bench: Bench, organizer: User, requests: int) -> list[report.Figure]:
    sizes = groups(requests, seed=1)
    general, general_type = bench.event(quota=SECTIONS * ROWS * SEATS_PER_ROW, title="General admission")
    with bench.db.unit_of_work() as uow:
        uow.session.get(Event, general).max_per_booking = 6
        uow.commit()
    seated, seated_type = seated_event(bench, organizer)
    # Per event: wall seconds, the drainer's CPU seconds, PostgreSQL's (0: not this machine's).
    spent = {general: [0.0, 0.0, 0.0], seated: [0.0, 0.0, 0.0]}
    for start in range(0, requests, BATCH):
        chunk = sizes[start : start + BATCH]
        for event_id, ticket_type_id in ((general, general_type), (seated, seated_type)):
            queue_requests(bench, event_id, ticket_type_id, chunk)
            with servers.drain_cpu(bench.libpq_dsn) as cpu:
                spent[event_id][0] += drain_time(event_id, len(chunk))
            spent[event_id][1] += cpu.drainer
            spent[event_id][2] += cpu.postgres or 0.0
    (wall, client, server), (general_wall, general_client, general_server) = spent[seated], spent[general]
    figures = [
        report.Figure("best available, decisions per second (20,000-seat plan)", requests / wall, "decisions/s",
                      reference=requests / general_wall),
        report.Figure("best available, the drainer's CPU per decision", client / requests * 1e6, "µs",
                      reference=general_client / requests * 1e6),
    ]  # fmt: skip
    if server:
        figures.append(report.Figure("best available, PostgreSQL's CPU per decision", server / requests * 1e6, "µs",
                                     reference=general_server / requests * 1e6))  # fmt: skip
    return figures


# --- placement: stranded single seats at sell-out ----------------------------------------------


def stadium_picture() -> SeatPicture:
    seats = []
    for stand in range(SECTIONS):
        for row in range(ROWS):
            for number in range(SEATS_PER_ROW):
                seats.append(PlanSeat((stand, row, number), "t", (stand, row),
                                      stand * (SEATS_PER_ROW + 3) + number, float(row)))  # fmt: skip
    focal = focal_point()
    return SeatPicture(seats, (focal["x"], focal["y"]))


def first_fit(picture: SeatPicture, size: int):
    """The naive placement: the first row in plan order, from the left, with `size` free seats
    side by side."""
    for row in picture.rows:
        run = []
        for seat in row:
            run = [*run, seat.id] if picture.is_free(seat.id) else []
            if len(run) == size:
                return run
    return None


def sell_out(place, stream: list[int]) -> tuple[int, int]:
    """Seat the stream of groups with `place`, together, until the first group that cannot
    sit together is turned away: the sale is sold out for groups. (stranded, sold) then."""
    picture = stadium_picture()
    for size in stream:
        seats = place(picture, size)
        if not seats:
            break
        picture.take(seats)
    house = len(picture.layout.seats)
    return picture.stranded_singles(), house - picture.free_for("t", False)


def best_available(picture: SeatPicture, size: int):
    placement = picture.best_together("t", size)
    return placement.seat_ids if placement else None


def measure_placement() -> tuple[list[report.Figure], dict]:
    house = SECTIONS * ROWS * SEATS_PER_ROW
    stream = groups(int(house * 1.2 / 3.4), seed=2)  # 1.2 times the house in seats asked for
    started = time.perf_counter()
    stranded, sold = sell_out(best_available, stream)
    placement_rate = len(stream) / (time.perf_counter() - started)
    naive_stranded, naive_sold = sell_out(first_fit, stream)
    figures = [
        report.Figure("stranded single seats at sell-out, best available (% of house)", 100 * stranded / house,
                      "%", reference=100 * naive_stranded / house),
        report.Figure("seats sold at sell-out, best available (% of house)", 100 * sold / house, "%",
                      reference=100 * naive_sold / house),
    ]  # fmt: skip
    details = {"house": house, "groups": len(stream), "stranded_best_available": stranded,
               "stranded_first_fit": naive_stranded, "sold_best_available": sold, "sold_first_fit": naive_sold,
               "placements_per_second_pure": placement_rate}  # fmt: skip
    return figures, details


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", default=DEFAULT_DSN.replace("boxoffice_bench", "boxoffice_bench_seating"))
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--quick", action="store_true", help="a tenth of the engine's load")
    args = parser.parse_args()
    bench = Bench(args.dsn, args.redis_url)
    runtime.set_dispatcher(lambda _job, _kwargs: None)  # the drains run here; follow-up jobs are not measured
    with bench.db.unit_of_work() as uow:
        organizer = User(email="organizer@bench.test", password_hash="-", name="Olga", role="organizer",
                         organization_id=bench.organization_id, created_at=utcnow())  # fmt: skip
        uow.session.add(organizer)
        uow.commit()
    engine = measure_engine(bench, organizer, 500 if args.quick else 5000)
    placement, details = measure_placement()
    figures = engine + placement
    report.print_table(figures, "Reserved seating (references: general admission; naive first-fit)")
    path = report.write_result(
        "seating", figures, details=details, dsn=bench.libpq_dsn, redis_url=args.redis_url
    )
    print(f"saved {path}")


if __name__ == "__main__":
    main()
