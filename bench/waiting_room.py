"""Pushed status against polling: thousands of clients waiting for their decision on the
Procfile's web (gunicorn, gevent workers), in one run.

Two events, each with `--clients` queued requests (5,000), one customer each. Two phases on the
same web, one after the other, so that each way of waiting is measured under its own load:
  1. pushed: the clients of the first event wait pushed, on a status stream (`GET .../events`),
     or with `--pushed long_poll` on long polls (`GET ...?wait=60`, asked again whenever one
     answers without the decision); once all wait, a window of `--window` seconds measures the
     web's CPU;
  2. polled: the clients of the second event poll `GET /api/v1/bookings/{id}` at the
     `Retry-After` the server gives; a window measures the web's CPU and the requests per second.
In each phase a Celery worker then decides the event: decision → client latency, p50/p99. The
decision's moment is when the drainer's announcement of its batch (`core.live_status`), sent once
the batch is committed, reaches this machine: a subscription of the benchmark's own, on a thread
of its own so the clients' event loop cannot delay the stamp. (The booking's `decided_at` is
stamped when its batch starts; the time from it to the announcement is the batch's own work,
shown apart.) CPU is the web's worker processes', read from /proc, less an idle window's.

The load generator is one process, one event loop (aiohttp) and one thread; its own CPU is
reported beside the web's. Clients arrive at `--arrivals` per second, as they would at a sale.

    python -m bench.waiting_room [--clients 5000] [--window 20] [--arrivals 250] [--pushed long_poll]

A long poll answers when its position moves by a tenth, and its client asks again: in this
benchmark's queue (5 batches long) every batch moves every position that much, so all the long
polls ask again at every batch, a burst a stream does not make (docs/waiting-room.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import secrets
import signal
import statistics
import sys
import threading
import time
import uuid

import aiohttp
import redis
import sqlalchemy as sa

from bench import report, servers
from bench.flash_sale import DEFAULT_DSN, DEFAULT_REDIS_URL, Bench
from core import live_status, runtime
from core.inventory import Line
from core.jobs import Job
from core.models import Booking
from core.services import bookings

TICKS = os.sysconf("SC_CLK_TCK")
LONG_POLL_SECONDS = 60
WAITERS = re.compile(r"^boxoffice_live_status_waiters (\S+)$", re.M)


def worker_pids(master_pid: int) -> list[int]:
    """The gunicorn master's children (its workers), found in /proc."""
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == master_pid:
                children.append(int(entry))
    return children


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / TICKS


def queue_requests(event_id, ticket_type_id, customers) -> list[str]:
    """One queued request per customer through the API's own code, scheduling no drain."""
    items = (Line(ticket_type_id, 1),)
    runtime.set_dispatcher(lambda _job, _kwargs: None)
    try:
        return [str(bookings.request_booking(runtime.database(), user_id, bookings.BookingAsk(event_id, items),
                                             session_id="b")["id"])
                for user_id, _ in customers]  # fmt: skip
    finally:
        # Imported only now: the Celery app is made for the run's Redis once `Bench` configured it.
        from worker.celery_app import dispatch_job

        runtime.set_dispatcher(dispatch_job)


class Announcements:
    """When each booking's decision was announced, on this machine's clock (see the docstring)."""

    def __init__(self, redis_url: str):
        self.at: dict[str, float] = {}
        self._pubsub = redis.Redis.from_url(redis_url, decode_responses=True).pubsub()
        self._pubsub.psubscribe(f"{live_status.CHANNEL_PREFIX}*")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="announcements", daemon=True)

    def __enter__(self) -> Announcements:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._pubsub.close()

    def _listen(self) -> None:
        while not self._stop.is_set():
            message = self._pubsub.get_message(timeout=0.2)
            if message and message["type"] == "pmessage":
                now = time.time()
                for booking_id in json.loads(message["data"]).get("ids", ()):
                    self.at[booking_id] = now


class Clients:
    """The waiting clients: when each saw its booking decided (this machine's clock), and the
    requests they made."""

    def __init__(self, base: str, session: aiohttp.ClientSession):
        self.base, self.session = base, session
        self.seen: dict[str, float] = {}
        self.answered: set[str] = set()  # the pollers that had their first answer
        self.retry_after: list[int] = []  # what the pollers were told
        self.requests = 0
        self.status_events = 0  # the streams' `status` events, the first included
        self.refused = 0
        self.broken = 0

    async def _until_decided(self, booking_id: str, attempt) -> None:
        """`attempt()` again until it sees the decision; a connection that breaks or times out is
        made again at once, as an EventSource or a client's retry does."""
        while True:
            try:
                if await attempt():
                    self.seen[booking_id] = time.time()
                    return
            except (TimeoutError, aiohttp.ClientError):
                self.broken += 1

    def _get(self, url: str, token: str):
        self.requests += 1
        return self.session.get(url, headers={"Authorization": f"Bearer {token}"})

    async def _refused(self, answer: aiohttp.ClientResponse) -> bool:
        self.refused += 1
        await asyncio.sleep(int(answer.headers.get("Retry-After", "1")))
        return False

    async def stream(self, booking_id: str, token: str) -> None:
        """Follow the stream until the booking is decided; a refused one again at Retry-After."""
        url = f"{self.base}/api/v1/bookings/{booking_id}/events"

        async def attempt() -> bool:
            async with self._get(url, token) as answer:
                if answer.status != 200:
                    return await self._refused(answer)
                async for line in answer.content:
                    if line.startswith(b"data: "):
                        self.status_events += 1
                        if json.loads(line[6:])["status"] != "queued":
                            return True
            return False

        await self._until_decided(booking_id, attempt)

    async def long_poll(self, booking_id: str, token: str) -> None:
        """Long polls, one after another, until one answers the decision."""
        url = f"{self.base}/api/v1/bookings/{booking_id}?wait={LONG_POLL_SECONDS}"

        async def attempt() -> bool:
            async with self._get(url, token) as answer:
                if answer.status != 200:
                    return await self._refused(answer)
                return (await answer.json())["status"] != "queued"

        await self._until_decided(booking_id, attempt)

    async def poll(self, booking_id: str, token: str) -> None:
        """Polls at the Retry-After each answer gives, until one answers the decision."""
        url = f"{self.base}/api/v1/bookings/{booking_id}"

        async def attempt() -> bool:
            async with self._get(url, token) as answer:
                self.answered.add(booking_id)
                if answer.status == 200 and (await answer.json())["status"] != "queued":
                    return True
                self.refused += answer.status != 200
                wait = int(answer.headers.get("Retry-After", "1"))
                self.retry_after.append(wait)
            await asyncio.sleep(wait)
            return False

        await self._until_decided(booking_id, attempt)


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


class Run:
    """One run: the web, its worker processes, the worker deciding, and the clients."""

    def __init__(
        self, args, bench: Bench, web: servers.Server, metrics_token: str, announcements: Announcements
    ):
        self.args, self.bench, self.web = args, bench, web
        self.metrics_headers = {"Authorization": f"Bearer {metrics_token}"}
        self.announcements = announcements
        self.pids = worker_pids(web.running.process.pid)

    async def window(self, clients: Clients | None = None) -> dict:
        """The web's CPU, the load generator's and the clients' requests over one window."""
        web, own, asked = cpu_seconds(self.pids), time.process_time(), clients.requests if clients else 0
        await asyncio.sleep(self.args.window)
        return {
            "web_cpu_s": cpu_seconds(self.pids) - web,
            "load_generator_cpu_s": time.process_time() - own,
            "requests_per_s": ((clients.requests if clients else 0) - asked) / self.args.window,
        }

    async def arrive(self, ways, ids: list[str], tokens: list[str], began: float) -> list[asyncio.Task]:
        """Start client i waiting its way (`ways[i % len(ways)]`), `--arrivals` a second."""
        tasks = []
        for i, (booking_id, token) in enumerate(zip(ids, tokens, strict=True)):
            tasks.append(asyncio.create_task(ways[i % len(ways)](booking_id, token)))
            await asyncio.sleep(max(0.0, i / self.args.arrivals - (time.monotonic() - began)))
        return tasks

    async def waiting(self, session: aiohttp.ClientSession) -> int:
        async with session.get(f"{self.web.url}/metrics", headers=self.metrics_headers) as answer:
            found = WAITERS.search(await answer.text())
        return int(float(found.group(1))) if found else 0

    async def decide(self, event_id: str, tasks: list[asyncio.Task]) -> dict:
        """Ask the worker to decide the event and wait for every client to see its decision, or
        `--patience` seconds (a saturated web may leave some clients unanswered that long)."""
        began, web = time.monotonic(), cpu_seconds(self.pids)
        runtime.dispatch(Job.DRAIN_EVENT, event_id=event_id)
        _, waiting = await asyncio.wait(tasks, timeout=self.args.patience)
        return {
            "decided_and_seen_in_s": time.monotonic() - began,
            "web_cpu_s_deciding": cpu_seconds(self.pids) - web,
            "not_seen_after_patience": len(waiting),
        }

    def latencies(self, clients: Clients, ids: list[str]) -> dict:
        with self.bench.db.unit_of_work() as uow:
            decided = dict(uow.session.execute(sa.select(Booking.id, Booking.decided_at).where(
                Booking.id.in_([uuid.UUID(b) for b in ids]))).all())  # fmt: skip
        announced = self.announcements.at
        # A client that never saw its decision counts as the slowest (p99 = inf: more than 1 % did not).
        told = [b for b in ids if b in clients.seen and b in announced]
        after = [clients.seen[b] - announced[b] for b in told] + [math.inf] * (len(ids) - len(told))
        # Within the patience a starved worker may not have decided (or announced) them all.
        batch = [announced[b] - decided[uuid.UUID(b)].timestamp() for b in ids
                 if b in announced and uuid.UUID(b) in decided] or [math.inf]  # fmt: skip
        return {"min_s": min(after), "p50_s": percentile(after, 50), "p99_s": percentile(after, 99),
                "max_s": max(after),
                "decided_at_to_announced_p50_s": percentile(batch, 50),
                "decided_at_to_announced_max_s": max(batch)}  # fmt: skip

    async def phase(self, session, name: str, ways: list[str], event_id: str, ids: list[str],
                    tokens: list[str]) -> dict:  # fmt: skip
        clients = Clients(self.web.url, session)
        began, web = time.monotonic(), cpu_seconds(self.pids)
        tasks = await self.arrive([getattr(clients, way) for way in ways], ids, tokens, began)
        arrived = time.monotonic()
        try:
            # Every client waiting: the streams and long polls registered, every poller answered
            # once. A web saturated by polls may take long to answer them all: then the window
            # starts `--window` seconds after the last arrival (the figures say how many had been).
            while (count := await self.waiting(session) if name == "pushed" else len(clients.answered)) < len(
                ids
            ) and (name == "pushed" or time.monotonic() - arrived < self.args.window):
                progress(f"{name}: {count} of {len(ids)} waiting")
                await asyncio.sleep(1)
            ready, arriving = time.monotonic() - began, cpu_seconds(self.pids) - web
            progress(f"{name}: {count} of {len(ids)} clients waiting after {ready:.1f} s; measuring")
            measured = {**await self.window(clients), "waiting_when_measured": count}
            progress(f"{name}: deciding")
            deciding = await self.decide(event_id, tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        by_way = {way: self.latencies(clients, ids[i :: len(ways)]) for i, way in enumerate(ways)}
        figures = {"clients": len(ids), "all_waiting_after_s": ready, "web_cpu_s_arriving": arriving, **measured, **deciding,
                "requests": clients.requests, "stream_status_events": clients.status_events,
                "mean_retry_after_s": statistics.fmean(clients.retry_after) if clients.retry_after else None,
                "refused_then_retried": clients.refused, "broken_then_made_again": clients.broken,
                "latency": by_way}  # fmt: skip
        progress(f"{name}: {json.dumps(figures)}")
        return figures

    async def run(
        self, pushed: tuple[str, list[str]], polled: tuple[str, list[str]], tokens: list[str]
    ) -> dict:
        connector = aiohttp.TCPConnector(limit=0)
        timeout = aiohttp.ClientTimeout(total=None, sock_read=LONG_POLL_SECONDS + 60)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            await asyncio.sleep(2)  # the workers' start settles
            idle = await self.window()
            progress(f"idle web: {idle['web_cpu_s']:.2f} CPU s in {self.args.window:.0f} s")
            figures = {"idle": idle}
            figures["pushed"] = await self.phase(session, "pushed", [self.args.pushed], *pushed, tokens)
            figures["polled"] = await self.phase(session, "polled", ["poll"], *polled, tokens)
        return figures


def cpu_per_client_minute(phase: dict, idle: dict, window: float) -> float:
    """ms of the web's CPU per waiting client per minute, beyond what the idle web takes."""
    return 1000 * (phase["web_cpu_s"] - idle["web_cpu_s"]) / phase["clients"] * 60 / window


def summary(figures: dict, way: str, window: float) -> list[report.Figure]:
    pushed, polled, idle = figures["pushed"], figures["polled"], figures["idle"]
    latency_pushed, latency_polled = pushed["latency"][way], polled["latency"]["poll"]
    name = way.replace("_", " ")
    return [
        report.Figure(f"decision -> client p50, {name} (ref: polling)", latency_pushed["p50_s"], "s",
                      latency_polled["p50_s"]),
        report.Figure(f"decision -> client p99, {name} (ref: polling)", latency_pushed["p99_s"], "s",
                      latency_polled["p99_s"]),
        report.Figure(f"web CPU per waiting client per minute, {name} (ref: polling)",
                      cpu_per_client_minute(pushed, idle, window), "ms", cpu_per_client_minute(polled, idle, window)),
        report.Figure(f"requests/s while waiting, {name} (ref: polling)", pushed["requests_per_s"], "req/s",
                      polled["requests_per_s"]),
        report.Figure("requests/s saved by pushing", polled["requests_per_s"] - pushed["requests_per_s"], "req/s"),
        report.Figure("web CPU per poll answered", 1000 * polled["web_cpu_s"] / (polled["requests_per_s"] * window),
                      "ms"),
        report.Figure("web CPU per polling client per minute, served at its Retry-After",
                      1000 * polled["web_cpu_s"] / (polled["requests_per_s"] * window)
                      * 60 / polled["mean_retry_after_s"], "ms"),
        report.Figure(f"web CPU to decide and tell every client, {name} (ref: polling)", pushed["web_cpu_s_deciding"],
                      "s", polled["web_cpu_s_deciding"]),
        report.Figure("load generator CPU while polled (ref: the web's)", polled["load_generator_cpu_s"] / window,
                      "cores", polled["web_cpu_s"] / window),
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.waiting_room", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--dsn", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DSN))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL))
    parser.add_argument("--clients", type=int, default=5000, help="waiting clients in each phase")
    parser.add_argument("--window", type=float, default=20.0, help="seconds of each CPU window")
    parser.add_argument("--arrivals", type=float, default=250.0, help="clients arriving per second")
    parser.add_argument(
        "--patience",
        type=float,
        default=300.0,
        help="seconds a phase waits for every client to see its decision",
    )
    parser.add_argument("--pushed", choices=["stream", "long_poll"], default="stream",
                        help="how the pushed clients wait")  # fmt: skip
    args = parser.parse_args(argv)
    # Stopped (`timeout`, a CI limit), it still stops what it started on its way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    bench = Bench(args.dsn, args.redis_url)
    customers = bench.customers(args.clients)
    events = []
    for title in ("Pushed", "Polled"):
        event_id, ticket_type_id = bench.event(quota=args.clients, title=title)
        events.append((str(event_id), queue_requests(event_id, ticket_type_id, customers)))
    progress(f"{2 * args.clients} requests queued")
    procfile = (servers.REPO_ROOT / "Procfile").read_text().splitlines()
    procfile_web = next(line for line in procfile if line.startswith("web:"))
    port, metrics_token = servers.free_port(), secrets.token_hex(32)
    env = {**bench.env, "PORT": str(port), "METRICS_TOKEN": metrics_token,
           "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}"}  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with (
        servers.running_process(["bash", "-c", "exec " + procfile_web.split(":", 1)[1].strip()], env=env,
                                ready=lambda _: servers.http_answers(url + "/healthz")) as running,
        servers.celery_worker("worker", concurrency=1, env=bench.env),
        Announcements(args.redis_url) as announcements,
    ):  # fmt: skip
        run = Run(args, bench, servers.Server(url, running), metrics_token, announcements)
        figures = asyncio.run(run.run(events[0], events[1], [token for _, token in customers]))
    measured = summary(figures, args.pushed, args.window)
    print(json.dumps(figures, indent=2))
    report.print_table(
        measured, f"{args.clients} waiting clients a phase on the Procfile's web, {args.pushed} vs polled"
    )
    path = report.write_result("waiting_room" + ("" if args.pushed == "stream" else f"_{args.pushed}"), measured, details={"args": vars(args), **figures}, dsn=bench.libpq_dsn,
                               redis_url=args.redis_url)  # fmt: skip
    print(f"\nwritten to {path.relative_to(servers.REPO_ROOT)}")


if __name__ == "__main__":
    main()
