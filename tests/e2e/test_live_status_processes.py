"""Pushed status with real processes: the Procfile's web (gevent), a Celery worker.

The long poll and the stream answer on the drainer's decision, not before it and within about a
second of it (the decision's time is the database's `decided_at`, written by the worker; the
answer's time is when the client read it, on the same machine's clock). A client that leaves is
forgotten, and the web holds 2,000 waiting clients while it answers other requests.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import json
import re
import threading
import time

import aiohttp
import pytest
import requests

from core import runtime
from core.inventory import Line
from core.models import utcnow
from core.services import bookings
from tests.conftest import METRICS_AUTH
from tests.integration.booking_helpers import load
from tests.processes import answers, free_port, procfile_command, running

pytestmark = pytest.mark.e2e

WAITERS = re.compile(r"^boxoffice_live_status_waiters (\S+)$", re.M)


@pytest.fixture()
def live_web(stack_env):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = stack_env(PORT=str(port), WEB_CONCURRENCY="2", LIVE_STATUS_KEEPALIVE="1")
    with running(procfile_command("web"), env, answers(f"{base}/healthz")):
        yield base


def waiters(web) -> int:
    """Clients waiting in the web's processes (-1 before any process has had one)."""
    found = WAITERS.search(requests.get(f"{web}/metrics", headers=METRICS_AUTH, timeout=30).text)
    return int(float(found.group(1))) if found else -1


def wait_for_waiters(web, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while waiters(web) != count:
        assert time.monotonic() < deadline, f"{waiters(web)} waiting, not {count}"
        time.sleep(1)


def book(web, event, token) -> str:
    body = {
        "event_id": str(event.id),
        "items": [{"ticket_type_id": str(event.ticket_types[0].id), "quantity": 1}],
    }
    answer = requests.post(f"{web}/api/v1/bookings", json=body, headers={"Authorization": f"Bearer {token}"},
                           timeout=10)  # fmt: skip
    assert answer.status_code == 202
    return answer.json()["id"]


def stream_events(response):
    """(time received, event name or None for a comment, data) for each event of an SSE stream."""
    name, data = None, None
    for line in response.iter_lines(decode_unicode=True):
        if line.startswith(":"):
            yield utcnow(), None, None
        elif line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            data = json.loads(line[6:])
        elif line == "" and name:
            yield utcnow(), name, data
            name, data = None, None


def test_long_poll_and_stream_answer_on_the_decision(db, organizer, make_event, many_customers, live_web,
                                                     start_worker):  # fmt: skip
    event = make_event(organizer, quota=5)
    ((_, token),) = many_customers(1)
    headers = {"Authorization": f"Bearer {token}"}
    booking_id = book(live_web, event, token)  # no worker yet: it stays queued
    polled, streamed = {}, []

    def long_poll():
        answer = requests.get(f"{live_web}/api/v1/bookings/{booking_id}?wait=60", headers=headers, timeout=90)
        polled.update(answer.json(), received=utcnow(), retry_after=answer.headers.get("Retry-After"))

    def stream():
        with requests.get(f"{live_web}/api/v1/bookings/{booking_id}/events", headers=headers, stream=True,
                          timeout=90) as response:  # fmt: skip
            assert response.headers["Content-Type"].startswith("text/event-stream")
            streamed.extend(item for item in stream_events(response) if item[1])

    threads = [threading.Thread(target=long_poll), threading.Thread(target=stream)]
    for thread in threads:
        thread.start()
    wait_for_waiters(live_web, 2)
    assert not polled  # nothing changed: the long poll waits
    start_worker()
    deadline = time.monotonic() + 60
    while not polled or len(streamed) < 2:
        assert time.monotonic() < deadline, (polled, streamed)
        time.sleep(0.05)
    decided_at = load(db, booking_id).decided_at
    assert polled["status"] == "held" and polled["retry_after"] == "10"
    assert decided_at <= polled["received"] < decided_at + dt.timedelta(seconds=2)
    (first_at, _, first), (held_at, _, held) = streamed[:2]
    assert first["status"] == "queued" and first_at < decided_at  # at once, before the decision
    assert held["status"] == "held" and decided_at <= held_at < decided_at + dt.timedelta(seconds=2)
    # Cancelled (final), the stream says so and ends.
    assert requests.post(f"{live_web}/api/v1/bookings/{booking_id}/cancel", headers=headers, timeout=10).ok
    for thread in threads:
        thread.join(timeout=30)
    assert [data["status"] for _, _, data in streamed] == ["queued", "held", "cancelled"]
    wait_for_waiters(live_web, 0)


def test_a_client_that_leaves_is_forgotten(organizer, make_event, many_customers, live_web):
    event = make_event(organizer)
    ((_, token),) = many_customers(1)
    booking_id = book(live_web, event, token)
    response = requests.get(f"{live_web}/api/v1/bookings/{booking_id}/events",
                            headers={"Authorization": f"Bearer {token}"}, stream=True, timeout=30)  # fmt: skip
    next(stream_events(response))
    wait_for_waiters(live_web, 1)
    response.close()  # the client goes away; the next keep-alive finds out
    wait_for_waiters(live_web, 0)


@pytest.mark.timeout(600)
def test_the_web_holds_2000_waiting_clients_and_answers_other_requests(organizer, make_event, many_customers,
                                                                       live_web):  # fmt: skip
    event = make_event(organizer)
    customers = many_customers(2001)
    items = (Line(event.ticket_types[0].id, 1),)
    waiting = [(bookings.request_booking(runtime.database(), user_id, bookings.BookingAsk(event.id, items), session_id="s")["id"], token)
               for user_id, token in customers[:2000]]  # fmt: skip

    async def wait_all():
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=90)
        ) as session:

            async def keep_waiting(booking_id, token):
                # As a client does: a long poll, another when it ends unchanged, and after a 503
                # (this shared machine is slow to connect in the burst) another at Retry-After.
                while True:
                    async with session.get(f"{live_web}/api/v1/bookings/{booking_id}?wait=60",
                                           headers={"Authorization": f"Bearer {token}"}) as answer:  # fmt: skip
                        assert answer.status in (200, 503)
                        if answer.status == 503:
                            await asyncio.sleep(int(answer.headers["Retry-After"]))

            polls = [asyncio.create_task(keep_waiting(*pair)) for pair in waiting]
            deadline = time.monotonic() + 300
            while (count := await asyncio.to_thread(waiters, live_web)) != 2000:
                failed = [repr(poll.exception())[:80] for poll in polls if poll.done()]
                assert time.monotonic() < deadline and not failed, (count, collections.Counter(failed))
                await asyncio.sleep(1)
            # Everyone waits, and the web still answers: a new booking, the public event.
            other = await asyncio.to_thread(book, live_web, event, customers[2000][1])
            shown = await asyncio.to_thread(requests.get, f"{live_web}/api/v1/events/{event.id}", timeout=10)
            assert not [poll for poll in polls if poll.done()]  # no poll failed meanwhile
            for poll in polls:
                poll.cancel()
            await asyncio.gather(*polls, return_exceptions=True)
            return other, shown.status_code

    other, shown = asyncio.run(wait_all())
    assert other and shown == 200
    wait_for_waiters(live_web, 0)
