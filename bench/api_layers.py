"""Where the booking endpoint's time goes: the same load against apps that stop at each layer.

1. the bare Flask JSON endpoint the API benchmark compares with (`bench.reference_app`);
2. bare Flask plus the one Redis step every booking takes (`bench.layer_apps.queue_only_app`);
3. that plus the token and the body, checked by hand with PyJWT and marshmallow
   (`bench.layer_apps.hand_rolled_app`);
4. the API's own `POST /api/v1/bookings` (flask-jwt-extended, flask-smorest, the app's hooks).

All four run under gunicorn with the API's settings at once and are loaded in turns, three
rounds each; each one's median round is printed beside the bare endpoint's. The ratios say how
much of the API goal (half the bare rate) each layer uses up on this machine.

    python -m bench.api_layers            # 10,000 requests per round
"""

from __future__ import annotations

import argparse
import functools
import os
from contextlib import ExitStack

from bench import loadgen, references, report, servers
from bench.flash_sale import (
    CONCURRENCY,
    DEFAULT_DSN,
    DEFAULT_REDIS_URL,
    LOAD_PROCESSES,
    Bench,
    booking_request,
)

ROUNDS = 3
LAYERS = [  # (name, gunicorn app, path its requests go to)
    ("bare Flask JSON endpoint", "bench.reference_app:create_app()", "/ref"),
    ("+ the queueing step (one Redis Lua call)", "bench.layer_apps:queue_only_app()", "/layer/bookings"),
    ("+ token and body checked by hand", "bench.layer_apps:hand_rolled_app()", "/layer/bookings"),
    ("the API: POST /api/v1/bookings", "api:create_app()", "/api/v1/bookings"),
]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.api_layers", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DSN))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL))
    parser.add_argument("--requests", type=int, default=10_000, help="per layer and round")
    args = parser.parse_args(argv)
    bench = Bench(args.dsn, args.redis_url)
    tokens = [token for _, token in bench.customers(5000)]
    event_id, ticket_type_id = bench.event(args.requests, "Layers")

    rates: dict[str, list[float]] = {name: [] for name, _, _ in LAYERS}
    with ExitStack() as stack:
        loads = []
        for name, app, path in LAYERS:
            ready = "/ref" if path == "/ref" else "/healthz"
            server = stack.enter_context(
                servers.gunicorn(app, servers.API_GUNICORN, ready_path=ready, env=bench.env)
            )
            make = (
                references.reference_request
                if path == "/ref"
                else functools.partial(booking_request, tokens, str(event_id), str(ticket_type_id), path)
            )
            loads.append((name, functools.partial(_load, server.url, make)))
            loads[-1][1](1000)  # warm-up: first requests and new connections are not measured
        for _ in range(ROUNDS):
            for name, load in loads:
                rates[name].append(load(args.requests))
    medians = {name: sorted(values)[len(values) // 2] for name, values in rates.items()}
    bare = medians[LAYERS[0][0]]
    figures = [
        report.Figure(f"{name}: accepted/s (ref: bare Flask)", rate, "1/s", bare)
        for name, rate in medians.items()
    ]
    report.print_table(figures, f"The booking endpoint, layer by layer ({args.requests:,} requests a round)")
    details = {"rounds": rates, "gunicorn": vars(servers.API_GUNICORN), "load_concurrency": CONCURRENCY,
               "load_processes": LOAD_PROCESSES}  # fmt: skip
    path = report.write_result(
        "api_layers", figures, details=details, dsn=bench.libpq_dsn, redis_url=args.redis_url
    )
    print(f"wrote {path.relative_to(servers.REPO_ROOT)}")


def _load(url: str, make_request, requests: int) -> float:
    """Accepted (202) answers per second of one run."""
    load = loadgen.run_load(url, make_request, requests, concurrency=CONCURRENCY, processes=LOAD_PROCESSES)
    return load.statuses.get(202, 0) / load.elapsed


if __name__ == "__main__":
    main()
