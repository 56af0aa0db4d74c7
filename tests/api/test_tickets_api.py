"""Tickets over HTTP: download, public key, check-in answers, and who may do what."""

from __future__ import annotations

import uuid

import pytest

from core.ticket_signing import load_public_key, verify_ticket_payload
from tests.back_office_data import add_booking
from tests.integration.booking_helpers import drain
from tests.jobs import run_jobs
from tests.pdf_readback import read_pdf


@pytest.fixture()
def booked(client, organizer, make_event, make_user, auth_header, mail_sink):
    event = make_event(organizer, price=0, quota=5)
    customer = make_user(name="Alan Turing")
    body = {
        "event_id": str(event.id),
        "items": [{"ticket_type_id": str(event.ticket_types[0].id), "quantity": 2}],
    }
    location = client.post("/api/v1/bookings", json=body, headers=auth_header(customer)).headers["Location"]
    drain(event)
    run_jobs("issue_tickets", "send_booking_emails")
    return event, customer, location


def test_customer_lists_and_downloads_tickets(client, booked, auth_header):
    event, customer, location = booked
    booking = client.get(location, headers=auth_header(customer)).json
    assert booking["status"] == "confirmed"
    listed = client.get(booking["tickets_url"], headers=auth_header(customer))
    assert listed.status_code == 200 and len(listed.json) == 2
    pdf = client.get(f"{booking['tickets_url']}.pdf", headers=auth_header(customer))
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert "attachment" in pdf.headers["Content-Disposition"]
    pages = read_pdf(pdf.data)
    assert [page.qr_codes[0] for page in pages] == [ticket["qr_payload"] for ticket in listed.json]


def test_public_key_verifies_the_tickets(client, booked, auth_header):
    _, customer, location = booked
    key = client.get("/api/v1/tickets/public-key")
    assert key.status_code == 200 and key.json["algorithm"] == "Ed25519"
    ticket = client.get(f"{location}/tickets", headers=auth_header(customer)).json[0]
    for encoded in (key.json["public_key_pem"], key.json["public_key_b64"]):
        assert verify_ticket_payload(ticket["qr_payload"], load_public_key(encoded)).code == ticket["code"]


def test_check_in_answers(client, booked, organizer, make_user, auth_header, make_event):
    event, customer, location = booked
    ticket = client.get(f"{location}/tickets", headers=auth_header(customer)).json[0]
    staff = auth_header(make_user("staff", organizer.organization_id, name="Door Keeper"))
    url = f"/api/v1/events/{event.id}/checkins"

    first = client.post(url, json={"code": ticket["qr_payload"]}, headers=staff)
    assert first.status_code == 200
    assert (first.json["attendee_name"], first.json["ticket_type"]) == ("Alan Turing", "Standard")
    again = client.post(url, json={"code": ticket["code"]}, headers=staff)
    assert again.status_code == 409
    assert again.json["errors"]["reason"] == "already_checked_in"
    assert again.json["errors"]["checked_in_by"] == "Door Keeper"
    assert again.json["errors"]["checked_in_at"] == first.json["checked_in_at"]

    unknown = client.post(url, json={"code": "ZZZZ-ZZZZ-ZZZZ-ZZZZ"}, headers=staff)
    assert unknown.status_code == 404 and unknown.json["errors"]["reason"] == "unknown_ticket"
    garbage = client.post(url, json={"code": "BX1.not.signed"}, headers=staff)
    assert garbage.status_code == 422 and garbage.json["errors"]["reason"] == "invalid_ticket"
    other = make_event(organizer)
    wrong = client.post(f"/api/v1/events/{other.id}/checkins", json={"code": ticket["code"]}, headers=staff)
    # Another event's code is answered like an unknown one: the door learns nothing more.
    assert (wrong.status_code, wrong.json) == (unknown.status_code, unknown.json)
    for bad in ({}, {"code": ""}, {"code": 42}, {"code": "x" * 2000}):
        assert client.post(url, json=bad, headers=staff).status_code == 422

    figures = client.get(f"/api/v1/events/{event.id}/stats", headers=auth_header(organizer))
    assert figures.status_code == 200
    assert (figures.json["tickets_issued"], figures.json["checked_in"], figures.json["sold"]) == (2, 1, 2)
    assert figures.json["bookings"] == {"confirmed": 1}


def test_cancelled_ticket_is_refused_at_the_door(client, booked, organizer, auth_header):
    event, customer, location = booked
    ticket = client.get(f"{location}/tickets", headers=auth_header(customer)).json[0]
    assert client.post(f"{location}/cancel", headers=auth_header(customer)).status_code == 200
    assert client.get(f"{location}/tickets", headers=auth_header(customer)).json[0]["status"] == "cancelled"
    response = client.post(f"/api/v1/events/{event.id}/checkins", json={"code": ticket["code"]},
                           headers=auth_header(organizer))  # fmt: skip
    assert response.status_code == 422 and response.json["errors"]["reason"] == "ticket_cancelled"
    assert client.get(f"{location}/tickets.pdf", headers=auth_header(customer)).status_code == 404


def test_other_organizations_and_customers_cannot_check_in_list_or_download(client, booked, make_user,
                                                                           make_organization, auth_header):  # fmt: skip
    event, customer, location = booked
    ticket = client.get(f"{location}/tickets", headers=auth_header(customer)).json[0]
    elsewhere = make_organization("Elsewhere")
    for intruder in (make_user("staff", elsewhere), make_user("organizer", elsewhere), make_user(), customer):
        headers = auth_header(intruder)
        checkin = client.post(
            f"/api/v1/events/{event.id}/checkins", json={"code": ticket["code"]}, headers=headers
        )
        assert checkin.status_code == 403
        assert client.get(f"/api/v1/events/{event.id}/stats", headers=headers).status_code == 403
        if intruder is not customer:
            assert client.get(f"{location}/tickets", headers=headers).status_code == 404
            assert client.get(f"{location}/tickets.pdf", headers=headers).status_code == 404
    assert client.get(f"{location}/tickets").status_code == 401


def test_tickets_of_an_unknown_booking_are_404(client, make_user, auth_header):
    headers = auth_header(make_user())
    assert client.get(f"/api/v1/bookings/{uuid.uuid4()}/tickets", headers=headers).status_code == 404
    assert client.get(f"/api/v1/bookings/{uuid.uuid4()}/tickets.pdf", headers=headers).status_code == 404


def test_a_booking_without_valid_tickets_has_no_pdf(
    client, db, organizer, make_event, make_user, auth_header
):
    customer = make_user()
    held = add_booking(db, make_event(organizer), customer, "held")
    answer = client.get(f"/api/v1/bookings/{held.id}/tickets.pdf", headers=auth_header(customer))
    assert (answer.status_code, answer.json["errors"]["reason"]) == (404, "no_tickets")
