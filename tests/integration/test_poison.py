"""A request nobody can decide never stalls its event's queue; expiry and queue numbers do not
depend on beat or on Redis keeping its data (issue 10, items 6, 11 and 13)."""

from __future__ import annotations

from sqlalchemy import delete, select

from core import metrics, runtime
from core.booking_queue import BookingQueue
from core.models import Booking, DeadLetter, User
from core.services import allocation, bookings
from tests.integration.booking_helpers import (
    ask,
    assert_counters_agree,
    drain,
    end_holds_now,
    load,
    queue_length,
    statuses,
)


def delete_account(db, user) -> None:
    with db.unit_of_work() as uow:
        uow.session.execute(delete(User).where(User.id == user.id))
        uow.commit()


def dead_letters(db, event) -> list[DeadLetter]:
    with db.unit_of_work() as uow:
        return uow.session.scalars(allocation.dead_letters_query(event.id)).all()


def test_a_vanished_account_is_set_aside_and_the_queue_goes_on_in_order(db, organizer, make_event, make_user):
    event = make_event(organizer, quota=3)
    customers = [make_user() for _ in range(7)]
    ids = [ask(customer, event) for customer in customers]
    delete_account(db, customers[1])  # its booking row cannot be written: a foreign-key violation
    report = drain(event)
    assert report.decided == 7 and queue_length(event) == 0
    outcome = statuses(db, event)
    assert ids[1] not in outcome
    assert [outcome[i] for i in ids[:1] + ids[2:]] == ["held"] * 3 + ["rejected"] * 3
    assert {load(db, i).reason for i in ids[4:]} == {"sold_out"}
    (letter,) = dead_letters(db, event)
    assert (letter.booking_id, letter.user_id, letter.queue_seq) == (ids[1], customers[1].id, 2)
    assert "foreign key" in letter.error
    assert metrics.read(runtime.redis_client()).allocation["dead_letters"] == 1
    assert_counters_agree(db, event)


def test_a_row_refused_in_a_later_chunk_sets_aside_its_request_alone(
    db, organizer, make_event, make_user, monkeypatch
):
    """A batch's rows go to PostgreSQL in chunks, copied while the next chunk is decided: a row
    refused in the third chunk still halves the batch down to its own request, in order."""
    monkeypatch.setattr(allocation, "COPY_CHUNK", 2)
    event = make_event(organizer, quota=3)
    customers = [make_user() for _ in range(7)]
    ids = [ask(customer, event) for customer in customers]
    delete_account(db, customers[4])
    assert drain(event).decided == 7 and queue_length(event) == 0
    outcome = statuses(db, event)
    assert ids[4] not in outcome
    assert [outcome[i] for i in ids[:4] + ids[5:]] == ["held"] * 3 + ["rejected"] * 3
    assert [letter.booking_id for letter in dead_letters(db, event)] == [ids[4]]
    assert_counters_agree(db, event)


def test_a_replayed_batch_with_a_dead_letter_sets_it_aside_once(db, organizer, make_event, make_user):
    event = make_event(organizer, quota=5)
    customers = [make_user() for _ in range(3)]
    for customer in customers:
        ask(customer, event)
    delete_account(db, customers[2])
    batch = BookingQueue(runtime.redis_client()).head(event.id, 10)
    assert (
        len(allocation.decide_batch(runtime.database(), event.id, batch)) == 2
    )  # the rows written: the third is set aside
    assert (
        allocation.decide_batch(runtime.database(), event.id, batch) == []
    )  # a drainer that died before trimming the queue
    assert len(dead_letters(db, event)) == 1
    assert sorted(statuses(db, event).values()) == ["held", "held"]


def test_a_total_beyond_32_bits_is_written(db, organizer, make_event, make_user):
    event = make_event(organizer, price=300_000_000, max_per_booking=10)
    booking_id = ask(make_user(), event, quantity=10)
    drain(event)
    booking = load(db, booking_id)
    assert (booking.status, booking.total) == ("held", 3_000_000_000)


def test_with_beat_stopped_the_drainer_expires_overdue_holds_before_deciding(
    db, organizer, make_event, make_user
):
    event = make_event(organizer, quota=2)
    first = [ask(make_user(), event) for _ in range(2)]
    drain(event)
    end_holds_now(db, first)
    late = ask(make_user(), event)
    drain(event)  # no expiry sweep ran
    outcome = statuses(db, event)
    assert [outcome[i] for i in first] == ["expired", "expired"]
    assert outcome[late] == "held"
    assert assert_counters_agree(db, event)["held"] == 1


def test_an_overdue_hold_is_never_shown_held(db, organizer, make_event, make_user):
    customer = make_user()
    event = make_event(organizer, quota=2)
    booking_id = ask(customer, event)
    drain(event)
    assert bookings.read_booking(db, customer.id, booking_id)["status"] == "held"
    end_holds_now(db, [booking_id])
    view = bookings.read_booking(db, customer.id, booking_id)
    assert (view["status"], view["hold_expires_at"], view["is_final"]) == ("expired", None, True)


def test_a_sequence_counter_that_went_backwards_is_repaired_and_numbers_never_repeat(
    db, organizer, make_event, make_user, redis_client
):
    event = make_event(organizer, quota=50)
    before = [ask(make_user(), event) for _ in range(5)]
    drain(event)
    redis_client.flushdb()  # a Redis restarted without persistence: counter and all gone
    after = [ask(make_user(), event) for _ in range(3)]
    assert [bookings.queued_booking_view(i)[2]["queue_position"] for i in after] == [1, 2, 3]
    drain(event)
    with db.unit_of_work() as uow:
        seqs = dict(
            uow.session.execute(
                select(Booking.id, Booking.queue_seq).where(Booking.event_id == event.id)
            ).all()
        )
    assert [seqs[i] for i in before + after] == list(range(1, 9))
    assert ask(make_user(), event) and redis_client.get(f"bq:{{{event.id}}}:seq") == "9"


def test_a_replayed_batch_leaves_a_healthy_counter_alone(db, organizer, make_event, make_user):
    event = make_event(organizer, quota=50)
    for _ in range(3):
        ask(make_user(), event)
    queue = BookingQueue(runtime.redis_client())
    allocation.decide_batch(runtime.database(), event.id, queue.head(event.id, 10))  # committed, not trimmed
    assert not queue.repair_sequence(event.id, allocation.highest_decided_seq(runtime.database(), event.id))
