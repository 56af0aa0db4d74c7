"""A batch of new holds gets its checkouts in two transactions, whatever its size, and a booking
that another transaction has locked neither stops the batch nor is forgotten
(`core.services.checkouts.prepare_checkouts`)."""

from __future__ import annotations

import threading

import sqlalchemy as sa
from sqlalchemy import event as orm_events

from core.services import checkouts
from tests.integration.booking_helpers import ask, drain, load
from tests.integration.payment_helpers import payment_of, payments_of
from tests.jobs import run_jobs

CUSTOMERS = 12


def _held(event, customers) -> list[str]:
    ids = [str(ask(customer, event)) for customer in customers]
    drain(event)
    run_jobs("drain_event")  # what the decision sent on is left undone: the test makes the checkouts
    return ids


def test_a_batch_of_holds_gets_its_checkouts_in_two_transactions(db, organizer, make_event, customers):
    event = make_event(organizer, quota=CUSTOMERS)
    ids = _held(event, customers)
    commits = []

    def committed(connection) -> None:
        commits.append(connection)

    orm_events.listen(db.engine, "commit", committed)
    try:
        assert sorted(checkouts.prepare_checkouts(db, ids)) == sorted(ids)
    finally:
        orm_events.remove(db.engine, "commit", committed)
    assert len(commits) == 2  # the payments planned, then the provider's sessions stored
    assert all(payment_of(db, booking_id).checkout_url for booking_id in ids)
    assert checkouts.prepare_checkouts(db, ids[:3]) == ids[:3]  # done again: the same checkouts
    assert all(len(payments_of(db, booking_id)) == 1 for booking_id in ids)


def test_a_booking_locked_elsewhere_waits_alone_while_the_rest_get_their_checkouts(
    db, organizer, make_event, customers
):
    event = make_event(organizer, quota=4)
    ids = _held(event, customers[:4])
    contended = ids[1]
    with db.engine.connect() as other:
        other.execute(sa.text("SELECT 1 FROM booking WHERE id = :id FOR UPDATE"), {"id": contended})
        answer: list[list[str]] = []
        job = threading.Thread(target=lambda: answer.append(checkouts.prepare_checkouts(db, ids)))
        job.start()
        job.join(timeout=5)
        assert job.is_alive()  # waiting for the locked booking, the others done and committed
        assert [bool(payments_of(db, booking_id)) for booking_id in ids] == [True, False, True, True]
        other.rollback()
    job.join(timeout=10)
    assert not job.is_alive() and sorted(answer[0]) == sorted(ids)
    assert payment_of(db, contended).checkout_url


def test_a_hold_that_ended_before_its_checkout_gets_none(db, organizer, make_event, customers):
    from core.services import bookings

    event = make_event(organizer, quota=3)
    ids = _held(event, customers[:3])
    with db.unit_of_work() as uow:
        bookings.cancel_booking(uow, customers[0], ids[0])
        uow.commit()
    assert sorted(checkouts.prepare_checkouts(db, ids)) == sorted(ids[1:])
    assert load(db, ids[0]).status == "cancelled" and payments_of(db, ids[0]) == []
