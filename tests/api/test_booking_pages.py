"""The booking page's routes, reached by signed links: from the mails, from the checkout, and
from an operator's own front end (`FRONTEND_URL`); a wrong or expired link opens nothing."""

from __future__ import annotations

import dataclasses
import re
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

from core import booking_links, runtime
from core.models import User, utcnow
from tests.integration.booking_helpers import load
from tests.integration.payment_helpers import hold, pay_on_local_page, payment_of
from tests.jobs import run_jobs

BASE = "http://boxoffice.test"


@pytest.fixture()
def held(make_user, make_event, organizer):
    event = make_event(organizer, price=2500)
    [booking_id] = hold([make_user()], event)
    return booking_links.make_link(booking_id, event.ends_at)


@pytest.fixture()
def front_end(settings):
    runtime.configure(dataclasses.replace(settings, frontend_url="https://tickets.example/booking?lang=en"))
    yield
    runtime.configure(settings)


def _path(url: str) -> str:
    assert url.startswith(BASE)
    return url.removeprefix(BASE)


def _mail_text(mail) -> str:
    return mail.message.get_body(("plain",)).get_content()


def test_the_tickets_mail_opens_a_page_that_shows_the_booking_confirmed(client, db, held, mail_sink):
    pay_on_local_page(db, held.booking_id)
    run_jobs("process_webhook_event", "issue_tickets", "send_booking_emails")
    [mail] = mail_sink.received
    url = re.search(r"View your booking:\r?\n(\S+)", _mail_text(mail)).group(1)
    assert url == held.url

    page = client.get(_path(url))
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert page.headers["Referrer-Policy"] == "no-referrer" and page.headers["Cache-Control"] == "no-store"
    assert '<dd id="status">confirmed</dd>' in page.get_data(as_text=True)
    pdf = client.get(_path(held.url) + "/tickets.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF-")


def test_the_checkout_returns_to_the_booking_page(db, held):
    from core.payments.local_provider import LocalProvider

    payment = payment_of(db, held.booking_id)
    settings = runtime.settings()
    session = LocalProvider(
        runtime.redis_client(), settings.public_base_url, settings.jwt_secret_key
    ).checkout_page(payment.checkout_session_id, payment.checkout_url.rsplit("/", 1)[1])
    assert session["success_url"] == session["cancel_url"] == held.url


def test_tickets_are_refused_before_the_booking_is_paid(client, held):
    answer = client.get(_path(held.url) + "/tickets.pdf")
    assert answer.status_code == 409 and answer.mimetype == "text/html"
    assert "A held booking has no tickets." in answer.get_data(as_text=True)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),  # altered signature
        lambda token: str(int(token.split(".")[0]) + 1) + "." + token.split(".")[1],  # longer life
        lambda token: "not-a-token",
    ],
)
def test_a_wrong_token_cancels_nothing(client, db, held, mangle):
    answer = client.post(
        f"/api/v1/pages/bookings/{held.booking_id}/cancel", data={"token": mangle(held.token)}
    )
    assert answer.status_code == 404
    assert load(db, held.booking_id).status == "held"


def test_a_link_opens_only_its_own_booking(client, held):
    other = booking_links.make_link(uuid.uuid4(), utcnow())
    answer = client.get(f"/api/v1/pages/bookings/{held.booking_id}/{other.token}")
    assert answer.status_code == 404


def test_cancelling_by_the_form_lets_the_hold_go_and_returns_to_the_page(client, db, held):
    answer = client.post(f"/api/v1/pages/bookings/{held.booking_id}/cancel", data={"token": held.token})
    assert answer.status_code == 303 and answer.headers["Location"] == held.url
    assert load(db, held.booking_id).status == "cancelled"
    again = client.post(f"/api/v1/pages/bookings/{held.booking_id}/cancel", data={"token": held.token})
    assert again.status_code == 409


def test_with_a_front_end_the_links_lead_there_and_it_reads_the_booking_as_json(client, front_end, held):
    url = urlsplit(held.url)
    assert f"{url.scheme}://{url.netloc}{url.path}" == "https://tickets.example/booking"
    query = parse_qs(url.query)
    assert query == {"lang": ["en"], "booking_id": [str(held.booking_id)], "token": [held.token]}

    data = client.get(f"/api/v1/pages/bookings/{query['booking_id'][0]}/{query['token'][0]}/booking")
    assert data.status_code == 200
    assert data.json["status"] == "held" and data.json["payment"]["checkout_url"]
    cancelled = client.post(f"/api/v1/pages/bookings/{held.booking_id}/cancel", data={"token": held.token})
    assert cancelled.headers["Location"] == held.url


def test_get_booking_gives_its_customer_the_booking_pages_link_and_nobody_else(
    client, db, held, organizer, auth_header
):
    with db.unit_of_work() as uow:
        customer = uow.session.get(User, load(db, held.booking_id).user_id)
    url = f"/api/v1/bookings/{held.booking_id}"

    mine = client.get(url, headers=auth_header(customer)).json
    theirs = client.get(url, headers=auth_header(organizer)).json

    assert mine["booking_page_url"] == held.url
    assert client.get(_path(mine["booking_page_url"])).status_code == 200
    assert theirs["status"] == "held" and "booking_page_url" not in theirs
