"""The engine benchmark: how near the allocation engine comes to what PostgreSQL allows.

Three series, each a queue pre-filled through the API's own code and drained by the engine as a
worker drains it (`drain_event_queue`, batches of 1,000, in this process, PostgreSQL and Redis
for real):

- general admission: 20,000 requests for 2,000 tickets, the rest joining the waitlist;
- vouchers: 20,000 requests for 20,000 tickets, every one carrying a code good for half of them
  (both redemption and exhaustion are decided);
- best available: 5,000 groups of 1 to 6 on a 20,000-seat stadium plan (`bench.seating`).

Each is compared with two references measured beside it, in the same run:

- one-row conditional UPDATEs, one per transaction, from one and from two connections (the
  better is kept): the ceiling of deciding one booking per transaction (`bench.references`);
- bare COPY: the very rows the engine wrote (bookings, their lines, seat assignments), read
  back, deleted, and written again by COPY alone (in its binary format, as the engine writes
  them), one transaction per thousand bookings: the limit of any engine that must write those
  rows.

Goals (docs/benchmarks.md): the engine at 5× the UPDATE reference or more, and within 3× of
bare COPY, in every series.

Rates move with whatever else the machine runs; CPU hardly does. Beside each rate the run gives
the CPU a decision cost the drainer's process and, when PostgreSQL runs on this machine, its
server processes for the bench's database (the drainer's connections), over the same drain.

    python -m bench.engine            # the full run
    python -m bench.engine --quick    # a tenth of the requests
"""

from __future__ import annotations

import argparse
import io
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import psycopg2

from bench import references, report, seating, servers
from bench.flash_sale import DEFAULT_DSN, DEFAULT_REDIS_URL, Bench
from core.models import User, utcnow

BATCH = 1000
UPDATES = 3000  # one-row UPDATE transactions per reference: about a second


@dataclass(frozen=True)
class Series:
    name: str
    requests: int
    # Fills the queue of a new event and returns the event's id.
    fill: Callable[[Bench, User, int], uuid.UUID]


def general_admission(bench: Bench, organizer: User, requests: int) -> uuid.UUID:
    event_id, ticket_type_id = bench.event(requests // 10, "Engine: general admission")
    bench.prefill(event_id, ticket_type_id, bench.customers(requests))
    return event_id


def vouchers(bench: Bench, organizer: User, requests: int) -> uuid.UUID:
    event_id, ticket_type_id = bench.event(requests, "Engine: vouchers")
    bench.voucher(event_id, "RUSH", requests // 2)
    bench.prefill(event_id, ticket_type_id, bench.customers(requests), voucher_code="RUSH")
    return event_id


def best_available(bench: Bench, organizer: User, requests: int) -> uuid.UUID:
    event_id, ticket_type_id = seating.seated_event(bench, organizer)
    seating.queue_requests(bench, event_id, ticket_type_id, seating.groups(requests, seed=1))
    return event_id


SERIES = [
    Series("general admission", 20_000, general_admission),
    Series("vouchers", 20_000, vouchers),
    Series("best available", 5_000, best_available),
]

# What an event's decided rows are, table by table, in the order COPY must write them (a line
# and a seat assignment name their booking), for one chunk of bookings by queue number.
_ROWS = {
    "booking": "SELECT * FROM booking WHERE event_id = %(event)s AND queue_seq BETWEEN %(low)s AND %(high)s",
    "booking_line": "SELECT l.* FROM booking_line l JOIN booking b ON b.id = l.booking_id"
    " WHERE b.event_id = %(event)s AND b.queue_seq BETWEEN %(low)s AND %(high)s",
    "seat_assignment": "SELECT a.* FROM seat_assignment a JOIN booking b ON b.id = a.booking_id"
    " WHERE b.event_id = %(event)s AND b.queue_seq BETWEEN %(low)s AND %(high)s",
}


def bare_copy_rate(dsn: str, event_id: uuid.UUID) -> float:
    """Bookings per second that COPY alone writes, the event's rows written again as they were,
    in COPY's binary format as the engine writes them, one transaction per `BATCH` bookings (the
    engine's batches)."""
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT queue_seq FROM booking WHERE event_id = %s ORDER BY queue_seq", (str(event_id),)
            )
            seqs = [seq for (seq,) in cur.fetchall()]
            chunks = []
            for start in range(0, len(seqs), BATCH):
                bounds = {
                    "event": str(event_id),
                    "low": seqs[start],
                    "high": seqs[min(start + BATCH, len(seqs)) - 1],
                }
                copies = {}
                for table, query in _ROWS.items():
                    buffer = io.BytesIO()
                    statement = cur.mogrify(f"COPY ({query}) TO STDOUT (FORMAT binary)", bounds).decode()
                    cur.copy_expert(statement, buffer)
                    if cur.rowcount:  # a table without rows here (no seats) is not written
                        copies[table] = buffer.getvalue()
                chunks.append(copies)
            # Lines and seat assignments go with their bookings (ON DELETE CASCADE).
            cur.execute("DELETE FROM booking WHERE event_id = %s", (str(event_id),))
            conn.commit()
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f"VACUUM ANALYZE {', '.join(_ROWS)}")
        conn.autocommit = False
        with conn.cursor() as cur:
            started = time.perf_counter()
            for copies in chunks:
                for table, data in copies.items():
                    cur.copy_expert(f"COPY {table} FROM STDIN (FORMAT binary)", io.BytesIO(data))
                conn.commit()
            elapsed = time.perf_counter() - started
    finally:
        conn.close()
    return len(seqs) / elapsed


def update_reference(dsn: str) -> float:
    """One-row conditional UPDATE transactions per second, the better of one and two connections."""
    updates = references.measure_pg_conditional_updates(dsn, UPDATES)
    return max(updates.one_connection.transactions_per_s, updates.two_connections.transactions_per_s)


def measure(bench: Bench, organizer: User, series: Series, requests: int) -> tuple[list[report.Figure], dict]:
    event_id = series.fill(bench, organizer, requests)
    update_rate = update_reference(bench.libpq_dsn)
    with servers.drain_cpu(bench.libpq_dsn) as cpu:
        engine_rate = requests / seating.drain_time(event_id, requests)
    client = cpu.drainer / requests * 1e6
    server = None if cpu.postgres is None else cpu.postgres / requests * 1e6
    copy_rate = bare_copy_rate(bench.libpq_dsn, event_id)
    bench.clear_queues()
    figures = [
        report.Figure(f"engine, {series.name}: decisions/s (ref: PG 1-row UPDATE txn/s)", engine_rate, "1/s",
                      update_rate),
        report.Figure(f"bare COPY of the same rows, {series.name}: bookings/s (ref: the engine)", copy_rate, "1/s",
                      engine_rate),
        report.Figure(f"engine, {series.name}: the drainer's CPU per decision", client, "µs"),
    ]  # fmt: skip
    if server is not None:
        figures.append(report.Figure(f"engine, {series.name}: PostgreSQL's CPU per decision", server, "µs"))
    details = {
        "requests": requests,
        "engine": engine_rate,
        "update_reference": update_rate,
        "bare_copy": copy_rate,
        "client_cpu_us_per_decision": client,
        "server_cpu_us_per_decision": server,
    }
    return figures, details


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.engine", description=__doc__.split("\n\n")[0])
    default_dsn = DEFAULT_DSN.replace("boxoffice_bench", "boxoffice_bench_engine")
    parser.add_argument("--dsn", default=os.environ.get("BENCH_DATABASE_URL", default_dsn))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL))
    parser.add_argument("--quick", action="store_true", help="a tenth of the requests")
    parser.add_argument("--only", nargs="+", choices=[s.name for s in SERIES], metavar="SERIES",
                        help="run only these series, of: " + ", ".join(repr(s.name) for s in SERIES))  # fmt: skip
    args = parser.parse_args(argv)
    bench = Bench(args.dsn, args.redis_url)
    with bench.db.unit_of_work() as uow:
        organizer = User(email="organizer@bench.test", password_hash="-", name="Olga", role="organizer",
                         organization_id=bench.organization_id, created_at=utcnow())  # fmt: skip
        uow.session.add(organizer)
        uow.commit()
    figures, details = [], {"batch": BATCH}
    for series in SERIES:
        if args.only and series.name not in args.only:
            continue
        requests = series.requests // 10 if args.quick else series.requests
        series_figures, details[series.name] = measure(bench, organizer, series, requests)
        figures += series_figures
    report.print_table(figures, f"Engine ({'quick' if args.quick else 'full'} scale)")
    name = "engine_quick" if args.quick else "engine"
    path = report.write_result(name, figures, details=details, dsn=bench.libpq_dsn, redis_url=args.redis_url)
    print(f"wrote {path.relative_to(servers.REPO_ROOT)}")


if __name__ == "__main__":
    main()
