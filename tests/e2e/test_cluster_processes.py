"""The stack on a real Redis Cluster (three primaries, three replicas) with RabbitMQ as its broker:
gunicorn, Celery workers and beats as the Procfile starts them.

A flash sale over three events (spread over the shards) with 0 oversold, 0 lost, 0 duplicated
and first come first served per event, followed by polls; a primary killed in the middle of a
sale; two beats, one of them killed, the other carrying on alone.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import update

from core import runtime
from core.inventory import Line
from core.models import Booking, utcnow
from core.redis_cluster import event_key
from core.services import bookings
from tests.cluster import events_over_shards
from tests.e2e.test_allocation_processes import assert_engine_invariants, wait_until_decided
from tests.integration.booking_helpers import assert_counters_agree, load
from tests.integration.test_cluster import assert_sale_invariants

pytestmark = pytest.mark.e2e


@pytest.fixture()
def stack_env(stack_env, cluster, rabbitmq_url):
    """The stack's environment, on the Redis Cluster and RabbitMQ. A booking still waits for its
    replica (`WAIT 1`), but up to a second rather than the default tenth: six Redis servers, the
    web, two workers and the broker share this machine's two cores, and a replica's answer could
    be late under that load (a 503, which a client retries; the test of a killed primary shows it)."""
    return lambda **overrides: stack_env(**{"REDIS_URL": cluster.url, "CELERY_BROKER_URL": rabbitmq_url,
                                            "REDIS_WAIT_TIMEOUT": "1", **overrides})  # fmt: skip


def book(web: str, event, token: str, join_waitlist: bool, key: str | None = None) -> requests.Response:
    body = {"event_id": str(event.id), "items": [{"ticket_type_id": str(event.ticket_types[0].id), "quantity": 1}],
            "join_waitlist": join_waitlist}  # fmt: skip
    headers = {"Authorization": f"Bearer {token}", **({"Idempotency-Key": key} if key else {})}
    return requests.post(f"{web}/api/v1/bookings", json=body, headers=headers, timeout=30)


def test_a_flash_sale_over_three_shards_with_rabbitmq(
    db, cluster, organizer, make_event, many_customers, web, beat, start_worker
):
    quota, per_event = 30, 150
    events = events_over_shards(cluster, lambda: make_event(organizer, quota=quota), 3)
    start_worker()
    start_worker()
    customers = many_customers(per_event * len(events))
    asks = [(events[n % 3], token, n % 2 == 0) for n, (_, token) in enumerate(customers)]
    with ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(lambda a: (book(web, *a), a[1]), asks))
    assert {answer.status_code for answer, _ in answers} == {202}
    for event in events:
        wait_until_decided(db, event, per_event)
        assert_engine_invariants(db, event, per_event, quota)

    def poll(answer_and_token):
        answer, token = answer_and_token
        return requests.get(f"{web}/api/v1/bookings/{answer.json()['id']}",
                            headers={"Authorization": f"Bearer {token}"}, timeout=30).json()["status"]  # fmt: skip

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(poll, answers))
    assert statuses.count("held") == quota * len(events)
    assert set(statuses) == {"held", "waitlisted", "rejected"}


def test_a_primary_killed_mid_sale_over_http(db, cluster, organizer, make_event, many_customers, web, beat,
                                            start_worker):  # fmt: skip
    """Customers retry each 503 with their Idempotency-Key; the dead node is brought back (as a
    supervisor would) once its replica has taken over. Every customer ends with one booking,
    decided once, and the quota holds."""
    quota, customers = 40, 240
    event = make_event(organizer, quota=quota)
    queue = event_key("bq", event.id, "queue")
    start_worker()
    tokens = [token for _, token in many_customers(customers)]
    sent, unavailable = threading.Semaphore(0), []

    def customer(n: int) -> str:
        while (answer := book(web, event, tokens[n], True, key=f"order-{n}")).status_code == 503:
            assert answer.headers["Retry-After"]
            unavailable.append(n)
            time.sleep(0.2)
        assert answer.status_code == 202, answer.text
        sent.release()
        return answer.json()["id"]

    with ThreadPoolExecutor(16) as pool:
        accepted = pool.map(customer, range(customers))
        for _ in range(customers // 3):
            sent.acquire()
        killed = cluster.kill_primary_of(queue)
        while cluster.primary_port_of(queue) == killed:
            time.sleep(0.2)
        cluster.restart(killed)
        accepted = set(accepted)
    assert unavailable
    wait_until_decided(db, event, customers)
    assert_sale_invariants(db, event, accepted, quota)


def test_two_beats_and_one_killed(db, on_cluster, organizer, make_event, make_user, start_beat, start_worker):
    """Both beats send every sweep; each runs once per period. One beat is killed: the other
    alone repairs a lost wake-up and expires holds, each hold once."""
    on_cluster()  # this process queues on the cluster, its jobs go where no worker listens
    start_worker()
    first, _second = start_beat(), start_beat()
    event = make_event(organizer, quota=2)
    items = (Line(event.ticket_types[0].id, 1),)
    held = [bookings.request_booking(runtime.database(), make_user().id, bookings.BookingAsk(event.id, items), session_id="s")["id"]
            for _ in range(2)]  # fmt: skip
    wait_until_decided(db, event, 2)  # the lost wake-ups, repaired by a beat's sweep
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    waiting = bookings.request_booking(
        runtime.database(),
        make_user().id,
        bookings.BookingAsk(event.id, items, join_waitlist=True),
        session_id="s",
    )["id"]
    wait_until_decided(db, event, 3)  # the surviving beat's sweep
    assert load(db, waiting).status == "waitlisted"
    with db.unit_of_work() as uow:
        uow.session.execute(update(Booking).where(Booking.id.in_(held)).values(hold_expires_at=utcnow()))
        uow.commit()
    deadline = time.monotonic() + 60
    while load(db, waiting).status != "held":  # the surviving beat expires the holds
        assert time.monotonic() < deadline, "the holds were not expired by the surviving beat"
        time.sleep(0.2)
    assert {load(db, booking_id).status for booking_id in held} == {"expired"}
    assert assert_counters_agree(db, event)["held"] == 1
