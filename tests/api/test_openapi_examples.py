"""Every request body's example in the OpenAPI document works: sent in order, with the ids and
mailed codes it names replaced by real ones, each answers its documented success. And the
example Swagger UI fills in for `POST /events` is the one the document gives, dated ahead."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select

from api.resources import examples
from core.booking_links import make_link
from core.models import Booking, Ticket, User, utcnow
from core.services import accounts
from tests.jobs import run_jobs

# The operations with a request body, in the order a newcomer would try them.
ORDER = [
    ("post", "/api/v1/auth/register"),
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/verify-email"),
    ("post", "/api/v1/auth/password-reset"),
    ("post", "/api/v1/auth/password-reset/confirm"),
    ("post", "/api/v1/auth/password"),
    ("post", "/api/v1/organizations"),
    ("patch", "/api/v1/users/{user_id}"),
    ("post", "/api/v1/events"),
    ("patch", "/api/v1/events/{event_id}"),
    ("post", "/api/v1/events/{event_id}/ticket-types"),
    ("put", "/api/v1/events/{event_id}/seating"),
    ("post", "/api/v1/events/{event_id}/seats/block"),
    ("patch", "/api/v1/events/{event_id}/ticket-types/{ticket_type_id}"),
    ("post", "/api/v1/events/{event_id}/vouchers"),
    ("patch", "/api/v1/events/{event_id}/vouchers/{voucher_id}"),
    ("post", "/api/v1/events/{event_id}/questions"),
    ("patch", "/api/v1/events/{event_id}/questions/{question_id}"),
    ("post", "/api/v1/bookings"),
    ("post", "/api/v1/payments/local/{session_id}/{token}"),
    ("post", "/api/v1/events/{event_id}/checkins"),
    ("patch", "/api/v1/tickets/{ticket_id}"),
    ("post", "/api/v1/bookings/{booking_id}/cancel"),
    ("post", "/api/v1/events/{event_id}/comps"),
    ("post", "/api/v1/pages/bookings/{booking_id}/cancel"),
]


@pytest.fixture()
def spec(client):
    return client.get("/api/v1/openapi.json").json


def _operations_with_bodies(spec) -> dict:
    return {(method, path): operation for path, item in spec["paths"].items()
            for method, operation in item.items() if isinstance(operation, dict) and "requestBody" in operation}  # fmt: skip


def _success(operation) -> int:
    return min(int(code) for code in operation["responses"] if code[0] in "23")


def test_every_request_body_has_an_example_and_is_tried_here(spec):
    operations = _operations_with_bodies(spec)
    assert set(operations) == set(ORDER)
    for operation in operations.values():
        for media in operation["requestBody"]["content"].values():
            assert "example" in media


def test_each_example_answers_its_documented_success(app, client, db, spec, make_user, auth_header):
    operations = _operations_with_bodies(spec)
    admin = make_user("admin")
    soon_organizer = make_user("customer", name="Olga")
    found: dict[str, str] = {examples.USER_ID: str(soon_organizer.id)}
    path_ids = {"user_id": str(soon_organizer.id)}

    def user(email=None, user_id=None) -> User:
        with db.unit_of_work() as uow:
            query = (
                select(User).where(User.email == email) if email else select(User).where(User.id == user_id)
            )
            return uow.session.scalars(query).one()

    def prepare(method, path) -> dict:
        """What the call needs beyond the example: headers, and the real codes the example names."""
        cleo = lambda: auth_header(user(email=examples.REGISTER["email"]))  # noqa: E731
        olga = lambda: auth_header(user(user_id=soon_organizer.id))  # noqa: E731
        if path.endswith("/password-reset/confirm"):
            found[examples.MAILED_CODE] = accounts.password_reset_token(
                user(email=examples.REGISTER["email"])
            )
        elif path.endswith("/verify-email"):
            found[examples.MAILED_CODE] = accounts.email_verification_token(
                user(email=examples.REGISTER["email"])
            )
        if path in ("/api/v1/auth/password", "/api/v1/bookings", "/api/v1/bookings/{booking_id}/cancel",
                    "/api/v1/tickets/{ticket_id}"):  # fmt: skip
            return cleo()
        if path in ("/api/v1/organizations", "/api/v1/users/{user_id}"):
            return auth_header(admin)
        if path.startswith("/api/v1/events"):
            headers = olga()
            if method == "patch" or path.endswith("/ticket-types"):
                etag = client.get(f"/api/v1/events/{path_ids['event_id']}", headers=headers).headers["ETag"]
                headers["If-Match"] = etag
            return headers
        return {}

    for method, path in ORDER:
        operation = operations[(method, path)]
        [(content_type, media)] = operation["requestBody"]["content"].items()
        headers = prepare(method, path)
        body = json.dumps(media["example"])
        for placeholder, real in found.items():
            body = body.replace(placeholder, real)
        url = path.format(**path_ids)
        if content_type == "application/json":
            answer = client.open(url, method=method, data=body, content_type=content_type, headers=headers)
        else:
            answer = client.open(url, method=method, data=json.loads(body), headers=headers)
        assert answer.status_code == _success(operation), (method, path, answer.get_data(as_text=True))

        # What the next examples need from this answer.
        if path == "/api/v1/organizations":
            found[examples.ORGANIZATION_ID] = answer.json["id"]
        elif (method, path) == ("post", "/api/v1/events"):
            found[examples.EVENT_ID] = path_ids["event_id"] = answer.json["id"]
            found[examples.TICKET_TYPE_ID] = path_ids["ticket_type_id"] = answer.json["ticket_types"][0]["id"]
        elif path.endswith("/ticket-types"):
            balcony = next(tt for tt in answer.json["ticket_types"] if tt["seated"])
            found[examples.SEATED_TICKET_TYPE_ID] = balcony["id"]
        elif path.endswith("/seating"):
            found[examples.SEAT_ID] = answer.json["sections"][0]["rows"][0]["seats"][0]["id"]
        elif path.endswith("/ticket-types/{ticket_type_id}"):
            published = client.post(f"{url.split('/ticket-types')[0]}/publish", headers=headers)
            assert published.status_code == 200
        elif path.endswith("/vouchers"):
            path_ids["voucher_id"] = answer.json["id"]
        elif path.endswith("/questions"):
            path_ids["question_id"] = answer.json["id"]
        elif path == "/api/v1/bookings":
            path_ids["booking_id"] = answer.json["id"]
            run_jobs("drain_event", "prepare_checkouts")
            checkout = client.get(answer.headers["Location"], headers=headers).json["payment"]["checkout_url"]
            path_ids["session_id"], path_ids["token"] = checkout.split("/")[-2:]
        elif path.startswith("/api/v1/payments/local"):
            run_jobs("process_webhook_event", "issue_tickets")
            with db.unit_of_work() as uow:
                first, second = uow.session.scalars(select(Ticket).order_by(Ticket.code)).all()
                # One ticket is scanned at the door, the other one given back.
                found[examples.TICKET_CODE], found[examples.TICKET_ID] = first.code, str(second.id)
                path_ids["ticket_id"] = str(second.id)
        elif path.endswith("/comps"):
            with db.unit_of_work() as uow:
                comp = uow.session.get(Booking, answer.json["id"])
                path_ids["booking_id"] = str(comp.id)
                found[examples.BOOKING_LINK_TOKEN] = make_link(comp.id, comp.event.ends_at).token


def test_the_example_event_is_ahead_so_swagger_ui_can_send_it(spec):
    example = spec["paths"]["/api/v1/events"]["post"]["requestBody"]["content"]["application/json"]["example"]
    starts = dt.datetime.fromisoformat(example["starts_at"])
    assert starts > utcnow() + dt.timedelta(days=30)
    assert (
        dt.datetime.fromisoformat(example["refund_until"])
        < starts
        < dt.datetime.fromisoformat(example["ends_at"])
    )
