"""The sale under faults: a small sale over HTTP against the Procfile's processes, one fault at a time.

gunicorn (two workers), two Celery workers and beat run on a Redis of this run (append-only
file on, as compose runs it) and a PostgreSQL cluster of this run, both on free ports; the
machine's own servers are never touched. For each fault a fresh event goes on sale and
customers book at a steady pace, each with its own Idempotency-Key, retrying with that same key
on a 503, a timeout or a dropped connection, as the README tells clients to. Two seconds in,
the fault strikes:

    redis_restart     redis-server SIGKILLed, restarted a second later (it replays its AOF)
    redis_freeze      redis-server stopped (SIGSTOP) for 3 s
    postgres_restart  PostgreSQL stopped (fast shutdown), started a second later
    worker_kill       one Celery worker SIGKILLed mid-sale, a new one started (a supervisor's job)
    beat_kill         beat SIGKILLed, not restarted until the sale is over
    gunicorn_kill     one gunicorn worker SIGKILLed (the master starts another)

Then, once every request is decided, it counts: accepted (a customer got a booking id), lost
(accepted, never decided), duplicated (a customer with two bookings, or a queue number given
twice), oversold (tickets held or sold beyond the quota), every answer that was not a success
by status, requests never answered after all retries, and the recovery time (from the fault's
end until new requests are accepted and decisions flow again).

    python -m bench.chaos                 # every fault, prints the table, writes bench/results/chaos.json
    python -m bench.chaos --only redis_freeze worker_kill
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime as dt
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import redis
import requests
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from flask_jwt_extended import create_access_token

from bench import report
from bench.servers import REPO_ROOT, free_port, http_answers, running_process, stop_process
from core import runtime
from core.config import Settings
from core.models import Booking, BookingLine, DeadLetter, Event, Organization, TicketType, User, utcnow
from core.services.accounts import hash_password
from core.statuses import Role
from tests.faults import PostgresCluster, discard_postgres_cluster, start_postgres_cluster
from tests.processes import child_env, procfile_command

CUSTOMERS = 240
QUOTA = 100
RATE = 40  # new customers per second: the sale lasts six seconds, the fault strikes at two
FAULT_AT = 2.0
CLIENT_TIMEOUT = 5.0
GIVE_UP_AFTER = 60.0  # a customer retries this long before the request counts as unanswered
SETTLE_TIMEOUT = 120.0
RETRYABLE = {429, 502, 503, 504}


@dataclass
class PhaseResult:
    fault: str
    accepted: int = 0
    lost: int = 0
    duplicated: int = 0
    oversold: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    unanswered: int = 0
    dead_letters: int = 0
    recovery_seconds: float | None = None


class PrivateRedis:
    """A redis-server of this run with its append-only file, killed and restarted on one port."""

    def __init__(self, stack: contextlib.ExitStack):
        self.stack = stack
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="boxoffice-chaos-redis-"))
        stack.callback(shutil.rmtree, self.dir, ignore_errors=True)
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
                "--appendonly", "yes", "--appendfsync", "everysec", "--save", ""]  # fmt: skip
        self.process = self.stack.enter_context(
            running_process(argv, ready=lambda _: self._answers())
        ).process

    def _answers(self) -> bool:
        try:
            return redis.Redis(port=self.port, socket_timeout=1).ping()
        except redis.RedisError:
            return False


class Stack:
    """The Procfile's web, two workers and beat, each restartable after a kill."""

    def __init__(self, stack: contextlib.ExitStack, env: dict[str, str], schedule: Path):
        self.stack, self.env, self.schedule = stack, env, schedule
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.web = self._run(procfile_command("web"), {"PORT": str(self.port), "WEB_CONCURRENCY": "2"},
                             lambda: http_answers(f"{self.base}/healthz"))  # fmt: skip
        self.web_log = self.last
        self.workers = [self.start_worker(), self.start_worker()]
        self.beat = self.start_beat()

    def _run(self, command: str, extra: dict, ready: Callable[[], bool]):
        argv = ["bash", "-c", f"exec {command}"]
        env = {**self.env, **extra}
        self.last = self.stack.enter_context(running_process(argv, ready=lambda _: ready(), env=env))
        return self.last.process

    def start_worker(self):
        name = f"chaos-{uuid.uuid4().hex[:6]}"
        command = f"{procfile_command('worker')} --hostname {name}@%h --without-gossip --without-mingle"
        return self._run(command, {"WORKER_CONCURRENCY": "2"}, lambda: True)

    def start_beat(self):
        return self._run(procfile_command("beat").split(" --schedule")[0] + f" --schedule {self.schedule}", {},
                         lambda: True)  # fmt: skip

    def gunicorn_workers(self) -> list[int]:
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == self.web.pid:
                    children.append(int(stat.parent.name))
        return children


def kill_group(process) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def faults(
    stack: Stack, redis_server: PrivateRedis, postgres: PostgresCluster
) -> dict[str, Callable[[], None]]:
    """Each fault strikes and returns once it is over (beat stays dead until the phase ends)."""

    def redis_restart():
        kill_group(redis_server.process)
        time.sleep(1)
        redis_server.start()

    def redis_freeze():
        redis_server.process.send_signal(signal.SIGSTOP)
        time.sleep(3)
        redis_server.process.send_signal(signal.SIGCONT)

    def postgres_restart():
        postgres.stop()
        time.sleep(1)
        postgres.start()

    def worker_kill():
        kill_group(stack.workers[0])
        stack.workers[0] = stack.start_worker()

    def beat_kill():
        kill_group(stack.beat)

    def gunicorn_kill():
        os.kill(stack.gunicorn_workers()[0], signal.SIGKILL)

    return {fault.__name__: fault for fault in (redis_restart, redis_freeze, postgres_restart, worker_kill,
                                                  beat_kill, gunicorn_kill)}  # fmt: skip


class Sale:
    """One event, its customers, and what their clients saw."""

    def __init__(self, db, app, organization_id: uuid.UUID, base: str):
        self.db, self.base = db, base
        starts = utcnow() + dt.timedelta(days=30)
        with db.unit_of_work() as uow:
            event = Event(organization_id=organization_id, title="Chaos", starts_at=starts, status="published",
                          ends_at=starts + dt.timedelta(hours=3), published_at=utcnow())  # fmt: skip
            event.ticket_types.append(TicketType(name="Standard", price=2500, currency="EUR", quota=QUOTA))
            uow.session.add(event)
            ids = [uuid.uuid4() for _ in range(CUSTOMERS)]
            uow.session.execute(sa.insert(User), [{"id": i, "email": f"{i.hex}@chaos.test", "password_hash": PASSWORD,
                                                   "name": "Fan", "role": Role.CUSTOMER} for i in ids])  # fmt: skip
            uow.commit()
            self.event_id, self.ticket_type_id = event.id, event.ticket_types[0].id
        with app.app_context():
            self.tokens = [create_access_token(identity=str(i), additional_claims={"role": Role.CUSTOMER, "sid": "chaos"})
                           for i in ids]  # fmt: skip
        self.accepted: dict[int, str] = {}
        self.attempts: list[tuple[float, float, str]] = []  # (sent, answered, outcome)
        self.unanswered: list[int] = []  # customers still without an answer when they gave up
        self.lock = threading.Lock()

    def book(self, index: int) -> None:
        body = {
            "event_id": str(self.event_id),
            "items": [{"ticket_type_id": str(self.ticket_type_id), "quantity": 1}],
        }
        headers = {"Authorization": f"Bearer {self.tokens[index]}", "Idempotency-Key": f"chaos-{index}"}
        give_up = time.monotonic() + GIVE_UP_AFTER
        with requests.Session() as session:
            while time.monotonic() < give_up:
                sent = time.monotonic()
                try:
                    response = session.post(f"{self.base}/api/v1/bookings", json=body, headers=headers,
                                            timeout=CLIENT_TIMEOUT)  # fmt: skip
                    outcome = str(response.status_code)
                except requests.Timeout:
                    outcome = "timeout"
                except requests.ConnectionError:
                    outcome = "connection"
                with self.lock:
                    self.attempts.append((sent, time.monotonic(), outcome))
                if outcome == "202":
                    self.accepted[index] = response.json()["id"]
                    return
                if outcome.isdigit() and int(outcome) not in RETRYABLE:
                    return  # a final answer: counted among the errors
                pause = float(response.headers.get("Retry-After", 1)) if outcome.isdigit() else 0.2
                time.sleep(min(pause, 1.0))
        with self.lock:
            self.unanswered.append(index)

    def decided(self) -> int:
        with self.db.unit_of_work() as uow:
            rows = uow.session.scalar(sa.select(sa.func.count()).where(Booking.event_id == self.event_id))
            dead = uow.session.scalar(sa.select(sa.func.count()).where(DeadLetter.event_id == self.event_id))
            return rows + dead


PASSWORD = hash_password("chaos-password")


def run_phase(name: str, strike: Callable[[], None], sale: Sale) -> PhaseResult:
    samples: list[tuple[float, int]] = []
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            with contextlib.suppress(Exception):  # PostgreSQL may be the fault
                samples.append((time.monotonic(), sale.decided()))
            time.sleep(0.2)

    ended: list[float] = []
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.monotonic()
    with ThreadPoolExecutor(64) as pool:
        futures = []
        for index in range(CUSTOMERS):
            time.sleep(max(0.0, started + index / RATE - time.monotonic()))
            futures.append(pool.submit(sale.book, index))
            if index == int(FAULT_AT * RATE):
                fault_thread = threading.Thread(target=lambda: ended.append((strike(), time.monotonic())[1]))
                fault_thread.start()
        fault_thread.join()
        fault_end = ended[0]
        for future in futures:
            future.result()
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while sale.decided() < len(sale.accepted) and time.monotonic() < deadline:
        time.sleep(0.2)
    stop.set()
    sampler.join()
    return measure(name, sale, samples, fault_end)


def measure(name: str, sale: Sale, samples: list[tuple[float, int]], fault_end: float) -> PhaseResult:
    result = PhaseResult(name, accepted=len(sale.accepted))
    with sale.db.unit_of_work() as uow:
        rows = uow.session.execute(
            sa.select(Booking.id, Booking.user_id, Booking.queue_seq, Booking.status).where(
                Booking.event_id == sale.event_id
            )
        ).all()
        taken = uow.session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(BookingLine.quantity), 0))
            .join(Booking, Booking.id == BookingLine.booking_id)
            .where(Booking.event_id == sale.event_id, Booking.status.in_(("held", "confirmed")))
        )
        dead = set(
            uow.session.scalars(sa.select(DeadLetter.booking_id).where(DeadLetter.event_id == sale.event_id))
        )
    decided = {str(row.id) for row in rows} | {str(i) for i in dead}
    result.lost = sum(1 for booking_id in sale.accepted.values() if booking_id not in decided)
    users = collections.Counter(row.user_id for row in rows)
    seqs = collections.Counter(row.queue_seq for row in rows)
    result.duplicated = sum(n - 1 for n in users.values()) + sum(n - 1 for n in seqs.values())
    result.oversold = max(0, int(taken) - QUOTA)
    result.dead_letters = len(dead)
    outcomes = collections.Counter(outcome for _, _, outcome in sale.attempts if outcome != "202")
    result.errors = dict(sorted(outcomes.items()))
    result.unanswered = len(sale.unanswered)
    accepting_again = min((answered for sent, answered, outcome in sale.attempts
                           if outcome == "202" and sent >= fault_end), default=None)  # fmt: skip
    at_end = max((count for t, count in samples if t <= fault_end), default=0)
    deciding_again = min((t for t, count in samples if t > fault_end and count > at_end), default=None)
    if accepting_again is not None and deciding_again is not None:
        result.recovery_seconds = round(max(accepting_again, deciding_again) - fault_end, 2)
    return result


def print_table(results: list[PhaseResult], file=sys.stdout) -> None:
    header = [
        "fault",
        "accepted",
        "lost",
        "duplicated",
        "oversold",
        "unanswered",
        "errors by status",
        "recovery s",
    ]
    rows = [[r.fault, r.accepted, r.lost, r.duplicated, r.oversold, r.unanswered,
             ", ".join(f"{k}: {v}" for k, v in r.errors.items()) or "none",
             "-" if r.recovery_seconds is None else f"{r.recovery_seconds:.2f}"] for r in results]  # fmt: skip
    print("| " + " | ".join(header) + " |", file=file)
    print("|" + "|".join("---" for _ in header) + "|", file=file)
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |", file=file)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__.split("\n\n")[0])
    names = ["redis_restart", "redis_freeze", "postgres_restart", "worker_kill", "beat_kill", "gunicorn_kill"]
    parser.add_argument("--only", nargs="+", choices=names, default=names, metavar="FAULT")
    args = parser.parse_args(argv)
    results = []
    with contextlib.ExitStack() as stack:
        postgres = start_postgres_cluster()
        stack.callback(discard_postgres_cluster, postgres)
        database_url = postgres.admin_url.rsplit("/", 1)[0] + "/boxoffice"
        admin = sa.create_engine(postgres.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(sa.text('CREATE DATABASE "boxoffice"'))
        admin.dispose()
        config = Config(str(REPO_ROOT / "alembic.ini"))
        config.attributes["database_url"] = database_url
        config.attributes["skip_logging"] = True
        command.upgrade(config, "head")
        redis_server = PrivateRedis(stack)
        # One secret for this process and the stack it starts: tokens minted here work there.
        secret = secrets.token_hex(32)
        settings = Settings(database_url=database_url, redis_url=redis_server.url, rate_limits_enabled=False,
                            jwt_secret_key=secret)  # fmt: skip
        runtime.configure(settings)
        from api import create_app

        app = create_app(settings)
        db = runtime.database()
        with db.unit_of_work() as uow:
            organization = Organization(name="Chaos Concerts")
            uow.session.add(organization)
            uow.commit()
            organization_id = organization.id
        env = child_env(DATABASE_URL=database_url, REDIS_URL=redis_server.url, RATE_LIMITS_ENABLED="false",
                        HOLD_EXPIRY_INTERVAL="1", PAYMENT_PROVIDER="local", JWT_SECRET_KEY=secret)  # fmt: skip
        processes = Stack(stack, env, Path(tempfile.mkdtemp(prefix="boxoffice-chaos-beat-")) / "schedule")
        strikes = faults(processes, redis_server, postgres)
        for name in args.only:
            sale = Sale(db, app, organization_id, processes.base)
            result = run_phase(name, strikes[name], sale)
            results.append(result)
            print(json.dumps(asdict(result)), flush=True)
            if name == "beat_kill":
                processes.beat = processes.start_beat()
        tracebacks = [block for block in processes.web_log.log_text().split("Traceback") if " 500 " in block]
        for process in (*processes.workers, processes.beat, processes.web):
            stop_process(process)
    for block in tracebacks:  # what a 500 was, for whoever reads the run
        print("Traceback" + block[:3000], file=sys.stderr)
    print_table(results)
    path = report.RESULTS_DIR / "chaos.json"
    path.write_text(json.dumps({"customers_per_fault": CUSTOMERS, "quota": QUOTA, "rate_per_s": RATE,
                                "results": [asdict(r) for r in results]}, indent=2) + "\n")  # fmt: skip
    print(f"wrote {path.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
