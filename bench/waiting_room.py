"""Pushed status against polling: thousands of clients waiting for their decision on the
Procfile's web (gunicorn, gevent workers), in one run.

`--clients` queued requests (5,000), half followed by a status stream (`GET .../events`), half by
clients polling `GET /api/v1/bookings/{id}` at the `Retry-After` the server gives. Three windows
of `--window` seconds each, the web's worker processes' CPU read from /proc:
  1. idle: nobody waiting (the reference: what the web costs doing nothing);
  2. the streams connected and waiting: CPU per waiting client per minute, pushed;
  3. the pollers added: the extra CPU per polling client per minute, and their requests/s (what
     pushing saves).
Then a Celery worker decides the queue: decision → client latency (the booking's `decided_at`,
written by the worker, to the moment the client read it), p50/p99, pushed vs polled.

    python -m bench.waiting_room [--clients 5000] [--window 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid

import aiohttp
import sqlalchemy as sa

from bench import servers
from bench.flash_sale import DEFAULT_DSN, DEFAULT_REDIS_URL, Bench
from core import runtime
from core.inventory import Line
from core.jobs import Job
from core.models import Booking
from core.services import bookings

TICKS = os.sysconf("SC_CLK_TCK")


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


def queue_requests(bench: Bench, event_id, ticket_type_id, customers) -> list[str]:
    """One queued request per customer through the API's own code, scheduling no drain."""
    items = (Line(ticket_type_id, 1),)
    runtime.set_dispatcher(lambda _job, _kwargs: None)
    try:
        return [str(bookings.request_booking(user_id, bookings.BookingAsk(event_id, items), session_id="b")["id"])
                for user_id, _ in customers]  # fmt: skip
    finally:
        # Imported only now: the Celery app is made for the run's Redis once `Bench` configured it.
        from worker.celery_app import dispatch_job

        runtime.set_dispatcher(dispatch_job)


class Clients:
    """The waiting clients, and when each saw its booking decided (this machine's clock)."""

    def __init__(self, base: str, session: aiohttp.ClientSession):
        self.base, self.session = base, session
        self.seen: dict[str, float] = {}
        self.stream_events = 0
        self.polls = 0
        self.errors = 0
        self.broken = 0

    async def stream(self, booking_id: str, token: str) -> None:
        """Follow the stream until the booking is decided, as an EventSource does: a refused one
        again at Retry-After, a broken one again at once."""
        url = f"{self.base}/api/v1/bookings/{booking_id}/events"
        first = True
        while True:
            async with self.session.get(url, headers={"Authorization": f"Bearer {token}"}) as answer:
                if answer.status != 200:
                    self.errors += 1
                    await asyncio.sleep(int(answer.headers.get("Retry-After", "1")))
                    continue
                try:
                    async for line in answer.content:
                        if line.startswith(b"data: "):
                            self.stream_events += first
                            first = False
                            if json.loads(line[6:])["status"] != "queued":
                                self.seen[booking_id] = time.time()
                                return
                except aiohttp.ClientPayloadError:
                    self.broken += 1

    async def poll(self, booking_id: str, token: str) -> None:
        url = f"{self.base}/api/v1/bookings/{booking_id}"
        while True:
            async with self.session.get(url, headers={"Authorization": f"Bearer {token}"}) as answer:
                self.polls += 1
                if answer.status != 200:
                    self.errors += 1
                elif (await answer.json())["status"] != "queued":
                    self.seen[booking_id] = time.time()
                    return
                wait = int(answer.headers.get("Retry-After", "1"))
            await asyncio.sleep(wait)


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def run(
    args, bench: Bench, web: servers.Server, event_id: str, ids: list[str], tokens: list[str]
) -> dict:
    pids = worker_pids(web.running.process.pid)
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=None, sock_read=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        clients = Clients(web.url, session)

        async def window() -> float:
            before = cpu_seconds(pids)
            await asyncio.sleep(args.window)
            return cpu_seconds(pids) - before

        idle = await window()
        pushed_ids, polled_ids = ids[0::2], ids[1::2]
        pushed_tokens, polled_tokens = tokens[0::2], tokens[1::2]
        streams = [
            asyncio.create_task(clients.stream(b, t)) for b, t in zip(pushed_ids, pushed_tokens, strict=True)
        ]
        while clients.stream_events < len(streams):  # each stream's first event: all are waiting
            await asyncio.sleep(1)
            progress(f"{clients.stream_events} streams connected ({clients.errors} refused, tried again)")
        progress(f"{len(streams)} streams waiting")
        pushed = await window()
        polls = [
            asyncio.create_task(clients.poll(b, t)) for b, t in zip(polled_ids, polled_tokens, strict=True)
        ]
        await asyncio.sleep(args.window / 4)  # the first round of polls
        polls_before = clients.polls
        both = await window()
        poll_rate = (clients.polls - polls_before) / args.window
        progress(f"{len(polls)} polling at {poll_rate:.0f} requests/s; deciding")
        with servers.celery_worker("worker", concurrency=1, env=bench.env):
            runtime.dispatch(Job.DRAIN_EVENT, event_id=event_id)
            await asyncio.wait_for(asyncio.gather(*streams, *polls), timeout=600)
    with bench.db.unit_of_work() as uow:
        decided = dict(uow.session.execute(sa.select(Booking.id, Booking.decided_at).where(
            Booking.id.in_([uuid.UUID(b) for b in ids]))).all())  # fmt: skip

    def latencies(group: list[str]) -> list[float]:
        return sorted(clients.seen[b] - decided[uuid.UUID(b)].timestamp() for b in group)

    half = len(ids) / 2
    per_client_minute = 60 / args.window
    return {
        "clients": len(ids),
        "window_s": args.window,
        "idle_cpu_s": idle,
        "pushed_cpu_ms_per_client_minute": 1000 * (pushed - idle) / half * per_client_minute,
        "polled_cpu_ms_per_client_minute": 1000 * (both - pushed) / half * per_client_minute,
        "poll_requests_per_s": poll_rate,
        "refused_then_retried": clients.errors,
        "streams_broken_then_reopened": clients.broken,
        "pushed_latency_s": latencies(pushed_ids),
        "polled_latency_s": latencies(polled_ids),
    }


def percentile(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.waiting_room", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--dsn", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DSN))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL))
    parser.add_argument("--clients", type=int, default=5000)
    parser.add_argument("--window", type=float, default=20.0)
    args = parser.parse_args(argv)
    bench = Bench(args.dsn, args.redis_url)
    event_id, ticket_type_id = bench.event(quota=args.clients)
    customers = bench.customers(args.clients)
    ids = queue_requests(bench, event_id, ticket_type_id, customers)
    procfile = (servers.REPO_ROOT / "Procfile").read_text().splitlines()
    procfile_web = next(line for line in procfile if line.startswith("web:"))
    port = servers.free_port()
    env = {**bench.env, "PORT": str(port), "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}"}
    url = f"http://127.0.0.1:{port}"
    with servers.running_process(["bash", "-c", "exec " + procfile_web.split(":", 1)[1].strip()], env=env,
                                 ready=lambda _: servers.http_answers(url + "/healthz")) as running:  # fmt: skip
        figures = asyncio.run(
            run(args, bench, servers.Server(url, running), str(event_id), ids, [t for _, t in customers])
        )
    pushed, polled = figures.pop("pushed_latency_s"), figures.pop("polled_latency_s")
    figures.update({
        "pushed_p50_s": percentile(pushed, 50), "pushed_p99_s": percentile(pushed, 99),
        "polled_p50_s": percentile(polled, 50), "polled_p99_s": percentile(polled, 99),
        "pushed_mean_s": statistics.fmean(pushed), "polled_mean_s": statistics.fmean(polled),
    })  # fmt: skip
    print(json.dumps(figures, indent=2))
    print(
        f"\n{args.clients} waiting clients on the Procfile's web, half pushed (SSE), half polling at Retry-After:\n"
        f"  decision -> client   pushed p50 {figures['pushed_p50_s']:.3f} s  p99 {figures['pushed_p99_s']:.3f} s"
        f"   polled p50 {figures['polled_p50_s']:.3f} s  p99 {figures['polled_p99_s']:.3f} s\n"
        f"  server CPU per waiting client per minute: pushed {figures['pushed_cpu_ms_per_client_minute']:.2f} ms,"
        f" polled {figures['polled_cpu_ms_per_client_minute']:.2f} ms"
        f" (idle web: {figures['idle_cpu_s']:.2f} CPU s per {args.window:.0f} s window)\n"
        f"  requests/s saved by pushing: {figures['poll_requests_per_s']:.0f}"
        f" ({figures['poll_requests_per_s'] / (args.clients / 2):.2f} per client)"
    )


if __name__ == "__main__":
    main()
