"""The back-office benchmark: lists, search, exports and analytics of one large event.

Fills a database of its own, in a few SQL statements, with an event of 100,000 bookings and
200,000 tickets (every status, names, emails, payments, refunds, check-ins), beside 20 smaller
events of 5,000 bookings and 10,000 tickets each, so that narrowing to one event is work the
indexes must do. Then asks the real API, the Procfile's gunicorn with `gunicorn.conf.py` and one
worker, signed in as the organizer, and compares each answer with a reference measured in the
same run on the same database:

- a list page (first, deep, searched, filtered): the SQL that finds the page, sent raw with
  psycopg2 (the count and `SELECT id ... LIMIT 50 OFFSET ...`), the least any page could cost
  (the API then reads those 50 rows with their joins);
- a CSV export (time to first byte, total, rows/s): `COPY (SELECT ...) TO STDOUT` of the same
  columns, the fastest PostgreSQL writes them;
- the worker's peak RSS (VmHWM, reset before each export) while it streams 10,000 rows and
  while it streams 200,000: the export streams if the two are the same.

`--plans` prints EXPLAIN (ANALYZE, BUFFERS) of every list and export query; `--revision`
migrates the database to an earlier revision (before the indexes, say) to measure the difference.

    python -m bench.back_office                  # a few minutes, most of it filling the database
    python -m bench.back_office --revision 0004  # the same, without the back-office indexes
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg2
import requests
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.dialects import postgresql

from bench import report, servers
from core.services import back_office
from core.services.accounts import hash_password

DEFAULT_DSN = "postgresql+psycopg2://postgres@127.0.0.1:5432/boxoffice_bench_back_office"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/12"
BOOKINGS = 100_000
SMALL_EVENTS = 20
SMALL_BOOKINGS = 5_000
PAGE_SIZE = 50
REPEATS = 7
ORGANIZER_EMAIL = "organizer@bench.test"
ORGANIZER_PASSWORD = "bench-organizer-password"
SALE_START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
TICKET_TYPES = (("Standard", 4500), ("VIP", 9000), ("Student", 2500))

FIRST_NAMES = [
    "Ada",
    "Alan",
    "Amara",
    "Ana",
    "Aziz",
    "Bea",
    "Carlos",
    "Chen",
    "Dmitri",
    "Elena",
    "Emeka",
    "Farah",
    "Giulia",
    "Hana",
    "Ines",
    "Ivan",
    "Jamal",
    "Jonas",
    "Kofi",
    "Lea",
    "Lina",
    "Luca",
    "Maya",
    "Mei",
    "Nadia",
    "Noah",
    "Olga",
    "Omar",
    "Priya",
    "Rafael",
    "Sara",
    "Sofia",
    "Tariq",
    "Tomas",
    "Yara",
    "Yusuf",
    "Zoe",
    "Zélie",
    "Éloïse",
    "Björn",
]
LAST_NAMES = [
    "Adeyemi",
    "Andersen",
    "Bauer",
    "Becker",
    "Bianchi",
    "Costa",
    "Dubois",
    "Eriksson",
    "Fischer",
    "Garcia",
    "Gonzalez",
    "Haddad",
    "Hansen",
    "Ivanova",
    "Jansen",
    "Kaur",
    "Kim",
    "Kowalski",
    "Larsen",
    "Lopez",
    "Martin",
    "Moreau",
    "Müller",
    "Nakamura",
    "Nguyen",
    "Novak",
    "Okafor",
    "Olsen",
    "Petrov",
    "Popescu",
    "Quinn",
    "Rossi",
    "Santos",
    "Schmidt",
    "Silva",
    "Smith",
    "Suzuki",
    "Tanaka",
    "Thompson",
    "Varga",
    "Wagner",
    "Wang",
    "Weber",
    "Williams",
    "Wójcik",
    "Yilmaz",
    "Zhang",
    "Ziegler",
    "O'Brien",
    "Lefèvre",
]


# --- the database --------------------------------------------------------------------------------


def fresh_database(dsn: str, revision: str) -> None:
    url = sa.engine.make_url(dsn)
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        connection.execute(sa.text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()
    config = Config(str(servers.REPO_ROOT / "alembic.ini"))
    config.attributes.update(database_url=dsn, skip_logging=True)
    command.upgrade(config, revision)


def drop_database(dsn: str) -> None:
    url = sa.engine.make_url(dsn)
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    admin.dispose()


TICKET_NUMBER = "i || '-' || k"  # booking i's k-th ticket


def _uuid(prefix: str, expression: str) -> str:
    """SQL for a deterministic uuid, so rows made by different statements can refer to each other."""
    return f"md5('{prefix}' || {expression})::uuid"


@dataclass(frozen=True)
class EventRows:
    event_id: uuid.UUID
    ticket_type_ids: tuple[uuid.UUID, ...]
    bookings: int
    tickets: int


def fill_event(cur, organization_id, organizer_id, title: str, first: int, n: int) -> EventRows:
    """An event whose bookings are numbered first .. first + n - 1 on the platform, each by a
    customer of its own. Of every 20 bookings: 15 confirmed, 1 cancelled (and refunded), 2
    expired, 1 held, 1 waitlisted or rejected; 1 to 4 tickets each, so a booking with tickets
    (confirmed or cancelled) has 2.5 on average, and n bookings have 2n tickets."""
    event_id = uuid.uuid4()
    starts = SALE_START + dt.timedelta(days=60)
    cur.execute(
        "INSERT INTO event (id, organization_id, title, description, venue, address, starts_at, ends_at,"
        " timezone, status, hold_seconds, max_per_booking, max_per_user, waitlist_enabled, held, sold,"
        " version, created_at, updated_at, published_at)"
        " VALUES (%s, %s, %s, '', 'Bench Arena', '1 Bench Street', %s, %s, 'Europe/Paris', 'published',"
        " 600, 10, 10, true, 0, 0, 1, %s, %s, %s)",
        (event_id, organization_id, title, starts, starts + dt.timedelta(hours=4),
         SALE_START, SALE_START, SALE_START),
    )  # fmt: skip
    type_ids = tuple(uuid.uuid4() for _ in TICKET_TYPES)
    for position, (type_id, (name, price)) in enumerate(zip(type_ids, TICKET_TYPES, strict=True)):
        cur.execute(
            "INSERT INTO ticket_type (id, event_id, name, price, currency, quota, held, sold, position)"
            " VALUES (%s, %s, %s, %s, 'EUR', 1000000, 0, 0, %s)",
            (type_id, event_id, name, price, position),
        )
    params = {
        "first": first, "last": first + n - 1, "event": event_id, "organizer": organizer_id,
        "start": SALE_START, "types": [str(t) for t in type_ids], "prices": [p for _, p in TICKET_TYPES],
        "first_names": list(FIRST_NAMES), "last_names": list(LAST_NAMES),
    }  # fmt: skip
    # One row per booking with everything its rows derive from; `s` is the slot of 20, `q` the quantity.
    cur.execute(
        "CREATE TEMPORARY TABLE plan AS"
        " SELECT i, i %% 20 AS s, 1 + (i / 20) %% 4 AS q, 1 + i %% 3 AS t,"
        f" {_uuid('b', 'i')} AS booking_id, {_uuid('u', 'i')} AS user_id,"
        " (%(first_names)s::text[])[1 + i %% 40] || ' ' || (%(last_names)s::text[])[1 + (i / 40) %% 50] AS name,"
        " lower((%(first_names)s::text[])[1 + i %% 40] || '.' || (%(last_names)s::text[])[1 + (i / 40) %% 50])"
        "   || '.' || i || '@' || (ARRAY['example.test', 'mail.test', 'post.test'])[1 + i %% 3] AS email,"
        " %(start)s::timestamptz + (i - %(first)s) * interval '2.5 seconds' AS requested_at"
        " FROM generate_series(%(first)s, %(last)s) AS i",
        params,
    )
    cur.execute(
        'INSERT INTO "user" (id, email, password_hash, name, role, created_at)'
        " SELECT user_id, email, 'bench-no-login', name, 'customer', requested_at - interval '1 day' FROM plan"
    )
    status = (
        "CASE WHEN s < 15 THEN 'confirmed' WHEN s = 15 THEN 'cancelled' WHEN s < 18 THEN 'expired'"
        " WHEN s = 18 THEN 'held' WHEN i / 20 %% 2 = 0 THEN 'waitlisted' ELSE 'rejected' END"
    )
    cur.execute(
        "INSERT INTO booking (id, user_id, event_id, status, queue_seq, join_waitlist, total, currency,"
        " hold_expires_at, reason, requested_at, decided_at, confirmed_at, cancelled_at, updated_at)"
        f" SELECT booking_id, user_id, %(event)s, {status}, i - %(first)s + 1, s = 19,"
        "  CASE WHEN s < 19 THEN q * (%(prices)s::int[])[t] ELSE 0 END, 'EUR',"
        "  CASE WHEN s IN (16, 17, 18) THEN requested_at + interval '10 minutes' END,"
        "  CASE WHEN s = 15 THEN 'customer_cancelled' WHEN s = 19 AND i / 20 %% 2 = 1 THEN 'sold_out' END,"
        "  requested_at, requested_at + interval '200 milliseconds',"
        "  CASE WHEN s <= 15 THEN requested_at + interval '3 minutes' END,"
        "  CASE WHEN s = 15 THEN requested_at + interval '1 day' END,"
        "  CASE WHEN s = 15 THEN requested_at + interval '1 day' WHEN s <= 14 THEN requested_at + interval '3 minutes'"
        "   WHEN s IN (16, 17) THEN requested_at + interval '10 minutes' ELSE requested_at + interval '200 milliseconds' END"
        " FROM plan",
        params,
    )  # fmt: skip
    cur.execute(
        "INSERT INTO booking_line (booking_id, ticket_type_id, quantity, unit_price)"
        " SELECT booking_id, (%(types)s::uuid[])[t], q, (%(prices)s::int[])[t] FROM plan",
        params,
    )
    cur.execute(
        "INSERT INTO payment (id, booking_id, provider, checkout_session_id, checkout_url, checkout_expires_at,"
        " payment_intent_id, amount, currency, status, idempotency_key, created_at, updated_at)"
        f" SELECT {_uuid('p', 'i')}, booking_id, 'local', 'cs_bench_' || i, 'https://pay.test/' || i,"
        "  requested_at + interval '31 minutes', CASE WHEN s <= 15 THEN 'pi_bench_' || i END,"
        "  q * (%(prices)s::int[])[t], 'EUR',"
        "  CASE WHEN s < 15 THEN 'paid' WHEN s = 15 THEN 'refunded' WHEN s < 18 THEN 'expired' ELSE 'pending' END,"
        "  'bench-payment-' || i, requested_at + interval '1 second', requested_at + interval '3 minutes'"
        " FROM plan WHERE s <= 18",
        params,
    )  # fmt: skip
    cur.execute(
        "INSERT INTO refund (id, payment_id, booking_id, amount, currency, reason, status, provider_refund_id,"
        " idempotency_key, attempts, created_at, updated_at)"
        f" SELECT {_uuid('r', 'i')}, {_uuid('p', 'i')}, booking_id, q * (%(prices)s::int[])[t], 'EUR',"
        "  'customer_cancelled', 'succeeded', 're_bench_' || i, 'bench-refund-' || i, 1,"
        "  requested_at + interval '1 day', requested_at + interval '1 day'"
        " FROM plan WHERE s = 15",
        params,
    )  # fmt: skip
    # The first ticket is the buyer's; the others carry a companion's name. A third are checked in.
    cur.execute(
        "INSERT INTO ticket (id, booking_id, event_id, ticket_type_id, code, qr_payload, attendee_name,"
        " status, checked_in_at, checked_in_by, created_at)"
        f" SELECT {_uuid('t', TICKET_NUMBER)}, booking_id, %(event)s, (%(types)s::uuid[])[t],"
        "  upper(substr(md5('c' || i || '-' || k), 1, 20)), 'bench-qr-' || i || '-' || k,"
        "  CASE WHEN k = 1 THEN name ELSE (%(first_names)s::text[])[1 + (i + 7 * k) %% 40] || ' '"
        "   || (%(last_names)s::text[])[1 + (i / 3 + k) %% 50] END,"
        "  CASE WHEN s = 15 THEN 'cancelled' ELSE 'valid' END,"
        "  CASE WHEN s < 15 AND (i + k) %% 3 = 0 THEN %(start)s::timestamptz + interval '60 days'"
        "   + ((i + k) %% 240) * interval '1 minute' END,"
        "  CASE WHEN s < 15 AND (i + k) %% 3 = 0 THEN %(organizer)s::uuid END,"
        "  requested_at + interval '3 minutes'"
        " FROM plan CROSS JOIN LATERAL generate_series(1, q) AS k WHERE s <= 15",
        params,
    )  # fmt: skip
    cur.execute("SELECT count(*) FROM ticket WHERE event_id = %s", (event_id,))
    (tickets,) = cur.fetchone()
    cur.execute("DROP TABLE plan")
    return EventRows(event_id, type_ids, n, tickets)


@dataclass(frozen=True)
class Platform:
    organization_id: uuid.UUID
    big: EventRows
    small: EventRows
    fill_seconds: float


def fill(libpq_dsn: str) -> Platform:
    began = time.perf_counter()
    organization_id, organizer_id = uuid.uuid4(), uuid.uuid4()
    with _connection(libpq_dsn) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO organization (id, name, created_at) VALUES (%s, 'Bench Arenas', now())",
                    (organization_id,))  # fmt: skip
        cur.execute(
            'INSERT INTO "user" (id, email, password_hash, name, role, organization_id, created_at)'
            " VALUES (%s, %s, %s, 'Olivia Organizer', 'organizer', %s, now())",
            (organizer_id, ORGANIZER_EMAIL, hash_password(ORGANIZER_PASSWORD), organization_id),
        )
        big = fill_event(cur, organization_id, organizer_id, "The Big Night", 0, BOOKINGS)
        conn.commit()
        smalls = []
        for k in range(SMALL_EVENTS):
            first = BOOKINGS + k * SMALL_BOOKINGS
            smalls.append(
                fill_event(cur, organization_id, organizer_id, f"Club Night {k + 1}", first, SMALL_BOOKINGS)
            )
            conn.commit()
    with _connection(libpq_dsn) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("VACUUM ANALYZE")
    return Platform(organization_id, big, smalls[0], time.perf_counter() - began)


@contextmanager
def _connection(libpq_dsn: str) -> Iterator[psycopg2.extensions.connection]:
    conn = psycopg2.connect(libpq_dsn)
    try:
        yield conn
    finally:
        conn.close()


# --- the API ---------------------------------------------------------------------------------------


@contextmanager
def procfile_web(env: dict[str, str]) -> Iterator[servers.Server]:
    """The Procfile's `web` process (gunicorn with gunicorn.conf.py), with one worker."""
    port = servers.free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "gunicorn", "api:create_app()", "--config", "gunicorn.conf.py",
            "--bind", f"127.0.0.1:{port}"]  # fmt: skip
    with servers.running_process(
        argv, ready=lambda _: servers.http_answers(url + "/healthz"), env=env, start_timeout=60
    ) as running:
        yield servers.Server(url, running)


def worker_pid(server: servers.Server) -> int:
    master = server.running.process.pid
    with open(f"/proc/{master}/task/{master}/children") as listing:
        children = listing.read().split()
    if len(children) != 1:
        raise RuntimeError(f"gunicorn should run one worker, it runs {len(children)}")
    return int(children[0])


def _status_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def reset_peak_rss(pid: int) -> None:
    """Start VmHWM again from the current RSS (Linux: 5 to clear_refs)."""
    with open(f"/proc/{pid}/clear_refs", "w") as clear:
        clear.write("5")


class Client:
    def __init__(self, url: str, token: str):
        self.url = url
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"

    def timed_json(self, path: str, params) -> tuple[float, requests.Response]:
        began = time.perf_counter()
        response = self.http.get(self.url + path, params=params, timeout=60)
        elapsed = time.perf_counter() - began
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} {params} answered {response.status_code}: {response.text[:300]}")
        return elapsed, response

    def export(self, path: str, params) -> Export:
        began = time.perf_counter()
        with self.http.get(self.url + path, params=params, headers={"Accept": "text/csv"}, stream=True,
                           timeout=300) as response:  # fmt: skip
            if response.status_code != 200:
                raise RuntimeError(f"CSV {path} answered {response.status_code}: {response.text[:300]}")
            first_byte, size, newlines = None, 0, 0
            for chunk in response.iter_content(chunk_size=65536):
                if first_byte is None:
                    first_byte = time.perf_counter() - began
                size += len(chunk)
                newlines += chunk.count(b"\n")
        total = time.perf_counter() - began
        # Cells hold no line breaks here, so every line but the header is a row.
        return Export(rows=newlines - 1, bytes=size, first_byte_s=first_byte or total, total_s=total)


@dataclass(frozen=True)
class Export:
    rows: int
    bytes: int
    first_byte_s: float
    total_s: float

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.total_s


def login(url: str) -> str:
    response = requests.post(url + "/api/v1/auth/login",
                             json={"email": ORGANIZER_EMAIL, "password": ORGANIZER_PASSWORD}, timeout=30)  # fmt: skip
    response.raise_for_status()
    return response.json()["access_token"]


def median_seconds(run: Callable[[], float], repeats: int = REPEATS) -> float:
    run()  # the first answer warms the worker's and the database's caches
    return statistics.median(run() for _ in range(repeats))


# --- what is measured ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListCase:
    """A list page through the API, and the back-office query (of ids) whose page it is."""

    name: str
    path: str
    params: dict
    query: sa.Select


def list_cases(platform: Platform, libpq_dsn: str) -> list[ListCase]:
    event = platform.big.event_id
    with _connection(libpq_dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT b.id, u.email FROM booking b JOIN \"user\" u ON u.id = b.user_id"
                    " WHERE b.event_id = %s AND b.queue_seq = 54321", (event,))  # fmt: skip
        booking_id, email = cur.fetchone()
    reference = booking_id.replace("-", "")[-10:].upper()
    standard = platform.big.ticket_type_ids[0]
    bookings, attendees = f"/api/v1/events/{event}/bookings", f"/api/v1/events/{event}/attendees"
    last_bookings_page = -(-BOOKINGS // PAGE_SIZE)
    day = SALE_START + dt.timedelta(days=1)

    def b(name, params, **filters):
        query = back_office.event_bookings_query(event, back_office.BookingFilters(**filters))
        return ListCase(f"bookings, {name}", bookings, params, query)

    def a(name, params, **filters):
        query = back_office.event_attendees_query(event, back_office.AttendeeFilters(**filters))
        return ListCase(f"attendees, {name}", attendees, params, query)

    return [
        b("first page", {}),
        b(f"page {last_bookings_page} (last)", {"page": last_bookings_page}),
        b("oldest first", {"sort": "created_at"}, newest_first=False),
        b("q=nakamura (name)", {"q": "nakamura"}, q="nakamura"),
        b("q=email", {"q": email}, q=email),
        b("q=reference", {"q": reference}, q=reference),
        b("status=cancelled", {"status": "cancelled"}, statuses=("cancelled",)),
        b("ticket type", {"ticket_type_id": standard}, ticket_type_id=standard),
        b(
            "one day",
            {"created_after": SALE_START.isoformat(), "created_before": day.isoformat()},
            created_after=SALE_START,
            created_before=day,
        ),  # fmt: skip
        a("first page", {}),
        a(f"page {2 * last_bookings_page} (last)", {"page": 2 * last_bookings_page}),
        a("q=nakamura", {"q": "nakamura"}, q="nakamura"),
        a("q=reference", {"q": reference}, q=reference),
        a("checked in", {"checked_in": "true"}, checked_in=True),
        a("ticket type", {"ticket_type_id": standard}, ticket_type_id=standard),
    ]


def page_sql(case: ListCase) -> tuple[str, str]:
    """The SQL that finds the page: its count, then its ids (as `paginate_select` does)."""
    page = int(case.params.get("page", 1))
    count = sa.select(sa.func.count()).select_from(case.query.order_by(None).subquery())
    rows = case.query.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    return _literal_sql(count), _literal_sql(rows)


def _literal_sql(query) -> str:
    return str(query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))


def raw_seconds(cur, statements: tuple[str, ...]) -> float:
    def once() -> float:
        began = time.perf_counter()
        for statement in statements:
            cur.execute(statement)
            cur.fetchall()
        return time.perf_counter() - began

    return median_seconds(once)


# The CSV exports' columns, as one SQL statement each: what PostgreSQL alone takes to write them.
BOOKINGS_COPY = """
SELECT b.id, upper(right(b.id::text, 10)), u.id, u.name, u.email, b.status, b.reason,
       (SELECT string_agg(l.quantity || ' x ' || tt.name, '; ') FROM booking_line l
          JOIN ticket_type tt ON tt.id = l.ticket_type_id WHERE l.booking_id = b.id),
       b.total, b.currency, b.requested_at, b.decided_at, b.hold_expires_at,
       (SELECT p.status FROM payment p WHERE p.booking_id = b.id ORDER BY p.created_at DESC LIMIT 1)
FROM booking b JOIN "user" u ON u.id = b.user_id
WHERE b.event_id = '{event}' ORDER BY b.requested_at DESC, b.id DESC
"""
ATTENDEES_COPY = """
SELECT t.id, t.code, t.attendee_name, u.email, tt.name, t.booking_id, upper(right(t.booking_id::text, 10)),
       t.status, t.checked_in_at, t.checked_in_by
FROM ticket t JOIN booking b ON b.id = t.booking_id JOIN "user" u ON u.id = b.user_id
JOIN ticket_type tt ON tt.id = t.ticket_type_id
WHERE t.event_id = '{event}' ORDER BY t.attendee_name, t.id
"""


def copy_seconds(cur, select: str) -> tuple[float, int]:
    sink = _CountingSink()
    began = time.perf_counter()
    cur.copy_expert(f"COPY ({select}) TO STDOUT WITH (FORMAT csv, HEADER)", sink)
    return time.perf_counter() - began, sink.newlines - 1


class _CountingSink(io.RawIOBase):
    def __init__(self):
        self.newlines = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.newlines += bytes(data).count(b"\n")
        return len(data)


def explain(cur, statement: str) -> list[str]:
    cur.execute(f"EXPLAIN (ANALYZE, BUFFERS) {statement}")
    return [line for (line,) in cur.fetchall()]


# --- the run ---------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.back_office", description=__doc__.split("\n\n")[0])
    env = os.environ.get
    parser.add_argument("--dsn", default=env("BENCH_DATABASE_URL", DEFAULT_DSN))
    parser.add_argument("--redis-url", default=env("BENCH_REDIS_URL", DEFAULT_REDIS_URL))
    parser.add_argument("--revision", default="head", help="migrate the bench database to this revision")
    parser.add_argument("--plans", action="store_true", help="print EXPLAIN (ANALYZE, BUFFERS) of each query")
    parser.add_argument("--keep", action="store_true", help="keep the bench database at the end")
    args = parser.parse_args(argv)
    libpq_dsn = args.dsn.replace("postgresql+psycopg2://", "postgresql://")

    fresh_database(args.dsn, args.revision)
    try:
        platform = fill(libpq_dsn)
        print(f"filled in {platform.fill_seconds:.0f} s: {platform.big.bookings:,} bookings and"
              f" {platform.big.tickets:,} tickets in the big event, {SMALL_EVENTS} events of"
              f" {platform.small.bookings:,} and {platform.small.tickets:,} beside it")  # fmt: skip
        figures, details = measure(args, libpq_dsn, platform)
    finally:
        if not args.keep:
            drop_database(args.dsn)
    name = "back_office" if args.revision == "head" else f"back_office_{args.revision}"
    report.print_table(figures, f"Back office, revision {args.revision}")
    path = report.write_result(name, figures, details=details, dsn=None, redis_url=args.redis_url)
    print(f"wrote {path.relative_to(servers.REPO_ROOT)}")


def measure(args, libpq_dsn: str, platform: Platform) -> tuple[list[report.Figure], dict]:
    figures: list[report.Figure] = []
    details: dict = {"revision": args.revision, "bookings": platform.big.bookings, "tickets": platform.big.tickets,
                     "other_events": SMALL_EVENTS, "page_size": PAGE_SIZE, "repeats": REPEATS,
                     "fill_seconds": platform.fill_seconds, "plans": {}}  # fmt: skip
    details["machine_postgresql"] = report.machine_facts(dsn=libpq_dsn)["postgresql"]
    cases = list_cases(platform, libpq_dsn)
    web_env = {"DATABASE_URL": args.dsn, "REDIS_URL": args.redis_url, "RATE_LIMITS_ENABLED": "false",
               "PAYMENT_PROVIDER": "local", "WEB_CONCURRENCY": "1", "WEB_THREADS": "4",
               "PYTHONUNBUFFERED": "1"}  # fmt: skip
    with _connection(libpq_dsn) as conn, conn.cursor() as cur, procfile_web(web_env) as server:
        conn.autocommit = True
        client = Client(server.url, login(server.url))
        for case in cases:
            params = {"page_size": PAGE_SIZE, **case.params}
            api = median_seconds(lambda case=case, params=params: client.timed_json(case.path, params)[0])
            count_sql, rows_sql = page_sql(case)
            raw = raw_seconds(cur, (count_sql, rows_sql))
            total = json.loads(client.timed_json(case.path, params)[1].headers["X-Pagination"])["total"]
            figures.append(report.Figure(f"{case.name} ({total:,})", api * 1000, "ms", raw * 1000))
            if args.plans:
                details["plans"][case.name] = {
                    "count": explain(cur, count_sql),
                    "rows": explain(cur, rows_sql),
                }
                _print_plan(case.name, details["plans"][case.name])

        event = platform.big.event_id
        for interval in ("hour", "day"):
            path = f"/api/v1/events/{event}/analytics"
            api = median_seconds(
                lambda path=path, interval=interval: client.timed_json(path, {"interval": interval})[0], 3
            )
            figures.append(report.Figure(f"analytics, interval={interval}", api * 1000, "ms"))

        worker = worker_pid(server)
        exports = {}
        for what, copy_sql in (("bookings", BOOKINGS_COPY), ("attendees", ATTENDEES_COPY)):
            for rows in (platform.small, platform.big):
                path = f"/api/v1/events/{rows.event_id}/{what}"
                client.export(path, {})  # warms the worker, then its peak is measured from here
                reset_peak_rss(worker)
                before_kib = _status_kib(worker, "VmRSS")
                done = client.export(path, {})
                peak_kib = _status_kib(worker, "VmHWM")
                copy_s, copy_rows = copy_seconds(cur, copy_sql.format(event=rows.event_id))
                if copy_rows != done.rows:
                    raise RuntimeError(f"{what}: the API exported {done.rows} rows, COPY {copy_rows}")
                exports[f"{what}_{done.rows}"] = {"rows": done.rows, "bytes": done.bytes,
                    "first_byte_s": done.first_byte_s, "total_s": done.total_s, "copy_s": copy_s,
                    "rss_before_kib": before_kib, "peak_rss_kib": peak_kib}  # fmt: skip
                label = f"{what} CSV, {done.rows:,} rows"
                figures += [
                    report.Figure(f"{label}: first byte", done.first_byte_s * 1000, "ms"),
                    report.Figure(f"{label}: total (ref: COPY)", done.total_s * 1000, "ms", copy_s * 1000),
                    report.Figure(
                        f"{label}: rate (ref: COPY)", done.rows_per_s, "rows/s", copy_rows / copy_s
                    ),
                    report.Figure(f"{label}: worker peak RSS", peak_kib / 1024, "MiB"),
                ]
        details["exports"] = exports
        if args.plans:
            details["plans"].update(export_plans(cur, platform))
    return figures, details


def export_plans(cur, platform: Platform) -> dict:
    """Each export's one statement, as its server-side cursor runs it."""
    event = platform.big.event_id
    plans = {}
    for name, query in (
        ("bookings export", back_office.event_bookings_export_query(event, back_office.BookingFilters())),
        ("attendees export", back_office.event_attendees_export_query(event, back_office.AttendeeFilters())),
    ):
        plans[name] = {"rows": explain(cur, _literal_sql(query))}
        _print_plan(name, plans[name])
    return plans


def _print_plan(name: str, plans: dict) -> None:
    for part, lines in plans.items():
        print(f"--- {name}: {part}")
        print("\n".join(lines))


if __name__ == "__main__":
    main()
