"""The flash-sale benchmark: Boxoffice's allocation engine and API under a ticket rush.

Runs web (gunicorn), Celery workers and the database for real, on a database and a Redis
database of its own, and compares every figure with a reference measured in the same run:

- engine: decisions per second for one hot event with a pre-filled queue, against one-row
  conditional UPDATEs on PostgreSQL (the ceiling of deciding one booking per transaction);
- API: accepted bookings per second and latency, against a bare Flask JSON endpoint under the
  same gunicorn settings;
- flash sale: 20,000 requests from 20,000 customers for 2,000 tickets, request to decision,
  against the same sale on a synchronous endpoint that locks and writes inside the request;
- vouchers: the engine's decisions per second when every request carries one code (good for
  half of them, so both redemption and exhaustion are decided), against the same drain without
  codes, side by side in the same run;
- many events: 100 events drained at once by 1 and by 2 worker processes;
- expiry: 50,000 expired holds returned to inventory, against the bare SQL doing the same.

    python -m bench.flash_sale            # the full run (a few minutes)
    python -m bench.flash_sale --quick    # a tenth of the load, to try it out
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import os
import secrets
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path

import psycopg2
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from flask_jwt_extended import create_access_token

from bench import latency_chart, loadgen, references, report, servers
from core import runtime
from core.config import Settings
from core.db import database_for
from core.inventory import Line
from core.jobs import Job
from core.models import Booking, BookingLine, Event, Organization, TicketType, User, Voucher, utcnow
from core.services import bookings, holds
from core.services.accounts import hash_password
from core.statuses import Role

DEFAULT_DSN = "postgresql+psycopg2://postgres@127.0.0.1:5432/boxoffice_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/12"
CONCURRENCY = 64
LOAD_PROCESSES = 2
MEASUREMENTS = ["engine", "vouchers", "api", "sale", "events", "expiry"]
API_ROUNDS = 3


@dataclass(frozen=True)
class Scale:
    sale_requests: int = 20_000
    sale_tickets: int = 2_000
    engine_requests: int = 20_000
    api_requests: int = 20_000
    events: int = 100
    requests_per_event: int = 200
    expired_holds: int = 50_000

    def tenth(self) -> Scale:
        return Scale(*(max(value // 10, 10) for value in vars(self).values()))


class Bench:
    """The database, Redis and settings of one run, and the ways to fill them."""

    def __init__(self, dsn: str, redis_url: str, broker_url: str = "", drain_trace: str = ""):
        """A fresh database and Redis database. `drain_trace`: the directory every process
        started here writes its timestamps to (`core.drain_trace`); empty, none."""
        self.dsn = dsn
        # One secret for this process and the servers it starts: tokens minted here work there.
        secret = secrets.token_hex(32)
        self.settings = Settings(database_url=dsn, redis_url=redis_url, celery_broker_url=broker_url,
                                 rate_limits_enabled=False, jwt_secret_key=secret,
                                 drain_trace=drain_trace)  # fmt: skip
        self.env = {"DATABASE_URL": dsn, "REDIS_URL": redis_url, "CELERY_BROKER_URL": broker_url,
                    "RATE_LIMITS_ENABLED": "false", "PAYMENT_PROVIDER": "local", "PYTHONUNBUFFERED": "1",
                    "JWT_SECRET_KEY": secret, "DRAIN_TRACE": drain_trace}  # fmt: skip
        _fresh_database(dsn)
        runtime.configure(self.settings)
        import worker  # noqa: F401 - the Celery app, on this run's Redis
        from api import create_app

        self.clear_queues()  # an earlier run's queues and tasks are not this run's

        self.app = create_app(self.settings)
        self.db = runtime.database()
        with self.db.unit_of_work() as uow:
            organization = Organization(name="Bench Concerts")
            uow.session.add(organization)
            uow.commit()
            self.organization_id = organization.id

    @property
    def libpq_dsn(self) -> str:
        return self.dsn.replace("postgresql+psycopg2://", "postgresql://")

    def event(self, quota: int, title: str = "Flash Sale") -> tuple[uuid.UUID, uuid.UUID]:
        starts = utcnow() + dt.timedelta(days=30)
        with self.db.unit_of_work() as uow:
            event = Event(organization_id=self.organization_id, title=title, starts_at=starts,
                          ends_at=starts + dt.timedelta(hours=3), status="published", published_at=utcnow(),
                          max_per_booking=10, max_per_user=10)  # fmt: skip
            event.ticket_types.append(TicketType(name="Standard", price=2500, currency="EUR", quota=quota))
            uow.session.add(event)
            uow.commit()
            return event.id, event.ticket_types[0].id

    def customers(self, n: int) -> list[tuple[uuid.UUID, str]]:
        """`n` customers in one statement, each with an access token."""
        ids = [uuid.uuid4() for _ in range(n)]
        password = hash_password("bench-password")
        with self.db.unit_of_work() as uow:
            uow.session.connection().execute(sa.insert(User.__table__), [
                {"id": i, "email": f"{i.hex}@bench.test", "password_hash": password, "name": "Fan",
                 "role": Role.CUSTOMER, "created_at": utcnow()} for i in ids])  # fmt: skip
            uow.commit()
        with self.app.app_context():
            return [(i, create_access_token(identity=str(i), additional_claims={"role": Role.CUSTOMER, "sid": "b"}))
                    for i in ids]  # fmt: skip

    def voucher(self, event_id, code: str, max_redemptions: int) -> None:
        with self.db.unit_of_work() as uow:
            uow.session.add(Voucher(event_id=event_id, code=code, discount_percent=20, max_redemptions=max_redemptions,
                                    redeemed=0, ticket_type_ids=[], unlocks_hidden=False))  # fmt: skip
            uow.commit()

    def prefill(self, event_id, ticket_type_id, customers, voucher_code: str | None = None) -> None:
        """Queue one request per customer through the API's own code, scheduling no drain."""
        items = (Line(ticket_type_id, 1),)
        runtime.set_dispatcher(lambda _job, _kwargs: None)
        try:
            for user_id, _ in customers:
                ask = bookings.BookingAsk(event_id, items, join_waitlist=True, voucher_code=voucher_code)
                bookings.request_booking(runtime.database(), user_id, ask, session_id="b")
        finally:
            from worker.celery_app import dispatch_job

            runtime.set_dispatcher(dispatch_job)

    def decided(self, event_ids) -> int:
        with self.db.unit_of_work() as uow:
            return uow.session.scalar(sa.select(sa.func.count()).where(Booking.event_id.in_(list(event_ids))))

    def wait_decided(self, event_ids, expected: int, timeout: float = 600) -> float:
        deadline = time.monotonic() + timeout
        while self.decided(event_ids) < expected:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.decided(event_ids)} of {expected} decided after {timeout}s")
            time.sleep(0.05)
        return time.time()

    def oversold(self, event_id) -> int:
        """Tickets held or sold beyond the quota, or disagreeing with the bookings (must be 0)."""
        with self.db.unit_of_work() as uow:
            tt = uow.session.scalars(sa.select(TicketType).where(TicketType.event_id == event_id)).one()
            booked = uow.session.scalar(
                sa.select(sa.func.coalesce(sa.func.sum(BookingLine.quantity), 0))
                .join(Booking, Booking.id == BookingLine.booking_id)
                .where(Booking.event_id == event_id, Booking.status.in_(("held", "confirmed")))
            )
        return max(tt.held + tt.sold - tt.quota, 0) + abs(booked - (tt.held + tt.sold))

    def clear_queues(self) -> None:
        """Forget every queued request and task, so one measurement never drains another's leftovers."""
        from worker.celery_app import celery_app

        runtime.redis_client().flushdb()
        celery_app.control.purge()  # a RabbitMQ broker keeps its tasks apart from Redis

    def worker(self, concurrency: int = 1):
        return servers.celery_worker("worker", concurrency=concurrency, env=self.env)

    def close(self) -> None:
        """Leave nothing behind: the run's queues, tasks and database."""
        self.clear_queues()
        _drop_database(self.dsn)


def _fresh_database(dsn: str) -> None:
    _drop_database(dsn)
    _on_server(dsn, 'CREATE DATABASE "{database}"')
    config = Config(str(servers.REPO_ROOT / "alembic.ini"))
    config.attributes.update(database_url=dsn, skip_logging=True)
    command.upgrade(config, "head")


def _drop_database(dsn: str) -> None:
    database_for(dsn).dispose()  # this process's connections to it, if an earlier run left any
    _on_server(dsn, 'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _on_server(dsn: str, statement: str) -> None:
    """Run `statement` about the run's database, from the server's maintenance database."""
    url = sa.engine.make_url(dsn)
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(statement.format(database=url.database)))
    admin.dispose()


def booking_request(
    tokens: list[str], event_id: str, ticket_type_id: str, path: str, i: int
) -> loadgen.Request:
    """Request i of a sale: customer i asks for one ticket (picklable for the load processes)."""
    body = {"event_id": event_id, "items": [{"ticket_type_id": ticket_type_id, "quantity": 1}],
            "join_waitlist": True}  # fmt: skip
    return loadgen.Request(
        "POST", path, headers={"Authorization": f"Bearer {tokens[i % len(tokens)]}"}, json=body
    )


def _load(url: str, tokens, event_id, ticket_type_id, path: str, requests: int) -> loadgen.LoadResult:
    make = functools.partial(booking_request, tokens, str(event_id), str(ticket_type_id), path)
    return loadgen.run_load(
        url, make, requests, concurrency=CONCURRENCY, processes=LOAD_PROCESSES, time_limit=300
    )


# --- the measurements --------------------------------------------------------------------------


def measure_engine(bench: Bench, scale: Scale, pg_reference: float) -> list[report.Figure]:
    customers = bench.customers(scale.engine_requests)
    event_id, tt_id = bench.event(scale.sale_tickets, "Engine")
    bench.prefill(event_id, tt_id, customers)
    with bench.worker():
        started = time.time()
        runtime.dispatch(Job.DRAIN_EVENT, event_id=str(event_id))
        finished = bench.wait_decided([event_id], scale.engine_requests)
    rate = scale.engine_requests / (finished - started)
    return [report.Figure("engine: decisions/s, one hot event (ref: PG 1-row UPDATE txn/s)", rate, "1/s",
                          pg_reference)]  # fmt: skip


def measure_vouchers(bench: Bench, scale: Scale) -> list[report.Figure]:
    """One worker drains two queues of the same size one after the other: every request of the
    first carries one code good for half of them, none of the second does."""
    customers = bench.customers(2 * scale.engine_requests)
    rates = []
    for index, code in enumerate(("RUSH", None)):
        event_id, tt_id = bench.event(scale.engine_requests, f"Engine, code {code}")
        if code:
            bench.voucher(event_id, code, scale.engine_requests // 2)
        part = customers[index * scale.engine_requests : (index + 1) * scale.engine_requests]
        bench.prefill(event_id, tt_id, part, voucher_code=code)
        with bench.worker():
            started = time.time()
            runtime.dispatch(Job.DRAIN_EVENT, event_id=str(event_id))
            finished = bench.wait_decided([event_id], scale.engine_requests)
        rates.append(scale.engine_requests / (finished - started))
        bench.clear_queues()
    return [report.Figure("engine with one code on every request: decisions/s (ref: the same without codes)",
                          rates[0], "1/s", rates[1])]  # fmt: skip


def measure_api(bench: Bench, scale: Scale) -> tuple[list[report.Figure], list[dict]]:
    """Accepted bookings against the bare Flask reference, both served at once by gunicorn.

    The machine is noisy and a run takes seconds, so the two are loaded in turns, API_ROUNDS
    times each, and each side's median round is reported (every round goes into the JSON).
    """
    customers = bench.customers(min(scale.api_requests, 5000))
    tokens = [token for _, token in customers]
    event_id, tt_id = bench.event(scale.api_requests, "API")
    rounds = []
    with (
        references.bare_flask_server() as reference,
        servers.gunicorn(
            "api:create_app()", servers.API_GUNICORN, ready_path="/healthz", env=bench.env
        ) as web,
    ):
        _load(web.url, tokens, event_id, tt_id, "/api/v1/bookings", min(1000, scale.api_requests))  # warm-up
        for _ in range(API_ROUNDS):
            ref = references.load_bare_flask(reference, scale.api_requests, CONCURRENCY, LOAD_PROCESSES)
            ours = _load(web.url, tokens, event_id, tt_id, "/api/v1/bookings", scale.api_requests)
            rounds.append({"reference": _accepted(ref), "ours": _accepted(ours)})
    bench.clear_queues()  # nobody drained these; the next measurement must not inherit them
    ref, ours = (_median([r[side] for r in rounds]) for side in ("reference", "ours"))
    figures = [
        report.Figure("API: accepted bookings/s (ref: bare Flask req/s)", ours["rate"], "1/s", ref["rate"]),
        report.Figure("API: latency p50 (ref: bare Flask)", ours["p50_ms"], "ms", ref["p50_ms"]),
        report.Figure("API: latency p99 (ref: bare Flask)", ours["p99_ms"], "ms", ref["p99_ms"]),
    ]
    return figures, rounds


def _accepted(load: loadgen.LoadResult) -> dict:
    return {"rate": load.statuses.get(202, 0) / load.elapsed, "p50_ms": load.p50_ms, "p99_ms": load.p99_ms,
            "statuses": load.statuses}  # fmt: skip


def _median(results: list[dict]) -> dict:
    return sorted(results, key=lambda result: result["rate"])[len(results) // 2]


@dataclass
class SaleResult:
    accepted_rate: float
    p50_ms: float
    p99_ms: float
    last_final_s: float
    held: int
    oversold: int
    statuses: dict  # bookings by status, from the database
    # Customers whose polls had not seen their final status when the poll phase's time ran out
    # (queue only): the poll phase is a check that every decision is readable, not a count.
    polls_unfinished: int = 0
    # (seconds since the sale began, ms to the decision) per request: the chart, not the JSON
    waits: list[tuple[float, float]] = field(repr=False, default_factory=list)
    # For bench/decision_stages.py: booking id -> when its customer sent the request
    # (time.time()), and how late the load generator's loop woke while it was in flight (seconds)
    sent_at: dict[str, float] = field(repr=False, default_factory=dict)
    client_late: dict[str, float] = field(repr=False, default_factory=dict)

    def summary(self) -> dict:
        return {
            name: value
            for name, value in vars(self).items()
            if name not in ("waits", "sent_at", "client_late")
        }


def sale_through_queue(bench: Bench, scale: Scale, customers) -> SaleResult:
    tokens = [token for _, token in customers]
    event_id, tt_id = bench.event(scale.sale_tickets, "Flash Sale")
    with (
        tempfile.TemporaryDirectory(prefix="boxoffice-bench-beat-") as beat_dir,
        servers.gunicorn(
            "api:create_app()", servers.API_GUNICORN, ready_path="/healthz", env=bench.env
        ) as web,
        bench.worker(concurrency=2),
        servers.running_process(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "worker",
                "beat",
                "--schedule",
                str(Path(beat_dir) / "schedule"),
            ],
            ready=lambda _: True,
            env=bench.env,
        ),  # fmt: skip
    ):
        load = _load(web.url, tokens, event_id, tt_id, "/api/v1/bookings", scale.sale_requests)
        accepted = [s for s in load.samples if s.status == 202]
        bench.wait_decided([event_id], len(accepted))
        targets = [loadgen.PollTarget(web.url + s.location, {"Authorization": f"Bearer {tokens[s.index % len(tokens)]}"})
                   for s in accepted]  # fmt: skip
        polled = loadgen.poll_until_final(
            targets, pending=("queued",), concurrency=CONCURRENCY, time_limit=300
        )
    decided_at = _decided_times(bench, event_id)
    sent_at = {s.location.rsplit("/", 1)[1]: load.wall(s.start) for s in accepted}
    # From the moment a customer sent the request to the moment its decision was committed.
    waits = [(sent - load.wall(load.started), (decided_at[booking_id] - sent) * 1000)
             for booking_id, sent in sent_at.items()]  # fmt: skip
    ordered = sorted(ms for _, ms in waits)
    statuses = _statuses(bench, event_id)
    return SaleResult(
        accepted_rate=len(accepted) / load.elapsed,
        p50_ms=loadgen.percentile(ordered, 50),
        p99_ms=loadgen.percentile(ordered, 99),
        last_final_s=max(decided_at.values()) - load.wall(load.started),
        held=statuses.get("held", 0),
        oversold=bench.oversold(event_id),
        statuses=statuses,
        polls_unfinished=len(polled.unfinished),
        waits=waits,
        sent_at=sent_at,
        client_late={s.location.rsplit("/", 1)[1]: s.loop_late for s in accepted},
    )


def _decided_times(bench: Bench, event_id) -> dict[str, float]:
    with bench.db.unit_of_work() as uow:
        rows = uow.session.execute(
            sa.select(Booking.id, Booking.decided_at).where(Booking.event_id == event_id)
        )
        return {str(booking_id): decided.timestamp() for booking_id, decided in rows}


def sale_synchronous(bench: Bench, scale: Scale, customers) -> SaleResult:
    tokens = [token for _, token in customers]
    event_id, tt_id = bench.event(scale.sale_tickets, "Synchronous Sale")
    app = "bench.sync_baseline:create_app()"
    with servers.gunicorn(app, servers.API_GUNICORN, ready_path="/sync/bookings", env=bench.env) as web:
        load = _load(web.url, tokens, event_id, tt_id, "/sync/bookings", scale.sale_requests)
    answered = [s for s in load.samples if s.status == 201]
    waits = [(s.start - load.started, (s.end - s.start) * 1000) for s in answered]
    latencies = sorted(ms for _, ms in waits)
    statuses = _statuses(bench, event_id)
    return SaleResult(
        accepted_rate=len(answered) / load.elapsed,
        p50_ms=loadgen.percentile(latencies, 50),
        p99_ms=loadgen.percentile(latencies, 99),
        last_final_s=load.elapsed,
        held=statuses.get("held", 0),
        oversold=bench.oversold(event_id),
        statuses=statuses,
        waits=waits,
    )


def _statuses(bench: Bench, event_id) -> dict[str, int]:
    """The event's bookings by status, as the database has them."""
    with bench.db.unit_of_work() as uow:
        return dict(uow.session.execute(
            sa.select(Booking.status, sa.func.count()).where(Booking.event_id == event_id).group_by(Booking.status)
        ).all())  # fmt: skip


SALE_P50 = "sale: request to decision p50 (ref: synchronous)"
SALE_P99 = "sale: request to decision p99 (ref: synchronous)"


def measure_sale(bench: Bench, scale: Scale, chart: Path) -> tuple[list[report.Figure], dict]:
    # Minted for this run: an access token lasts 15 minutes, less than several runs.
    customers = bench.customers(scale.sale_requests)
    queued = sale_through_queue(bench, scale, customers)
    synchronous = sale_synchronous(bench, scale, customers)
    figures = [
        report.Figure("sale: accepted requests/s (ref: synchronous)", queued.accepted_rate, "1/s",
                      synchronous.accepted_rate),
        report.Figure(SALE_P50, queued.p50_ms, "ms", synchronous.p50_ms),
        report.Figure(SALE_P99, queued.p99_ms, "ms", synchronous.p99_ms),
        report.Figure("sale: time to the last decision (ref: synchronous)", queued.last_final_s, "s",
                      synchronous.last_final_s),
        report.Figure("sale: tickets held (ref: tickets on sale)", queued.held, "", scale.sale_tickets),
        report.Figure("sale: oversold, queue / synchronous", queued.oversold + synchronous.oversold, ""),
    ]  # fmt: skip
    latency_chart.draw(
        {"queue": queued.waits, "synchronous": synchronous.waits}, chart,
        f"Flash sale: {scale.sale_requests:,} requests for {scale.sale_tickets:,} tickets",
    )  # fmt: skip
    return figures, {"queued": queued.summary(), "synchronous": synchronous.summary()}


def measure_many_events(bench: Bench, scale: Scale) -> list[report.Figure]:
    customers = bench.customers(scale.requests_per_event)
    rates = {}
    for workers in (1, 2):
        bench.clear_queues()  # the first round's checkout jobs must not run in the second
        events = [bench.event(scale.requests_per_event // 4, f"Event {i}") for i in range(scale.events)]
        for event_id, tt_id in events:
            bench.prefill(event_id, tt_id, customers)
        total = scale.events * scale.requests_per_event
        with _workers(bench, workers):
            started = time.time()
            for event_id, _ in events:
                runtime.dispatch(Job.DRAIN_EVENT, event_id=str(event_id))
            finished = bench.wait_decided([e for e, _ in events], total)
        rates[workers] = total / (finished - started)
    return [
        report.Figure(f"{scale.events} events: decisions/s, 1 worker process", rates[1], "1/s"),
        report.Figure(
            f"{scale.events} events: decisions/s, 2 worker processes (ref: 1)", rates[2], "1/s", rates[1]
        ),
    ]


def _workers(bench: Bench, count: int) -> ExitStack:
    stack = ExitStack()
    for _ in range(count):
        stack.enter_context(bench.worker())
    return stack


def measure_expiry(bench: Bench, scale: Scale) -> list[report.Figure]:
    customers = bench.customers(min(scale.expired_holds, 5000))
    event_id, tt_id = _expired_holds(bench, scale.expired_holds, customers, "Expiry")
    started = time.perf_counter()
    report_ = holds.expire_holds(runtime.database())
    elapsed = time.perf_counter() - started
    assert report_.expired_holds == scale.expired_holds and bench.oversold(event_id) == 0
    reference_event, _ = _expired_holds(bench, scale.expired_holds, customers, "Expiry reference")
    reference = _bare_sql_expiry(bench, reference_event)
    return [
        report.Figure(
            f"expiry: {scale.expired_holds} holds returned (ref: bare SQL)", elapsed, "s", reference
        )
    ]


def _expired_holds(bench: Bench, count: int, customers, title: str):
    event_id, tt_id = bench.event(count, title)
    past, now = utcnow() - dt.timedelta(minutes=1), utcnow()
    ids = [uuid.uuid4() for _ in range(count)]
    with bench.db.unit_of_work() as uow:
        connection = uow.session.connection()
        connection.execute(sa.insert(Booking.__table__), [
            {"id": i, "user_id": customers[n % len(customers)][0], "event_id": event_id, "status": "held",
             "queue_seq": n + 1, "join_waitlist": False, "total": 2500, "currency": "EUR", "hold_expires_at": past,
             "requested_at": now, "decided_at": now, "updated_at": now} for n, i in enumerate(ids)])  # fmt: skip
        connection.execute(
            sa.insert(BookingLine.__table__),
            [{"booking_id": i, "ticket_type_id": tt_id, "quantity": 1, "unit_price": 2500} for i in ids],
        )
        connection.execute(sa.update(TicketType.__table__).where(TicketType.id == tt_id).values(held=count))
        connection.execute(sa.update(Event.__table__).where(Event.id == event_id).values(held=count))
        uow.commit()
    return event_id, tt_id


def _bare_sql_expiry(bench: Bench, event_id) -> float:
    """The same change as hand-written SQL in one transaction: expire, give the tickets back."""
    connection = psycopg2.connect(bench.libpq_dsn)
    try:
        with connection.cursor() as cur:
            started = time.perf_counter()
            cur.execute("""
                WITH expired AS (
                    UPDATE booking SET status = 'expired' WHERE event_id = %(e)s AND status = 'held'
                    AND hold_expires_at <= now() RETURNING id),
                released AS (
                    SELECT ticket_type_id, sum(quantity) AS n FROM booking_line
                    WHERE booking_id IN (SELECT id FROM expired) GROUP BY ticket_type_id)
                UPDATE ticket_type SET held = held - released.n FROM released WHERE ticket_type.id = released.ticket_type_id
            """, {"e": str(event_id)})  # fmt: skip
            cur.execute("UPDATE event SET held = 0 WHERE id = %(e)s", {"e": str(event_id)})
            connection.commit()
            return time.perf_counter() - started
    finally:
        connection.close()


def run_measurements(args, scale: Scale, name: str) -> tuple[list[report.Figure], dict]:
    """One run of the measurements asked for, on a fresh database and Redis database, removed after."""
    bench = Bench(args.dsn, args.redis_url, args.broker_url)
    figures, details = [], {}
    try:
        if "engine" in args.only:
            pg = references.measure_pg_conditional_updates(bench.libpq_dsn, 5000)
            pg_best = max(pg.one_connection.transactions_per_s, pg.two_connections.transactions_per_s)
            figures += measure_engine(bench, scale, pg_best)
            details["pg_reference"] = {"one_connection": pg.one_connection.transactions_per_s,
                                       "two_connections": pg.two_connections.transactions_per_s}  # fmt: skip
        if "vouchers" in args.only:
            figures += measure_vouchers(bench, scale)
        if "api" in args.only:
            api_figures, details["api_rounds"] = measure_api(bench, scale)
            figures += api_figures
        if "sale" in args.only:
            sale_figures, details["sale"] = measure_sale(
                bench, scale, report.RESULTS_DIR / f"{name}_latency.png"
            )
            figures += sale_figures
        if "events" in args.only:
            figures += measure_many_events(bench, scale)
        if "expiry" in args.only:
            figures += measure_expiry(bench, scale)
    finally:
        bench.close()
    return figures, details


def print_sale_goal(runs: list[list[report.Figure]]) -> None:
    """Each run's request-to-decision p50 and p99 against the synchronous design's in that run
    (issue 22's goal: both at most half, in every run)."""
    print("sale, each run: request to decision against the synchronous design (goal: both ratios <= 0.5)")
    for number, figures in enumerate(runs, 1):
        by_name = {figure.name: figure for figure in figures}
        p50, p99 = by_name[SALE_P50], by_name[SALE_P99]
        met = "met" if p50.ratio <= 0.5 and p99.ratio <= 0.5 else "NOT met"
        print(f"  run {number}: p50 {p50.value:,.0f} / {p50.reference:,.0f} ms = {p50.ratio:.2f}, "
              f"p99 {p99.value:,.0f} / {p99.reference:,.0f} ms = {p99.ratio:.2f}: {met}")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.flash_sale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DSN))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL))
    parser.add_argument(
        "--broker-url",
        default=os.environ.get("BENCH_BROKER_URL", ""),
        help="the Celery broker (default: the Redis of --redis-url)",
    )
    parser.add_argument("--name", help="the result file's name (default: flash_sale, and what was run)")
    parser.add_argument("--quick", action="store_true", help="a tenth of the load")
    parser.add_argument("--sale-requests", type=int, help="the sale's requests (its tickets: a tenth)")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=MEASUREMENTS,
        default=MEASUREMENTS,
        metavar="NAME",
        help=f"run only these measurements, of: {', '.join(MEASUREMENTS)}",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, metavar="N",
        help="run N times, each on a fresh database, and report each figure's minimum, median and maximum "
             "(the sale's chart is the last run's)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    scale = Scale().tenth() if args.quick else Scale()
    if args.sale_requests:
        scale = replace(scale, sale_requests=args.sale_requests, sale_tickets=args.sale_requests // 10)
    name = "flash_sale_quick" if args.quick else "flash_sale"
    if args.only != MEASUREMENTS:
        name += "_only_" + "_".join(args.only)
    name = args.name or name

    runs, run_details = [], []
    for number in range(1, args.repeat + 1):
        figures, details = run_measurements(args, scale, name)
        runs.append(figures)
        run_details.append(details)
        if args.repeat > 1:
            report.print_table(figures, f"Run {number} of {args.repeat}")
    title = f"Flash sale ({'quick' if args.quick else 'full'} scale)"
    if args.sale_requests:
        title = f"Flash sale ({scale.sale_requests:,} requests for {scale.sale_tickets:,} tickets)"
    if args.repeat > 1:
        report.print_spread(runs, f"{title}, {args.repeat} runs")
    else:
        report.print_table(runs[0], title)
    if "sale" in args.only:
        print_sale_goal(runs)
    details = {"scale": vars(scale), "gunicorn": vars(servers.API_GUNICORN), "load_concurrency": CONCURRENCY,
               "load_processes": LOAD_PROCESSES, "repeat": args.repeat, "runs": run_details,
               "figures_of_each_run": [[f.as_dict() for f in figures] for figures in runs]}  # fmt: skip
    path = report.write_result(name, report.medians(runs), details=details, dsn=server_dsn(args.dsn),
                               redis_url=args.redis_url)  # fmt: skip
    print(f"wrote {path.relative_to(servers.REPO_ROOT)}")


def server_dsn(dsn: str) -> str:
    """The server's maintenance database: the run's own is gone when the facts are read."""
    url = sa.engine.make_url(dsn).set(drivername="postgresql", database="postgres")
    return url.render_as_string(hide_password=False)


if __name__ == "__main__":
    main()
