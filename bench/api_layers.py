"""Where the booking endpoint's time goes: the same load against apps that stop at each layer.

1. the bare Flask JSON endpoint the API benchmark compares with (`bench.reference_app`);
2. bare Flask plus the one Redis step every booking takes (`bench.layer_apps.queue_only_app`);
3. that plus the token and the body, checked by hand with PyJWT and marshmallow
   (`bench.layer_apps.hand_rolled_app`);
4. the API's own `POST /api/v1/bookings` (flask-jwt-extended, flask-smorest, the app's hooks).

All four run under gunicorn with the API's settings at once and are loaded in turns, three
rounds each; each one's median round is printed beside the bare endpoint's and beside layer 2's.
The goal is the API at 0.8 or more of layer 2: every booking must take the Redis step, so that
is the rate to compare the rest of the path with.

Beside each rate, the CPU its gunicorn processes spent per accepted request (user + system, read
from /proc): unlike a rate, it hardly moves when other work shares the machine, so it shows
what a change to the path saves even on a busy host.

    python -m bench.api_layers            # 10,000 requests per round
"""

from __future__ import annotations

import argparse
import functools
import os
from contextlib import ExitStack
from pathlib import Path

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
GOAL = 0.8  # the API's rate over layer 2's
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
    cpu: dict[str, list[float]] = {name: [] for name, _, _ in LAYERS}
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
            load = functools.partial(_load, server.url, make, server.running.process.pid)
            loads.append((name, load))
            load(1000)  # warm-up: first requests and new connections are not measured
        for _ in range(ROUNDS):
            for name, load in loads:
                rate, seconds = load(args.requests)
                rates[name].append(rate)
                cpu[name].append(seconds)
    medians = {name: _median(values) for name, values in rates.items()}
    cpu_medians = {name: _median(values) for name, values in cpu.items()}
    bare, queue_only, api = (medians[name] for name in (LAYERS[0][0], LAYERS[1][0], LAYERS[-1][0]))
    figures = [
        report.Figure(f"{name}: accepted/s (ref: bare Flask)", rate, "1/s", bare)
        for name, rate in medians.items()
    ]
    figures.append(
        report.Figure("the API: accepted/s (ref: layer 2, the queueing step)", api, "1/s", queue_only)
    )
    figures += [
        report.Figure(f"{name}: server CPU per request (ref: layer 2)", seconds * 1e6, "µs",
                      cpu_medians[LAYERS[1][0]] * 1e6)
        for name, seconds in cpu_medians.items()
    ]  # fmt: skip
    report.print_table(figures, f"The booking endpoint, layer by layer ({args.requests:,} requests a round)")
    met = api >= GOAL * queue_only
    print(f"goal: ≥ {GOAL} of layer 2: {api / queue_only:.2f} {'✓' if met else '✗'}")
    details = {"rounds": rates, "server_cpu_seconds_per_request": cpu, "goal": {"of_layer_2": GOAL, "met": met},
               "gunicorn": vars(servers.API_GUNICORN), "load_concurrency": CONCURRENCY,
               "load_processes": LOAD_PROCESSES}  # fmt: skip
    path = report.write_result(
        "api_layers", figures, details=details, dsn=bench.libpq_dsn, redis_url=args.redis_url
    )
    print(f"wrote {path.relative_to(servers.REPO_ROOT)}")


def _load(url: str, make_request, server_pid: int, requests: int) -> tuple[float, float]:
    """Accepted (202) answers per second of one run, and the server's CPU seconds per accepted one."""
    cpu_before = _process_tree_cpu(server_pid)
    load = loadgen.run_load(url, make_request, requests, concurrency=CONCURRENCY, processes=LOAD_PROCESSES)
    accepted = load.statuses.get(202, 0)
    return accepted / load.elapsed, (_process_tree_cpu(server_pid) - cpu_before) / max(accepted, 1)


def _process_tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and its running children."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:  # it exited meanwhile
        return 0.0
    user_and_system = stat.rsplit(")", 1)[1].split()[11:13]  # fields 14 and 15, in clock ticks
    own = sum(int(ticks) for ticks in user_and_system) / os.sysconf("SC_CLK_TCK")
    return own + sum(_process_tree_cpu(int(child)) for child in children)


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


if __name__ == "__main__":
    main()
