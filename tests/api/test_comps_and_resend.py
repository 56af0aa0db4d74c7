"""Comps (a guest's free tickets, decided by the engine within the quotas, mailed to the guest)
and sending a booking's tickets again (a new message, a few times an hour at most)."""

from __future__ import annotations

from sqlalchemy import func, select

from core.models import AuditEntry, Booking, Event, User
from tests.back_office_data import add_booking
from tests.jobs import run_jobs


def comp_body(event, quantity=2, **overrides) -> dict:
    return {"name": "Pat Press", "email": "Pat@Press.test", "note": "review",
            "items": [{"ticket_type_id": str(event.ticket_types[0].id), "quantity": quantity}], **overrides}  # fmt: skip


def test_organizer_comps_tickets_that_are_mailed_to_the_guest(
    client, db, organizer, make_event, auth_header, mail_sink
):
    event = make_event(organizer, price=4000, quota=10)
    response = client.post(
        f"/api/v1/events/{event.id}/comps", json=comp_body(event), headers=auth_header(organizer)
    )
    assert response.status_code == 201, response.json
    comp = response.json
    assert (comp["status"], comp["total"], comp["reason"]) == ("confirmed", 0, "complimentary")
    assert comp["customer"]["email"] == "pat@press.test" and comp["items"][0]["unit_price"] == 0
    run_jobs("issue_tickets", "send_booking_emails")
    (mail,) = mail_sink.wait_for(1)
    assert mail.rcpt_tos == ("pat@press.test",)
    assert [part.get_content_type() for part in mail.message.iter_attachments()] == ["application/pdf"]
    with db.unit_of_work() as uow:
        assert uow.session.get(Event, event.id).sold == 2
        entry = uow.session.scalars(select(AuditEntry)).one()
    assert (entry.action, entry.target_id, entry.changes["note"]) == ("booking.comp", comp["id"], "review")
    listed = client.get(f"/api/v1/events/{event.id}/attendees", headers=auth_header(organizer)).json
    assert [row["attendee_name"] for row in listed] == ["Pat Press", "Pat Press"]


def test_comps_never_oversell(client, db, organizer, make_event, make_user, auth_header):
    event = make_event(organizer, quota=3)
    add_booking(db, event, make_user(), quantity=2)
    refused = client.post(
        f"/api/v1/events/{event.id}/comps", json=comp_body(event), headers=auth_header(organizer)
    )
    assert refused.status_code == 409 and refused.json["errors"]["reason"] == "sold_out"
    with db.unit_of_work() as uow:
        assert uow.session.get(Event, event.id).sold == 2
        assert uow.session.scalar(select(func.count()).select_from(Booking)) == 1
        assert uow.session.scalar(select(func.count()).select_from(AuditEntry)) == 0
    fits = client.post(
        f"/api/v1/events/{event.id}/comps", json=comp_body(event, 1), headers=auth_header(organizer)
    )
    assert fits.status_code == 201


def test_who_may_not_comp_and_bad_comps(
    client, organizer, make_event, make_user, make_organization, auth_header
):
    event = make_event(organizer)
    url = f"/api/v1/events/{event.id}/comps"
    other = make_organization("Other Org")
    for user in (make_user(), make_user("staff", organizer.organization_id), make_user("organizer", other),
                 make_user("staff", other)):  # fmt: skip
        assert client.post(url, json=comp_body(event), headers=auth_header(user)).status_code == 403
    assert client.post(url, json=comp_body(event)).status_code == 401
    headers = auth_header(organizer)
    tt = str(event.ticket_types[0].id)
    for bad in (comp_body(event, 0), comp_body(event, email="nope"), comp_body(event, items=[]),
                comp_body(event, items=[{"ticket_type_id": tt, "quantity": 1}] * 2),
                comp_body(event, items=[{"ticket_type_id": str(make_event(organizer).ticket_types[0].id), "quantity": 1}]),
                {"name": "x", "email": "a@b.test"}):  # fmt: skip
        assert client.post(url, json=bad, headers=headers).status_code == 422, bad
    twice = comp_body(event, items=[{"ticket_type_id": tt, "quantity": 1}] * 2)
    assert client.post(url, json=twice, headers=headers).json["errors"]["reason"] == "duplicate_ticket_type"
    cancelled = make_event(organizer, status="cancelled")
    refused = client.post(f"/api/v1/events/{cancelled.id}/comps", json=comp_body(cancelled), headers=headers)
    assert refused.status_code == 409 and refused.json["errors"]["reason"] == "event_cancelled"


def test_resend_is_a_new_message_and_is_rate_limited(client, db, organizer, make_event, make_user, auth_header,
                                                     mail_sink, make_organization):  # fmt: skip
    event = make_event(organizer, price=0)
    customer = make_user(email="fan@example.test")
    booking = add_booking(db, event, customer, tickets=True)
    url = f"/api/v1/bookings/{booking.id}/resend"
    assert client.post(url, headers=auth_header(customer)).status_code == 202
    assert client.post(url, headers=auth_header(organizer)).status_code == 202
    run_jobs("send_booking_emails")
    first, second = mail_sink.wait_for(2)
    assert first.rcpt_tos == second.rcpt_tos == ("fan@example.test",)
    assert first.message["Message-ID"] != second.message["Message-ID"]
    assert client.post(url, headers=auth_header(customer)).status_code == 202
    limited = client.post(url, headers=auth_header(customer))
    assert limited.status_code == 429 and limited.json["errors"]["retry_after"] > 0
    assert limited.json["errors"]["reason"] == "too_many_resends"
    actions = [e["action"] for e in client.get(f"/api/v1/organizations/{organizer.organization_id}/audit-log",
                                               headers=auth_header(organizer)).json]  # fmt: skip
    assert actions == ["booking.resend"]  # the customer's own resends are not the back office's

    other = make_organization("Other Org")
    fresh = add_booking(db, event, customer, tickets=True)
    for user in (make_user(), make_user("organizer", other), make_user("staff", other)):
        assert (
            client.post(f"/api/v1/bookings/{fresh.id}/resend", headers=auth_header(user)).status_code == 404
        )
    assert client.post(f"/api/v1/bookings/{fresh.id}/resend").status_code == 401
    held = add_booking(db, event, make_user(), "held")
    refused = client.post(f"/api/v1/bookings/{held.id}/resend", headers=auth_header(organizer))
    assert (refused.status_code, refused.json["errors"]["reason"]) == (409, "not_confirmed")


def test_a_comp_for_an_address_with_an_account_reveals_it_not_and_lands_not_on_it(
    client, db, organizer, make_event, make_user, make_organization, auth_header, mail_sink
):
    event = make_event(organizer, quota=10)
    someone = make_user(email="someone@other-org.example", name="Sam Someone",
                        organization=make_organization("Other Org"), role="organizer")  # fmt: skip
    url = f"/api/v1/events/{event.id}/comps"
    given = comp_body(event, 1, name="Guest of Honour", email="Someone@Other-Org.example")
    comp = client.post(url, json=given, headers=auth_header(organizer)).json
    # The answer echoes what the organizer gave, nothing of the account.
    assert comp["customer"]["name"] == "Guest of Honour"
    assert comp["customer"]["email"] == "someone@other-org.example"
    assert comp["customer"]["id"] != str(someone.id)
    # It is not that person's booking; its tickets go to the address given.
    assert client.get("/api/v1/bookings", headers=auth_header(someone)).json == []
    assert client.get(f"/api/v1/bookings/{comp['id']}", headers=auth_header(someone)).status_code == 404
    run_jobs("issue_tickets", "send_booking_emails")
    (mail,) = mail_sink.wait_for(1)
    assert mail.rcpt_tos == ("someone@other-org.example",)
    # A second comp to the address is a guest of its own.
    again = client.post(url, json=comp_body(event, 1, name="Plus One", email="someone@other-org.example"),
                        headers=auth_header(organizer)).json  # fmt: skip
    assert again["customer"]["id"] not in (comp["customer"]["id"], str(someone.id))
    with db.unit_of_work() as uow:
        account = uow.session.get(User, someone.id)
        assert (account.name, account.role) == ("Sam Someone", "organizer")
        assert (
            uow.session.scalar(select(func.count()).select_from(Booking).where(Booking.user_id == someone.id))
            == 0
        )


def test_a_comps_guest_is_no_account(client, db, organizer, make_event, make_user, auth_header):
    event = make_event(organizer, quota=10)
    url = f"/api/v1/events/{event.id}/comps"
    comp = client.post(
        url, json=comp_body(event, 1, email="new-guest@press.test"), headers=auth_header(organizer)
    ).json
    # The address can still become an account of its own, which does not see the comp.
    assert client.post("/api/v1/auth/register", json={"email": "new-guest@press.test", "password": "s3cret-enough",
                                                      "name": "Newcomer"}).status_code == 202  # fmt: skip
    signed_in = client.post(
        "/api/v1/auth/login", json={"email": "new-guest@press.test", "password": "s3cret-enough"}
    )
    assert signed_in.status_code == 200
    mine = client.get(
        "/api/v1/bookings", headers={"Authorization": f"Bearer {signed_in.json['access_token']}"}
    )
    assert mine.json == []
    # Nobody signs in as the guest, and administrators do not list or edit it as an account.
    admin = auth_header(make_user("admin"))
    listed = client.get("/api/v1/users", headers=admin, query_string={"q": "new-guest"}).json
    assert [user["name"] for user in listed] == ["Newcomer"]
    guest_id = comp["customer"]["id"]
    assert (
        client.patch(f"/api/v1/users/{guest_id}", json={"role": "customer"}, headers=admin).status_code == 404
    )
    assert client.patch(f"/api/v1/users/{listed[0]['id']}", json={"role": "guest"},
                        headers=admin).status_code == 422  # fmt: skip
