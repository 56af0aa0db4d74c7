"""What a batch of new holds' checkouts costs: the job as it runs after every batch
(`core.services.checkouts.prepare_checkouts`, two transactions for the batch) beside the same
checkouts opened one booking at a time (`ensure_checkout`, two transactions each), in the same
run, on the same database, with the local payment provider (sessions in Redis, so what is
measured is ours: the ORM, the transactions, the commits).

Per hold: this process's CPU (the worker's share of the machine in a rush, taken from the web's
requests) and the wall time (PostgreSQL's commits included). The holds come from the engine:
requests queued through the API's own code, then decided by `drain_event_queue`.

    python -m bench.checkouts [--holds 1000] [--batch 25]
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from collections.abc import Callable

from bench import report, servers
from bench.flash_sale import DEFAULT_DSN, DEFAULT_REDIS_URL, Bench
from core import runtime
from core.services import allocation, checkouts


def held_bookings(bench: Bench, holds: int) -> list[str]:
    """`holds` bookings held by the engine, their checkout jobs caught rather than run."""
    event_id, ticket_type_id = bench.event(holds, "Checkouts")
    bench.prefill(event_id, ticket_type_id, bench.customers(holds))
    jobs: list[dict] = []
    runtime.set_dispatcher(lambda _job, kwargs: jobs.append(kwargs))
    while allocation.drain_event_queue(runtime.database(), event_id).decided:
        pass
    return [booking_id for kwargs in jobs for booking_id in kwargs.get("booking_ids", [])]


def per_hold(open_checkouts: Callable[[list[str]], None], ids: list[str]) -> tuple[float, float]:
    """(CPU ms, wall ms) per hold of opening every checkout of `ids`."""
    cpu, wall = time.process_time(), time.perf_counter()
    open_checkouts(ids)
    return (time.process_time() - cpu) * 1000 / len(ids), (time.perf_counter() - wall) * 1000 / len(ids)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.checkouts", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DSN))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL))
    parser.add_argument("--holds", type=int, default=1000, help="holds in each series")
    parser.add_argument("--batch", type=int, default=25, help="holds per job (a sale's batch: 25)")
    args = parser.parse_args(argv)
    bench = Bench(args.dsn, args.redis_url)
    db = runtime.database()
    one_at_a_time = held_bookings(bench, args.holds)
    batched = held_bookings(bench, args.holds)

    def each_alone(ids: list[str]) -> None:
        for booking_id in ids:
            checkouts.ensure_checkout(db, uuid.UUID(booking_id))

    def in_jobs(ids: list[str]) -> None:
        for start in range(0, len(ids), args.batch):
            checkouts.prepare_checkouts(db, ids[start : start + args.batch])

    alone_cpu, alone_wall = per_hold(each_alone, one_at_a_time)
    job_cpu, job_wall = per_hold(in_jobs, batched)
    figures = [
        report.Figure(f"checkouts in jobs of {args.batch}: CPU per hold (ref: one at a time)", job_cpu, "ms",
                      alone_cpu),
        report.Figure(f"checkouts in jobs of {args.batch}: wall time per hold (ref: one at a time)", job_wall,
                      "ms", alone_wall),
    ]  # fmt: skip
    report.print_table(figures, f"Opening {args.holds:,} holds' checkouts")
    path = report.write_result(
        "checkouts",
        figures,
        details={"holds": args.holds, "batch": args.batch},
        dsn=bench.libpq_dsn,
        redis_url=args.redis_url,
    )
    print(f"wrote {path.relative_to(servers.REPO_ROOT)}")


if __name__ == "__main__":
    main()
