"""Where the booking and status endpoints' time goes: the same load against apps that stop at each layer.

1. the bare Flask JSON endpoint the API benchmark compares with (`bench.reference_app`);
2. bare Flask plus the Redis step every request must take (`bench.layer_apps.queue_only_app`):
   the booking's one Lua call, or the poll's reads of a queued booking's status;
3. that plus the token (and the body), checked by hand with PyJWT and marshmallow, then the
   API's own service, answering what the API answers (`bench.layer_apps.hand_rolled_app`);
4. the API's own `POST /api/v1/bookings` and `GET /api/v1/bookings/{id}` (the rush path,
   flask-smorest, the app's hooks).

Two series: bookings (202s counted), and polls of bookings queued before the run (200s
counted; layer 1 has none). All four apps run under gunicorn with the API's settings at once
and are loaded in turns, three rounds each; each one's median round is printed beside the
first layer's and beside layer 2's. The goals (issue 21): the API at 0.8 or more of layer 2
(every request must take the Redis step, so that is the rate to compare the rest of the path
with) and at 0.9 or more of layer 3 (the hand-written endpoint), for each series.

Beside each rate, the CPU its gunicorn processes spent per counted request (user + system, read
from /proc): unlike a rate, it hardly moves when other work shares the machine, so it shows
what a change to the path saves even on a busy host.

    python -m bench.api_layers            # 10,000 requests per layer, series and round
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
from core import runtime
from core.inventory import Line
from core.services import bookings

ROUNDS = 3
GOALS = {"layer 2": 0.8, "layer 3": 0.9}  # the API's rate over each reference layer's
LAYERS = [  # (name, gunicorn app, path a booking goes to, path a poll goes to + the booking id)
    ("1 bare Flask JSON endpoint", "bench.reference_app:create_app()", "/ref", None),
    ("2 + the Redis step", "bench.layer_apps:queue_only_app()",
     "/layer/bookings", "/layer/bookings/"),
    ("3 + token and body checked by hand", "bench.layer_apps:hand_rolled_app()", "/layer/bookings",
     "/layer/bookings/"),
    ("4 the API", "api:create_app()", "/api/v1/bookings", "/api/v1/bookings/"),
]  # fmt: skip
SERIES = {"booking": 202, "poll": 200}  # what each series sends, by the answer it counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.api_layers", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DSN))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL))
    parser.add_argument("--requests", type=int, default=10_000, help="per layer, series and round")
    args = parser.parse_args(argv)
    bench = Bench(args.dsn, args.redis_url)
    customers = bench.customers(5000)
    tokens = [token for _, token in customers]
    event_id, ticket_type_id = bench.event(args.requests, "Layers")
    polls = _queued_bookings(bench, customers)

    rates: dict[str, list[float]] = {}  # by "series: layer"
    cpu: dict[str, list[float]] = {}
    statuses: dict[str, list[dict[int, int]]] = {}  # every answer of each round, counted or not
    with ExitStack() as stack:
        loads = []
        for name, app, path, poll_path in LAYERS:
            ready = "/ref" if path == "/ref" else "/healthz"
            server = stack.enter_context(
                servers.gunicorn(app, servers.API_GUNICORN, ready_path=ready, env=bench.env)
            )
            makes = {"booking": references.reference_request if path == "/ref" else functools.partial(
                booking_request, tokens, str(event_id), str(ticket_type_id), path)}  # fmt: skip
            if poll_path:
                makes["poll"] = functools.partial(poll_request, polls, poll_path)
            for series, make in makes.items():
                load = functools.partial(_load, server.url, make, server.running.process.pid, SERIES[series])
                loads.append((f"{series}: {name}", load))
                load(1000)  # warm-up: first requests and new connections are not measured
        for _ in range(ROUNDS):
            for key, load in loads:
                rate, seconds, answers = load(args.requests)
                rates.setdefault(key, []).append(rate)
                cpu.setdefault(key, []).append(seconds)
                statuses.setdefault(key, []).append(answers)
    medians = {key: _median(values) for key, values in rates.items()}
    cpu_medians = {key: _median(values) * 1e6 for key, values in cpu.items()}
    figures, goals = [], []
    for series, status in SERIES.items():
        keys = [f"{series}: {name}" for name, *_ in LAYERS if f"{series}: {name}" in medians]
        reference, (queue_only, hand_rolled, api) = keys[0], keys[-3:]
        figures += [report.Figure(f"{key}: {status}/s (ref: {reference})", medians[key], "1/s", medians[reference])
                    for key in keys]  # fmt: skip
        figures += [report.Figure(f"{key}: server CPU per request (ref: layer 2)", cpu_medians[key], "µs",
                                  cpu_medians[queue_only]) for key in keys]  # fmt: skip
        for label, layer in (("layer 2", queue_only), ("layer 3", hand_rolled)):
            figures.append(report.Figure(f"{api} (ref: {label})", medians[api], "1/s", medians[layer]))
            ratio = medians[api] / medians[layer]
            goals.append({"goal": f"{series}: the API ≥ {GOALS[label]} of {label}: {ratio:.2f} (CPU/request "
                                  f"{cpu_medians[api]:,.0f} µs against {cpu_medians[layer]:,.0f} µs)",
                          "met": ratio >= GOALS[label]})  # fmt: skip
    report.print_table(
        figures, f"The booking and poll endpoints, layer by layer ({args.requests:,} requests a round)"
    )
    for goal in goals:
        print(f"goal: {goal['goal']} {'✓' if goal['met'] else '✗'}")
    for key, rounds in statuses.items():  # a rate and a CPU per counted answer mean little beside others
        if any(set(answers) != {SERIES[key.split(":")[0]]} for answers in rounds):
            print(f"other answers: {key}: {rounds}")
    details = {"rounds": rates, "server_cpu_seconds_per_request": cpu, "statuses": statuses, "goals": goals,
               "gunicorn": vars(servers.API_GUNICORN), "load_concurrency": CONCURRENCY,
               "load_processes": LOAD_PROCESSES}  # fmt: skip
    path = report.write_result(
        "api_layers", figures, details=details, dsn=bench.libpq_dsn, redis_url=args.redis_url
    )
    print(f"wrote {path.relative_to(servers.REPO_ROOT)}")


def _queued_bookings(bench: Bench, customers) -> list[tuple[str, str]]:
    """(token, booking id): one booking per customer, queued by the API's own service on an event
    of its own and left queued (nothing drains here), for the polls."""
    runtime.set_dispatcher(lambda _job, _kwargs: None)
    event_id, ticket_type_id = bench.event(len(customers), "Polls")
    ask = bookings.BookingAsk(event_id, (Line(ticket_type_id, 1),))
    return [(token, str(bookings.request_booking(bench.db, user_id, ask, session_id="b")["id"]))
            for user_id, token in customers]  # fmt: skip


def poll_request(polls: list[tuple[str, str]], path: str, i: int) -> loadgen.Request:
    """Poll i: a customer asks for the status of their queued booking (picklable)."""
    token, booking_id = polls[i % len(polls)]
    return loadgen.Request("GET", f"{path}{booking_id}", headers={"Authorization": f"Bearer {token}"})


def _load(url: str, make_request, server_pid: int, status: int, requests: int) -> tuple[float, float, dict]:
    """Answers of `status` (202 accepted, 200 polled) per second of one run, the server's CPU
    seconds per such answer, and how many answers of each status the run had (0: none)."""
    cpu_before = servers.process_tree_cpu(server_pid)
    load = loadgen.run_load(url, make_request, requests, concurrency=CONCURRENCY, processes=LOAD_PROCESSES)
    accepted = load.statuses.get(status, 0)
    return (
        accepted / load.elapsed,
        (servers.process_tree_cpu(server_pid) - cpu_before) / max(accepted, 1),
        dict(load.statuses),
    )


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


if __name__ == "__main__":
    main()
