"""Cancelling part of a confirmed booking: that part's price refunded, its tickets back to the
waitlist first, the booking confirmed with fewer tickets; bad requests change nothing."""

from __future__ import annotations

from sqlalchemy import select, update

from core.models import Event, Ticket, utcnow
from tests.integration.booking_helpers import ask, assert_counters_agree, drain, load
from tests.integration.payment_helpers import hold, pay_on_local_page, refunds_of
from tests.jobs import run_jobs


def paid_booking(db, customer, event, quantity=3):
    [booking_id] = hold([customer], event, quantity=quantity)
    pay_on_local_page(db, booking_id)
    run_jobs("process_webhook_event", "issue_tickets")
    with db.unit_of_work() as uow:
        ids = uow.session.scalars(
            select(Ticket.id).where(Ticket.booking_id == booking_id).order_by(Ticket.id)
        ).all()
    return booking_id, ids


def open_refunds(db, event) -> None:
    with db.unit_of_work() as uow:
        uow.session.execute(
            update(Event).where(Event.id == event.id).values(refund_until=utcnow().replace(year=2100))
        )
        uow.commit()


def ticket_statuses(db, ids) -> list[str]:
    with db.unit_of_work() as uow:
        return [uow.session.get(Ticket, i).status for i in ids]


def test_cancelling_part_refunds_that_part_and_serves_the_waitlist(client, db, organizer, make_event, make_user,
                                                                    auth_header):  # fmt: skip
    event = make_event(organizer, quota=3, price=2500)
    open_refunds(db, event)
    customer, waiting = make_user(), make_user()
    booking_id, tickets = paid_booking(db, customer, event)
    waiter = ask(waiting, event, 1, join_waitlist=True)
    drain(event)
    assert load(db, waiter).status == "waitlisted"

    answer = client.post(f"/api/v1/bookings/{booking_id}/cancel", json={"ticket_ids": [str(tickets[0])]},
                         headers=auth_header(customer))  # fmt: skip
    assert answer.status_code == 200, answer.json
    assert (answer.json["status"], answer.json["total"]) == ("confirmed", 5000)
    assert answer.json["items"][0]["quantity"] == 2
    assert ticket_statuses(db, tickets) == ["cancelled", "valid", "valid"]
    assert [(r.amount, r.reason) for r in refunds_of(db, booking_id)] == [(2500, "customer_cancelled")]
    assert load(db, waiter).status == "held"
    assert_counters_agree(db, event)

    # Cancelling the rest refunds only what is left.
    rest = client.post(f"/api/v1/bookings/{booking_id}/cancel", json={"ticket_ids": [str(t) for t in tickets[1:]]},
                       headers=auth_header(customer))  # fmt: skip
    assert rest.json["status"] == "cancelled"
    assert sorted(r.amount for r in refunds_of(db, booking_id)) == [2500, 5000]
    assert_counters_agree(db, event)


def test_bad_partial_cancellations_are_refused_and_change_nothing(client, db, organizer, make_event, make_user,
                                                                   auth_header):  # fmt: skip
    event = make_event(organizer, quota=10, price=2500)
    open_refunds(db, event)
    customer, other = make_user(), make_user()
    booking_id, tickets = paid_booking(db, customer, event)
    _, others = paid_booking(db, other, event, quantity=1)
    with db.unit_of_work() as uow:
        uow.session.execute(update(Ticket).where(Ticket.id == tickets[1]).values(checked_in_at=utcnow()))
        uow.commit()
    headers = auth_header(customer)
    cases = {"another booking's ticket": ([others[0]], 422, "not_in_booking"),
             "a checked-in ticket": ([tickets[1]], 409, "already_checked_in"),
             "not a ticket id": (["nope"], 422, None), "no tickets": ([], 422, None)}  # fmt: skip
    for name, (ids, status, reason) in cases.items():
        answer = client.post(f"/api/v1/bookings/{booking_id}/cancel", json={"ticket_ids": [str(i) for i in ids]},
                             headers=headers)  # fmt: skip
        assert answer.status_code == status, name
        assert answer.json.get("errors", {}).get("reason") == reason, name
    assert load(db, booking_id).status == "confirmed" and load(db, booking_id).total == 7500
    assert ticket_statuses(db, tickets) == ["valid", "valid", "valid"]
    assert refunds_of(db, booking_id) == []
    assert assert_counters_agree(db, event)["sold"] == 4


def test_the_refund_window_applies_to_partial_cancellation(
    client, db, organizer, make_event, make_user, auth_header
):
    event = make_event(organizer, quota=10, price=2500)
    customer = make_user()
    booking_id, tickets = paid_booking(db, customer, event)
    answer = client.post(f"/api/v1/bookings/{booking_id}/cancel", json={"ticket_ids": [str(tickets[0])]},
                         headers=auth_header(customer))  # fmt: skip
    assert answer.status_code == 409 and answer.json["errors"]["reason"] == "refund_window_closed"
    assert ticket_statuses(db, tickets) == ["valid"] * 3
    by_organizer = client.post(f"/api/v1/bookings/{booking_id}/cancel", json={"ticket_ids": [str(tickets[0])]},
                               headers=auth_header(organizer))  # fmt: skip
    assert by_organizer.status_code == 200 and by_organizer.json["total"] == 5000
