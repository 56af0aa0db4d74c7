"""The references benchmarks are compared with, measured on this machine in the same run.

- bare Flask under gunicorn with the API's settings: the most any JSON endpoint can answer here;
- one-row conditional UPDATEs, one per transaction, from one and from two connections: the
  ceiling of deciding a hot event's bookings one request per transaction;
- the same UPDATEs, 100 per transaction: what batching buys the allocation engine.

`python -m bench.references` prints them and writes `bench/results/references.json`.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace

import psycopg2

from bench import loadgen, report, servers
from bench.reference_app import FAKE_ACCESS_TOKEN, booking_sized_body

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/boxoffice_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"

_TABLE = "bench_ref_inventory"
# The statement that keeps "held <= quota" when one request is decided per transaction.
_CONDITIONAL_UPDATE = f"UPDATE {_TABLE} SET held = held + 1 WHERE id = 1 AND held + 1 <= quota"


@dataclass(frozen=True)
class BareFlaskResult:
    gunicorn: servers.GunicornConfig
    concurrency: int
    load_processes: int
    requests: int
    elapsed: float
    rate: float
    p50_ms: float
    p99_ms: float
    statuses: dict[int, int]


def reference_request(i: int) -> loadgen.Request:
    """Request i to the reference: a booking's body and headers, a different token each time."""
    return loadgen.Request(
        "POST",
        "/ref",
        headers={
            "Authorization": f"Bearer {FAKE_ACCESS_TOKEN}{i}",
            "Idempotency-Key": str(uuid.UUID(int=i)),
        },
        json=booking_sized_body(i),
    )


@contextmanager
def bare_flask_server(workers: int = 2) -> Iterator[servers.Server]:
    """The reference app under gunicorn with the API's settings and `workers` workers, warmed up."""
    config = replace(servers.API_GUNICORN, workers=workers)
    with servers.gunicorn("bench.reference_app:create_app()", config, ready_path="/ref") as server:
        # Workers' first requests and new connections are not what we measure.
        loadgen.run_load(server.url, reference_request, 1000, concurrency=64, time_limit=10)
        yield server


def load_bare_flask(
    server: servers.Server, requests: int, concurrency: int, load_processes: int, time_limit: float = 60.0
) -> loadgen.LoadResult:
    return loadgen.run_load(
        server.url,
        reference_request,
        requests,
        concurrency=concurrency,
        processes=load_processes,
        time_limit=time_limit,
    )


def measure_bare_flask(
    workers: int = 2,
    requests: int = 20_000,
    concurrency: int = 64,
    *,
    load_processes: int = 2,
    time_limit: float = 60.0,
) -> BareFlaskResult:
    """Rate of `POST /ref` under gunicorn with the API's settings and `workers` workers."""
    with bare_flask_server(workers) as server:
        load = load_bare_flask(server, requests, concurrency, load_processes, time_limit)
    return BareFlaskResult(
        gunicorn=replace(servers.API_GUNICORN, workers=workers),
        concurrency=concurrency,
        load_processes=load_processes,
        requests=load.count,
        elapsed=load.elapsed,
        rate=load.rate,
        p50_ms=load.p50_ms,
        p99_ms=load.p99_ms,
        statuses=load.statuses,
    )


@dataclass(frozen=True)
class PgUpdateRate:
    """Increments of one hot row's `held`, committed by `connections` connections in parallel."""

    connections: int
    statements_per_transaction: int
    increments_per_transaction: int
    increments: int
    elapsed: float
    transactions_per_s: float
    increments_per_s: float


@dataclass(frozen=True)
class PgConditionalUpdates:
    one_connection: PgUpdateRate
    two_connections: PgUpdateRate


@dataclass(frozen=True)
class PgBatchedUpdates:
    # `batch` one-row UPDATEs per transaction, sent in one round trip.
    update_per_increment: PgUpdateRate
    # One UPDATE adding `batch`: how a drain can add up its batch per ticket type.
    update_per_transaction: PgUpdateRate


def measure_pg_conditional_updates(
    dsn: str, n: int = 5000, *, time_limit: float = 30.0
) -> PgConditionalUpdates:
    """n one-row conditional UPDATEs of one hot row, each in its own transaction, from one
    connection, then from two in parallel (which queue on the row's lock)."""
    with _inventory(dsn):
        return PgConditionalUpdates(
            _run_updates(dsn, _conditional_update(1), 1, n, 1, time_limit),
            _run_updates(dsn, _conditional_update(1), 1, n, 2, time_limit),
        )


def measure_pg_batched_updates(
    dsn: str, n: int = 200_000, batch: int = 100, *, time_limit: float = 30.0
) -> PgBatchedUpdates:
    """n increments, `batch` per transaction, from one connection: first as `batch` UPDATE
    statements, then as one UPDATE adding `batch`."""
    statements = ";".join([_conditional_update(1)] * batch)
    with _inventory(dsn):
        return PgBatchedUpdates(
            _run_updates(dsn, statements, batch, n, 1, time_limit),
            _run_updates(dsn, _conditional_update(batch), batch, n, 1, time_limit),
        )


def _conditional_update(increment: int) -> str:
    """The statement that keeps `held <= quota` by itself, as the allocation engine relies on."""
    return f"UPDATE {_TABLE} SET held = held + {increment} WHERE id = 1 AND held + {increment} <= quota"


@contextmanager
def _inventory(dsn: str) -> Iterator[None]:
    with _connection(dsn) as conn, conn.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {_TABLE}")  # left by a run that was killed
        cur.execute(
            f"CREATE TABLE {_TABLE} (id integer PRIMARY KEY, held integer NOT NULL,"
            " quota integer NOT NULL, CHECK (held <= quota))"
        )
        cur.execute(f"INSERT INTO {_TABLE} VALUES (1, 0, 2000000000)")
        conn.commit()
        try:
            yield
        finally:
            cur.execute(f"DROP TABLE {_TABLE}")
            conn.commit()


@contextmanager
def _connection(dsn: str) -> Iterator[psycopg2.extensions.connection]:
    conn = psycopg2.connect(dsn)
    try:
        yield conn
    finally:
        conn.close()


def _run_updates(
    dsn: str,
    statement: str,
    increments_per_transaction: int,
    increments: int,
    connections: int,
    time_limit: float,
) -> PgUpdateRate:
    """Commit `statement` over and over from `connections` threads, which run in parallel
    because psycopg2 lets go of the GIL while it waits for the server."""
    with _connection(dsn) as conn, conn.cursor() as cur:
        cur.execute(f"UPDATE {_TABLE} SET held = 0")
        conn.commit()
    transactions = increments // increments_per_transaction
    shares = [transactions // connections + (k < transactions % connections) for k in range(connections)]
    committed = [0] * connections
    failures: list[Exception] = []
    start = threading.Barrier(connections + 1)

    def run(k: int) -> None:
        with _connection(dsn) as conn, conn.cursor() as cur:
            start.wait()
            deadline = time.perf_counter() + time_limit
            try:
                for _ in range(shares[k]):
                    if time.perf_counter() >= deadline:
                        break
                    cur.execute(statement)
                    conn.commit()
                    committed[k] += 1
            except psycopg2.Error as error:
                failures.append(error)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(connections)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    if failures:
        raise failures[0]

    done = sum(committed) * increments_per_transaction
    with _connection(dsn) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT held FROM {_TABLE} WHERE id = 1")
        (held,) = cur.fetchone()
    if held != done:
        raise RuntimeError(f"{done} increments committed but held is {held}")
    return PgUpdateRate(
        connections=connections,
        statements_per_transaction=statement.count(";") + 1,
        increments_per_transaction=increments_per_transaction,
        increments=done,
        elapsed=elapsed,
        transactions_per_s=sum(committed) / elapsed,
        increments_per_s=done / elapsed,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.references", description=__doc__.split("\n\n")[0])
    env = os.environ.get
    parser.add_argument("--dsn", default=env("BENCH_DATABASE_URL", DEFAULT_DSN))
    parser.add_argument("--redis-url", default=env("BENCH_REDIS_URL", DEFAULT_REDIS_URL))
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--load-processes", type=int, default=2)
    parser.add_argument("--updates", type=int, default=5000, help="one per transaction")
    parser.add_argument("--batched-increments", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args(argv)

    flask = measure_bare_flask(
        args.workers,
        args.requests,
        args.concurrency,
        load_processes=args.load_processes,
    )
    single = measure_pg_conditional_updates(args.dsn, args.updates)
    batched = measure_pg_batched_updates(args.dsn, args.batched_increments, args.batch)

    one = single.one_connection.transactions_per_s
    figures = [
        report.Figure(f"bare Flask POST /ref, {args.workers} workers", flask.rate, "req/s"),
        report.Figure("bare Flask latency p50", flask.p50_ms, "ms"),
        report.Figure("bare Flask latency p99", flask.p99_ms, "ms"),
        report.Figure("PG UPDATE +1, 1 per txn, 1 conn", one, "txn/s"),
        report.Figure(
            "PG UPDATE +1, 1 per txn, 2 conns (ref: 1 conn)",
            single.two_connections.transactions_per_s,
            "txn/s",
            one,
        ),
        report.Figure(
            f"PG {args.batch} UPDATEs +1 per txn (ref: 1 per txn)",
            batched.update_per_increment.increments_per_s,
            "increments/s",
            one,
        ),
        report.Figure(
            f"PG 1 UPDATE +{args.batch} per txn (ref: 1 per txn)",
            batched.update_per_transaction.increments_per_s,
            "increments/s",
            one,
        ),
    ]
    report.print_table(figures, "References")
    if set(flask.statuses) != {202}:
        print(f"warning: bare Flask answered {flask.statuses}")
    details = {
        "bare_flask": asdict(flask),
        "pg_conditional_updates": asdict(single),
        "pg_batched_updates": asdict(batched),
    }
    path = report.write_result("references", figures, details=details, dsn=args.dsn, redis_url=args.redis_url)
    print(f"wrote {path.relative_to(servers.REPO_ROOT)}")
    chart = report.write_chart(path.with_suffix(".png"), figures, "References")
    if chart is not None:
        print(f"wrote {chart.relative_to(servers.REPO_ROOT)}")


if __name__ == "__main__":
    main()
