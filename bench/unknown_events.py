"""Booking requests for event ids nobody has must not grow the web processes' memory.

Sends 100,000 `POST /api/v1/bookings` for random unknown event ids to the API under gunicorn
(the API's benchmark settings: two workers) and reads each worker's resident memory before and
after. The reference is the same number of booking-sized requests to the bare Flask endpoint
under the same gunicorn settings, whose growth is what serving requests costs anyway. An
unbounded cache of unknown ids grows by tens of MB here; a bounded one stays within a few.

    python -m bench.unknown_events [--requests N]
"""

from __future__ import annotations

import argparse
import functools
import os
import uuid
from pathlib import Path

from bench import loadgen, references, report, servers
from bench.flash_sale import DEFAULT_DSN, DEFAULT_REDIS_URL, Bench
from bench.reference_app import booking_sized_body

CONCURRENCY = 32
LOAD_PROCESSES = 2
WARM_UP = 2_000


def unknown_event_request(tokens: list[str], i: int) -> loadgen.Request:
    """Request i: a booking for an event id that exists nowhere (each one different)."""
    body = booking_sized_body(i)
    body["event_id"] = str(uuid.uuid4())
    return loadgen.Request(
        "POST",
        "/api/v1/bookings",
        headers={"Authorization": f"Bearer {tokens[i % len(tokens)]}"},
        json=body,
    )


def worker_rss_kib(master_pid: int) -> dict[int, int]:
    """Resident memory (KiB) of each gunicorn worker, found as the master's children."""
    rss = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(fields["PPid"].strip()) == master_pid and "VmRSS" in fields:
            rss[int(entry.name)] = int(fields["VmRSS"].split()[0])
    return rss


def growth_mib(server: servers.Server, make_request, requests: int) -> tuple[float, dict]:
    """The largest growth of any worker's memory over `requests` requests, after a warm-up."""
    pid = server.running.process.pid
    loadgen.run_load(server.url, make_request, WARM_UP, concurrency=CONCURRENCY, processes=LOAD_PROCESSES)
    before = worker_rss_kib(pid)
    load = loadgen.run_load(
        server.url, make_request, requests, concurrency=CONCURRENCY, processes=LOAD_PROCESSES, time_limit=600
    )
    after = worker_rss_kib(pid)
    grown = {worker: (after[worker] - before[worker]) / 1024 for worker in before if worker in after}
    details = {"before_kib": before, "after_kib": after, "statuses": load.statuses, "elapsed": load.elapsed}
    return max(grown.values()), details


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.unknown_events", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--dsn", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DSN))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL))
    parser.add_argument("--requests", type=int, default=100_000)
    args = parser.parse_args(argv)
    bench = Bench(args.dsn, args.redis_url)
    tokens = [token for _, token in bench.customers(1000)]
    with servers.gunicorn("bench.reference_app:create_app()", ready_path="/ref", env=bench.env) as reference:
        reference_growth, reference_details = growth_mib(
            reference, references.reference_request, args.requests
        )
    with servers.gunicorn("api:create_app()", ready_path="/healthz", env=bench.env) as api:
        api_growth, api_details = growth_mib(
            api, functools.partial(unknown_event_request, tokens), args.requests
        )
    refused = api_details["statuses"].get(404, 0)
    figures = [
        report.Figure("largest worker growth, MiB (ref: bare Flask's)", api_growth, "MiB", reference_growth),
        report.Figure("requests refused 404 (unknown event)", refused, "", args.requests),
    ]
    report.print_table(figures, f"{args.requests:,} booking requests for random unknown events")
    details = {"api": api_details, "reference": reference_details, "concurrency": CONCURRENCY}
    path = report.write_result(
        "unknown_events", figures, details=details, dsn=bench.libpq_dsn, redis_url=args.redis_url
    )
    print(f"wrote {path.relative_to(servers.REPO_ROOT)}")


if __name__ == "__main__":
    main()
