"""Tickets from confirmation to the door, on real PostgreSQL, Redis and SMTP, with real PDFs."""

from __future__ import annotations

import threading

import pytest

from core import runtime
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.models import Ticket
from core.services import bookings, notifications, tickets
from core.ticket_signing import load_public_key, verify_ticket_payload
from tests.integration.booking_helpers import ask, drain, issue_tickets
from tests.jobs import run_jobs
from tests.pdf_readback import read_pdf


@pytest.fixture()
def confirmed(db, organizer, make_event, make_user, mail_sink):
    """A confirmed booking of three free tickets: tickets issued and emailed (to the sink)."""
    event = make_event(organizer, title="Summer Open Air", price=0, quota=10, timezone="America/New_York")
    customer = make_user(name="Grace Hopper")
    booking_id = ask(customer, event, 3)
    drain(event)
    run_jobs("issue_tickets", "send_booking_emails")
    return event, customer, booking_id


def issued(db, booking_id) -> list[Ticket]:
    with db.unit_of_work() as uow:
        return tickets.booking_tickets(uow, booking_id)


def test_confirmation_issues_one_ticket_per_person_once(db, confirmed):
    event, customer, booking_id = confirmed
    first = issued(db, booking_id)
    assert len(first) == 3 and len({t.code for t in first}) == 3
    assert {t.attendee_name for t in first} == {"Grace Hopper"}
    assert issue_tickets(db, [booking_id]) == []  # again: nothing new
    assert [t.id for t in issued(db, booking_id)] == [t.id for t in first]


def test_issuing_the_same_booking_twice_at_once_gives_one_set(db, organizer, make_event, make_user):
    event = make_event(organizer, price=0)
    booking_id = ask(make_user(), event, 2)
    drain(event)
    threads = [threading.Thread(target=issue_tickets, args=(db, [booking_id])) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(issued(db, booking_id)) == 2


def test_qr_payloads_are_signed_for_their_event_and_ticket(db, confirmed):
    event, _, booking_id = confirmed
    public_key = tickets.ticket_signer().public_key
    for ticket in issued(db, booking_id):
        claims = verify_ticket_payload(ticket.qr_payload, public_key)
        assert (claims.code, claims.event_id, claims.ticket_id) == (
            ticket.code,
            str(event.id),
            str(ticket.id),
        )


def test_the_emailed_pdf_reads_back_scans_verifies_and_checks_in_once(db, confirmed, mail_sink, organizer):
    event, customer, booking_id = confirmed
    [mail] = mail_sink.wait_for(1)
    message = mail.message
    assert message["To"].addresses[0].addr_spec == customer.email
    assert "Summer Open Air" in message["Subject"]
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    pages = read_pdf(attachment.get_content())
    assert len(pages) == 3
    codes = {t.code for t in issued(db, booking_id)}
    public_key = load_public_key(tickets.ticket_signer().public_key_b64())
    scanned = []
    for page in pages:
        assert "Summer Open Air" in page.text and "Grace Hopper" in page.text and "Grand Hall" in page.text
        assert "Free" in page.text
        [payload] = page.qr_codes
        claims = verify_ticket_payload(payload, public_key)
        assert claims.code in codes
        scanned.append(payload)
    with db.unit_of_work() as uow:
        admitted = tickets.check_in(uow, organizer, event.id, scanned[0])
        uow.commit()
    assert admitted["attendee_name"] == "Grace Hopper"
    with db.unit_of_work() as uow, pytest.raises(Conflict) as again:
        tickets.check_in(uow, organizer, event.id, scanned[0])
    assert again.value.details["checked_in_by"] == organizer.name
    assert again.value.details["checked_in_at"]


def test_pdf_shows_the_time_in_the_events_time_zone(db, confirmed):
    event, _, booking_id = confirmed
    with db.unit_of_work() as uow:
        pdf = tickets.booking_pdf(uow, bookings.get_booking(uow, booking_id))
    local = event.starts_at.astimezone(__import__("zoneinfo").ZoneInfo("America/New_York"))
    assert f"{local:%H:%M}" in read_pdf(pdf)[0].text
    assert "America/New_York" in read_pdf(pdf)[0].text


def test_a_retried_email_task_sends_one_message(db, confirmed, mail_sink):
    _, _, booking_id = confirmed  # the job has run once already
    assert notifications.send_booking_emails(runtime.database(), "tickets_issued", [str(booking_id)]) == 0
    results = []
    threads = [threading.Thread(target=lambda: results.append(
        notifications.send_booking_emails(runtime.database(), "tickets_issued", [str(booking_id)]))) for _ in range(3)]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [0, 0, 0]
    assert len(mail_sink.wait_for(1)) == 1


def test_concurrent_sends_of_one_email_deliver_it_once(db, organizer, make_event, make_user, mail_sink):
    event = make_event(organizer, price=0)
    booking_id = ask(make_user(), event, 1)
    drain(event)
    issue_tickets(db, [booking_id])
    results = []
    threads = [threading.Thread(target=lambda: results.append(
        notifications.send_booking_emails(runtime.database(), "tickets_issued", [str(booking_id)]))) for _ in range(4)]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [0, 0, 0, 1]
    assert len(mail_sink.wait_for(1)) == 1


def test_two_scanners_racing_on_one_code_admit_it_once(db, confirmed, organizer, make_user):
    event, _, booking_id = confirmed
    code = issued(db, booking_id)[0].code
    staff = make_user("staff", organizer.organization_id)
    outcomes = []

    def scan(who):
        with db.unit_of_work() as uow:
            try:
                tickets.check_in(uow, who, event.id, code)
                uow.commit()
                outcomes.append(200)
            except Conflict:
                outcomes.append(409)

    threads = [threading.Thread(target=scan, args=(who,)) for who in (organizer, staff) * 3]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == [200, 409, 409, 409, 409, 409]


def test_typed_codes_are_forgiving_but_forgeries_are_refused(db, confirmed, organizer):
    event, _, booking_id = confirmed
    ticket = issued(db, booking_id)[0]
    typed = "-".join(ticket.code[i : i + 4] for i in range(0, 16, 4)).lower()
    with db.unit_of_work() as uow:
        assert tickets.check_in(uow, organizer, event.id, typed)["id"] == ticket.id
        uow.commit()
    forged = ticket.qr_payload[:-6] + ("AAAAAA" if not ticket.qr_payload.endswith("AAAAAA") else "BBBBBB")
    with db.unit_of_work() as uow, pytest.raises(Invalid) as refused:
        tickets.check_in(uow, organizer, event.id, forged)
    assert refused.value.name == "invalid_ticket"


def test_unknown_cancelled_and_other_event_tickets_are_refused_with_reasons(db, confirmed, organizer, make_event,
                                                                           make_user):  # fmt: skip
    event, customer, booking_id = confirmed
    ticket = issued(db, booking_id)[0]
    other = make_event(organizer)
    with db.unit_of_work() as uow, pytest.raises(NotFound):
        tickets.check_in(uow, organizer, event.id, "0" * 16)
    with db.unit_of_work() as uow, pytest.raises(NotFound) as wrong:
        tickets.check_in(uow, organizer, other.id, ticket.code)
    assert wrong.value.name == "unknown_ticket"
    with db.unit_of_work() as uow:
        bookings.cancel_booking(uow, customer, booking_id)
        uow.commit()
    assert {t.status for t in issued(db, booking_id)} == {"cancelled"}
    with db.unit_of_work() as uow, pytest.raises(Invalid) as void:
        tickets.check_in(uow, organizer, event.id, ticket.code)
    assert void.value.name == "ticket_cancelled"


def test_staff_of_another_organization_cannot_check_in(db, confirmed, make_organization, make_user):
    event, _, booking_id = confirmed
    stranger = make_user("staff", make_organization("Elsewhere"))
    with db.unit_of_work() as uow, pytest.raises(Forbidden):
        tickets.check_in(uow, stranger, event.id, issued(db, booking_id)[0].code)
    assert issued(db, booking_id)[0].checked_in_at is None


def test_lost_issuing_job_is_repaired_by_the_sweep(db, organizer, make_event, make_user):
    import datetime as dt

    from core.models import Booking, utcnow

    event = make_event(organizer, price=0)
    booking_id = ask(make_user(), event, 2)
    drain(event)  # the issue_tickets job is left on the broker, as if lost
    with db.unit_of_work() as uow:
        uow.session.get(Booking, booking_id).confirmed_at = utcnow() - dt.timedelta(minutes=5)
        uow.commit()
    with db.unit_of_work() as uow:
        assert tickets.confirmed_bookings_without_tickets(uow) == [str(booking_id)]
    with db.unit_of_work() as uow:
        tickets.issue_tickets(uow, tickets.confirmed_bookings_without_tickets(uow))
        uow.commit()
    assert len(issued(db, booking_id)) == 2
    with db.unit_of_work() as uow:
        assert tickets.confirmed_bookings_without_tickets(uow) == []
