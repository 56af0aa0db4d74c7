"""The booking path on a real Redis Cluster (three primaries, three replicas): events spread over
the shards, each event's queue in order on its own shard, polls, idempotency, sign-out, rate
limits, the sweep, and a primary killed in the middle of a sale.

The drains run in this process (`drain`); `tests/e2e/test_cluster_processes.py` runs the same
sale with real web, worker and beat processes and RabbitMQ.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from core import runtime
from core.booking_queue import booking_queue, event_pointer_key, status_key
from core.models import Booking
from core.redis_cluster import event_key
from core.services import allocation
from tests.api.test_bookings import body
from tests.cluster import events_over_shards
from tests.conftest import PASSWORD
from tests.integration.booking_helpers import assert_counters_agree, drain


def decided(db, event) -> list[tuple[int, str, uuid.UUID]]:
    with db.unit_of_work() as uow:
        return uow.session.execute(
            select(Booking.queue_seq, Booking.status, Booking.id)
            .where(Booking.event_id == event.id)
            .order_by(Booking.queue_seq)
        ).all()


def assert_sale_invariants(db, event, accepted: set[str], quota: int) -> None:
    """0 oversold, 0 lost, 0 duplicated, first come first served."""
    rows = decided(db, event)
    assert sorted(str(booking_id) for _, _, booking_id in rows) == sorted(accepted)  # none lost, none twice
    seqs = [seq for seq, _, _ in rows]
    assert len(set(seqs)) == len(seqs)
    held = [seq for seq, status, _ in rows if status == "held"]
    assert held == seqs[: min(quota, len(seqs))]  # the holds are the earliest requests
    assert assert_counters_agree(db, event)["held"] == len(held) <= quota


def test_events_spread_over_the_shards_and_each_queue_keeps_its_order(
    db, on_cluster, cluster, organizer, make_event, make_user, auth_header
):
    client = on_cluster()
    events = events_over_shards(cluster, lambda: make_event(organizer, quota=3), 6)
    customers = [auth_header(make_user()) for _ in range(5)]
    accepted = {event.id: set() for event in events}
    for customer in customers:
        for event in events:
            answer = client.post("/api/v1/bookings", json=body(event, join_waitlist=True), headers=customer)
            assert answer.status_code == 202, answer.json
            accepted[event.id].add(answer.json["id"])
    for event in events:
        assert drain(event).decided == 5
        assert_sale_invariants(db, event, accepted[event.id], quota=3)
        assert [seq for seq, _, _ in decided(db, event)] == [1, 2, 3, 4, 5]


def test_a_poll_finds_the_event_of_a_queued_booking_from_its_id(
    on_cluster, cluster, organizer, make_event, make_user, auth_header
):
    client = on_cluster()
    event = make_event(organizer, quota=1)
    first, second = auth_header(make_user()), auth_header(make_user())
    client.post("/api/v1/bookings", json=body(event), headers=first)
    accepted = client.post("/api/v1/bookings", json=body(event), headers=second)
    booking_id = accepted.json["id"]
    # The status lives in the event's slot; the poll, which knows the booking alone, gets there
    # through the booking's pointer in a slot of its own.
    queue = booking_queue()
    assert queue.redis.keyslot(status_key(event.id, booking_id)) == queue.redis.keyslot(
        event_key("bq", event.id, "queue")
    )
    assert queue.redis.get(event_pointer_key(booking_id)) == str(event.id)
    polled = client.get(f"/api/v1/bookings/{booking_id}", headers=second)
    assert polled.json["status"] == "queued" and polled.json["queue_position"] == 2
    drain(event)
    assert queue.redis.exists(event_pointer_key(booking_id)) == 0
    assert client.get(f"/api/v1/bookings/{booking_id}", headers=second).json["status"] == "rejected"


def test_idempotency_and_sign_out_hold_on_the_cluster(on_cluster, organizer, make_event, make_user):
    client = on_cluster()
    event = make_event(organizer)
    make_user(email="fan@example.test")
    tokens = client.post("/api/v1/auth/login", json={"email": "fan@example.test", "password": PASSWORD}).json
    signed_in = {"Authorization": f"Bearer {tokens['access_token']}", "Idempotency-Key": "order-1"}
    first = client.post("/api/v1/bookings", json=body(event), headers=signed_in)
    again = client.post("/api/v1/bookings", json=body(event), headers=signed_in)
    assert again.status_code == 202 and again.json["id"] == first.json["id"]
    other = client.post("/api/v1/bookings", json=body(event, 2), headers=signed_in)
    assert other.status_code == 422 and other.json["errors"]["reason"] == "idempotency_key_reused"
    # A queued booking's poll reads the session's revocation with the booking's pointer, keys of
    # two slots: one read per node on a cluster.
    poll = f"/api/v1/bookings/{first.json['id']}"
    assert client.get(poll, headers=signed_in).json["status"] == "queued"
    assert client.post("/api/v1/auth/logout", headers=signed_in).status_code == 204
    refused = client.post("/api/v1/bookings", json=body(event), headers={**signed_in, "Idempotency-Key": "2"})
    assert refused.status_code == 401 and refused.json["errors"]["reason"] == "token_revoked"
    refused = client.get(poll, headers=signed_in)
    assert refused.status_code == 401 and refused.json["errors"]["reason"] == "token_revoked"
    assert booking_queue().queue_length(event.id) == 1


def test_rate_limits_count_on_the_cluster(on_cluster, organizer, make_event, make_user, auth_header):
    client = on_cluster(rate_limits_enabled=True, booking_rate_limit="2 per minute")
    event = make_event(organizer)
    ada = auth_header(make_user())
    answers = [client.post("/api/v1/bookings", json=body(event), headers=ada) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [202, 202, 429]
    assert int(answers[-1].headers["Retry-After"]) >= 1
    assert booking_queue().queue_length(event.id) == 2


def test_the_sweep_finds_a_lost_wake_up_from_postgresql(
    on_cluster, organizer, make_event, make_user, auth_header
):
    client = on_cluster()
    event, elsewhere = make_event(organizer), make_event(organizer)
    client.post("/api/v1/bookings", json=body(event), headers=auth_header(make_user()))
    booking_queue().redis.delete(f"bq:{{{event.id}}}:pending")  # as if the API died before scheduling
    assert allocation.sweep_allocation_queues(runtime.database()) == [str(event.id)]
    assert str(elsewhere.id) not in allocation.sweep_allocation_queues(runtime.database())
    drain(event)
    assert allocation.sweep_allocation_queues(runtime.database()) == []


def test_a_primary_killed_mid_sale_loses_nothing(
    db, on_cluster, cluster, organizer, make_event, make_user, auth_header
):
    """The event's primary dies after half the requests: the API answers 503 with Retry-After
    until the replica has taken over and has a replica of its own again (the dead node, brought
    back as a supervisor would, rejoins as one), the customers retry with their Idempotency-Key,
    and nothing acknowledged is lost, decided twice or sold beyond the quota: every 202 waited
    for a replica (REDIS_WAIT_REPLICAS defaults to 1 on a cluster)."""
    client = on_cluster()
    quota, customers = 10, 30
    event = make_event(organizer, quota=quota)
    queue = event_key("bq", event.id, "queue")
    headers = [{**auth_header(make_user()), "Idempotency-Key": f"k{n}"} for n in range(customers)]
    accepted, unavailable, killed = set(), [], None
    for n, customer in enumerate(headers):
        if n == customers // 2:
            killed = cluster.kill_primary_of(queue)
        while (answer := client.post("/api/v1/bookings", json=body(event, join_waitlist=True),
                                     headers=customer)).status_code == 503:  # fmt: skip
            unavailable.append(answer)
            if killed not in cluster.live_ports() and cluster.primary_port_of(queue) != killed:
                cluster.restart(killed)
        assert answer.status_code == 202, answer.json
        accepted.add(answer.json["id"])
    assert unavailable and all(int(answer.headers["Retry-After"]) >= 1 for answer in unavailable)
    assert {answer.json["errors"]["reason"] for answer in unavailable} == {"unavailable"}
    assert cluster.primary_port_of(queue) != killed
    while booking_queue().queue_length(event.id):
        drain(event)
    assert len(accepted) == customers
    assert_sale_invariants(db, event, accepted, quota)
