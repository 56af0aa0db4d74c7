"""The embedded default: on SQLite, a newcomer's whole flow works — publish, book, pay, tickets."""

from __future__ import annotations

import dataclasses

import pytest

from api import create_app
from core import runtime
from core.models import Organization, User
from core.services.accounts import hash_password
from tests.conftest import migrate
from tests.jobs import run_jobs
from tests.pdf_readback import read_pdf
from tests.test_support import bearer_for

pytestmark = pytest.mark.e2e


@pytest.fixture()
def sqlite_app(settings, tmp_path, mail_sink):
    url = f"sqlite:///{tmp_path / 'boxoffice.sqlite3'}"
    migrate(url)
    app = create_app(dataclasses.replace(settings, database_url=url, smtp_host=mail_sink.host,
                                         smtp_port=mail_sink.port))  # fmt: skip
    yield app
    runtime.database().dispose()
    runtime.configure(settings)


def test_book_pay_and_get_tickets_on_sqlite(sqlite_app, mail_sink):
    client = sqlite_app.test_client()
    with runtime.database().unit_of_work() as uow:
        organization = Organization(name="Garage Gigs")
        uow.session.add(organization)
        uow.session.flush()
        organizer = User(email="org@example.test", name="Olga", role="organizer", organization_id=organization.id,
                         password_hash=hash_password("organizer-pass"))  # fmt: skip
        uow.session.add(organizer)
        uow.commit()
    assert client.post("/api/v1/auth/register", json={"email": "fan@example.test", "password": "fan-password",
                                                      "name": "Fan"}).status_code == 202  # fmt: skip
    organizer_headers = bearer_for(client, "org@example.test", "organizer-pass")
    customer_headers = bearer_for(client, "fan@example.test", "fan-password")

    from tests.api.test_events import event_body

    event = client.post("/api/v1/events", json=event_body(), headers=organizer_headers).json
    assert client.post(f"/api/v1/events/{event['id']}/publish", headers=organizer_headers).status_code == 200
    standard = next(tt for tt in event["ticket_types"] if tt["name"] == "Standard")
    accepted = client.post("/api/v1/bookings", headers=customer_headers, json={
        "event_id": event["id"], "items": [{"ticket_type_id": standard["id"], "quantity": 2}]})  # fmt: skip
    assert accepted.status_code == 202
    run_jobs("drain_event", "prepare_checkouts")
    held = client.get(accepted.headers["Location"], headers=customer_headers).json
    assert held["status"] == "held" and held["total"] == 5000
    checkout_path = "/" + held["payment"]["checkout_url"].split("/", 3)[3]
    assert client.post(checkout_path, data={"outcome": "paid"}).status_code == 200
    run_jobs("process_webhook_event", "issue_tickets", "send_booking_emails")

    confirmed = client.get(accepted.headers["Location"], headers=customer_headers).json
    assert confirmed["status"] == "confirmed"
    tickets = client.get(confirmed["tickets_url"], headers=customer_headers).json
    assert len(tickets) == 2
    [mail] = mail_sink.wait_for(1)
    [pdf] = list(mail.message.iter_attachments())
    assert [page.qr_codes for page in read_pdf(pdf.get_content())] == [[t["qr_payload"]] for t in tickets]
    stats = client.get(f"/api/v1/events/{event['id']}/stats", headers=organizer_headers).json
    assert (stats["sold"], stats["tickets_issued"], stats["paid"]) == (2, 2, 5000)
