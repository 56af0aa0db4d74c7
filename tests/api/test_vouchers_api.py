"""Vouchers over HTTP: organizers create, generate, list (and export), edit and disable them;
customers book with a code, and a bad code or bad terms are a clear 4xx that changes nothing."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from sqlalchemy import func, select

from core.models import AuditEntry, Voucher, utcnow
from tests.integration.booking_helpers import drain, queue_length


def url(event) -> str:
    return f"/api/v1/events/{event.id}/vouchers"


def voucher_count(db) -> int:
    with db.unit_of_work() as uow:
        return uow.session.scalar(select(func.count()).select_from(Voucher))


def booking(event, code, quantity=1) -> dict:
    return {"event_id": str(event.id), "voucher_code": code,
            "items": [{"ticket_type_id": str(event.ticket_types[0].id), "quantity": quantity}]}  # fmt: skip


def test_organizers_create_list_edit_and_export_vouchers(
    client, db, organizer, make_event, auth_header, make_user
):
    event = make_event(organizer)
    headers = auth_header(organizer)
    created = client.post(url(event), json={"code": "early-bird", "discount": {"percent": 15}, "max_redemptions": 3},
                          headers=headers)  # fmt: skip
    assert created.status_code == 201
    voucher = created.json  # one code, one object (a batch, `generate`, is a list)
    assert (voucher["code"], voucher["discount"], voucher["remaining"]) == ("EARLY-BIRD", {"percent": 15}, 3)

    customer = make_user()
    assert (
        client.post(
            "/api/v1/bookings", json=booking(event, "Early-Bird"), headers=auth_header(customer)
        ).status_code
        == 202
    )
    drain(event)
    [listed] = client.get(url(event), headers=headers).json
    assert (listed["redeemed"], listed["remaining"]) == (1, 2)

    edited = client.patch(f"{url(event)}/{voucher['id']}", json={"max_redemptions": 5, "discount": {"amount": 300, "currency": "EUR"}},
                          headers=headers)  # fmt: skip
    assert edited.status_code == 200
    assert (edited.json["remaining"], edited.json["discount"]) == (4, {"amount": 300, "currency": "EUR"})

    exported = client.get(url(event), headers={**headers, "Accept": "text/csv"})
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert [(r["code"], r["redeemed"], r["remaining"], r["discount_amount"]) for r in rows] == [
        ("EARLY-BIRD", "1", "4", "300")
    ]
    with db.unit_of_work() as uow:
        actions = uow.session.scalars(select(AuditEntry.action).order_by(AuditEntry.at)).all()
    assert actions == ["voucher.create", "voucher.update"]


def test_generate_makes_unique_random_codes_after_the_prefix(client, db, organizer, make_event, auth_header):
    event = make_event(organizer)
    answer = client.post(url(event), json={"generate": 300, "prefix": "vip-", "discount": {"percent": 100},
                                           "max_redemptions": 1}, headers=auth_header(organizer))  # fmt: skip
    assert answer.status_code == 201
    codes = [v["code"] for v in answer.json]
    assert len(set(codes)) == 300 and all(code.startswith("VIP-") and len(code) == 14 for code in codes)
    assert voucher_count(db) == 300


def test_deleting_an_unused_voucher_removes_it(client, db, organizer, make_event, auth_header):
    event = make_event(organizer)
    headers = auth_header(organizer)
    voucher = client.post(
        url(event), json={"code": "ONCE-ONLY", "discount": {"percent": 5}}, headers=headers
    ).json
    assert client.delete(f"{url(event)}/{voucher['id']}", headers=headers).status_code == 204
    assert voucher_count(db) == 0
    assert client.delete(f"{url(event)}/{voucher['id']}", headers=headers).status_code == 404


# Each bad voucher, and the reason its refusal names (None: the schema refuses a field).
BAD_VOUCHERS = {
    "percent above 100": ({"code": "X100-CODE", "discount": {"percent": 101}}, None),
    "percent below 0": ({"code": "X100-CODE", "discount": {"percent": -1}}, None),
    "percent and amount": ({"code": "X100-CODE", "discount": {"percent": 10, "amount": 100, "currency": "EUR"}}, "invalid_discount"),
    "no discount": ({"code": "X100-CODE"}, None),
    "amount in another currency": ({"code": "X100-CODE", "discount": {"amount": 100, "currency": "USD"}}, "currency_mismatch"),
    "amount without currency": ({"code": "X100-CODE", "discount": {"amount": 100}}, "currency_mismatch"),
    "code with spaces": ({"code": "TWO WORDS", "discount": {"percent": 10}}, "invalid_code"),
    "code too short": ({"code": "AB", "discount": {"percent": 10}}, "invalid_code"),
    "neither code nor generate": ({"discount": {"percent": 10}}, "code_required"),
    "generate too many": ({"generate": 10_001, "discount": {"percent": 10}}, None),
    "bad prefix": ({"generate": 2, "prefix": "no spaces", "discount": {"percent": 10}}, "invalid_code"),
    "unknown ticket type": ({"code": "X100-CODE", "discount": {"percent": 10}, "ticket_type_ids": ["00000000-0000-0000-0000-000000000001"]}, "unknown_ticket_type"),
    "ends before it starts": ({"code": "X100-CODE", "discount": {"percent": 10}, "valid_from": "2030-01-02T00:00:00+00:00",
                              "valid_until": "2030-01-01T00:00:00+00:00"}, "voucher_window_invalid"),
    "max_redemptions zero": ({"code": "X100-CODE", "discount": {"percent": 10}, "max_redemptions": 0}, None),
}  # fmt: skip


@pytest.mark.parametrize(("body", "reason"), BAD_VOUCHERS.values(), ids=BAD_VOUCHERS.keys())
def test_bad_vouchers_are_refused_and_change_nothing(
    client, db, organizer, make_event, auth_header, body, reason
):
    event = make_event(organizer)
    answer = client.post(url(event), json=body, headers=auth_header(organizer))
    assert answer.status_code == 422, answer.json
    assert answer.json.get("errors", {}).get("reason") == reason
    assert voucher_count(db) == 0


def test_a_duplicate_code_in_an_event_is_a_conflict(client, db, organizer, make_event, auth_header):
    event, other = make_event(organizer), make_event(organizer)
    headers = auth_header(organizer)
    assert (
        client.post(
            url(event), json={"code": "SAME-CODE", "discount": {"percent": 10}}, headers=headers
        ).status_code
        == 201
    )
    again = client.post(url(event), json={"code": "same-code", "discount": {"percent": 50}}, headers=headers)
    assert again.status_code == 409 and again.json["errors"]["reason"] == "duplicate_voucher_code"
    assert (
        client.post(
            url(other), json={"code": "SAME-CODE", "discount": {"percent": 10}}, headers=headers
        ).status_code
        == 201
    )
    assert voucher_count(db) == 2


def test_max_redemptions_cannot_go_below_what_is_redeemed(
    client, db, organizer, make_event, make_user, auth_header
):
    event = make_event(organizer)
    headers = auth_header(organizer)
    voucher = client.post(url(event), json={"code": "TWO-USES", "discount": {"percent": 10}, "max_redemptions": 2},
                          headers=headers).json  # fmt: skip
    for customer in (make_user(), make_user()):
        client.post("/api/v1/bookings", json=booking(event, "TWO-USES"), headers=auth_header(customer))
    drain(event)
    answer = client.patch(f"{url(event)}/{voucher['id']}", json={"max_redemptions": 1}, headers=headers)
    assert answer.status_code == 409 and answer.json["errors"]["reason"] == "max_redemptions_below_redeemed"
    assert client.get(url(event), headers=headers).json[0]["max_redemptions"] == 2


def test_only_the_events_organizers_manage_its_vouchers(client, db, organizer, make_event, make_user, make_organization,
                                                        auth_header):  # fmt: skip
    event = make_event(organizer)
    stranger = make_user("organizer", make_organization("Other"))
    for who in (make_user(), stranger):
        answer = client.post(
            url(event), json={"code": "MINE-CODE", "discount": {"percent": 10}}, headers=auth_header(who)
        )
        assert answer.status_code in (403, 404)
        assert client.get(url(event), headers=auth_header(who)).status_code in (403, 404)
    assert voucher_count(db) == 0


def test_unknown_expired_disabled_and_foreign_codes_are_422_and_queue_nothing(
    client, db, organizer, make_event, make_user, auth_header
):
    event, other = make_event(organizer), make_event(organizer)
    headers = auth_header(organizer)
    past = (utcnow() - dt.timedelta(days=1)).isoformat()
    future = (utcnow() + dt.timedelta(days=1)).isoformat()
    client.post(
        url(event),
        json={"code": "OLD-CODE", "discount": {"percent": 10}, "valid_until": past},
        headers=headers,
    )
    client.post(
        url(event),
        json={"code": "SOON-CODE", "discount": {"percent": 10}, "valid_from": future},
        headers=headers,
    )
    off = client.post(
        url(event), json={"code": "OFF-CODE", "discount": {"percent": 10}}, headers=headers
    ).json
    client.patch(f"{url(event)}/{off['id']}", json={"disabled": True}, headers=headers)
    client.post(url(other), json={"code": "THEIRS", "discount": {"percent": 10}}, headers=headers)
    client.post(url(event), json={"code": "OTHERTYPE", "discount": {"percent": 10},
                                  "ticket_type_ids": [str(event.ticket_types[0].id)]}, headers=headers)  # fmt: skip
    customer = auth_header(make_user())
    refusals = []
    for code in ("NOPE-CODE", "OLD-CODE", "SOON-CODE", "OFF-CODE", "THEIRS"):
        answer = client.post("/api/v1/bookings", json=booking(event, code), headers=customer)
        assert answer.status_code == 422, code
        refusals.append(answer.json)
        answer = client.get(f"/api/v1/events/{event.id}?voucher={code}")
        assert answer.status_code == 422, code
        refusals.append(answer.json)
    # One answer for every refusal: a guesser cannot tell an expired or disabled code from none.
    assert all(refusal == refusals[0] for refusal in refusals), refusals
    assert refusals[0]["errors"] == {"reason": "invalid_voucher"}
    assert queue_length(event) == 0
    assert (
        client.post("/api/v1/bookings", json=booking(event, "OTHERTYPE"), headers=customer).status_code == 202
    )


def test_a_used_up_or_inapplicable_code_is_refused_like_an_unknown_one(
    client, db, organizer, make_event, make_user, auth_header
):
    event = make_event(organizer, ticket_types=[{"name": "A", "price": 1000, "quota": 10},
                                                {"name": "B", "price": 1000, "quota": 10}])  # fmt: skip
    headers = auth_header(organizer)
    client.post(url(event), json={"code": "ONE-SHOT", "discount": {"percent": 10}, "max_redemptions": 1},
                headers=headers)  # fmt: skip
    client.post(url(event), json={"code": "ONLY-B", "discount": {"percent": 10},
                                  "ticket_type_ids": [str(event.ticket_types[1].id)]}, headers=headers)  # fmt: skip
    assert (
        client.post(
            "/api/v1/bookings", json=booking(event, "ONE-SHOT"), headers=auth_header(make_user())
        ).status_code
        == 202
    )
    drain(event)
    unknown = client.get(f"/api/v1/events/{event.id}?voucher=NO-SUCH-CODE")
    used_up = client.get(f"/api/v1/events/{event.id}?voucher=ONE-SHOT")
    assert used_up.status_code == unknown.status_code == 422
    assert used_up.json == unknown.json
    inapplicable = client.post(
        "/api/v1/bookings", json=booking(event, "ONLY-B"), headers=auth_header(make_user())
    )
    unknown = client.post(
        "/api/v1/bookings", json=booking(event, "NO-SUCH-CODE"), headers=auth_header(make_user())
    )
    assert inapplicable.status_code == unknown.status_code == 422
    assert inapplicable.json == unknown.json


@pytest.mark.parametrize("code", ["ABC", "ABCDE", "ab-cd"])
def test_a_custom_code_shorter_than_six_characters_is_refused_with_its_reason(
    client, db, organizer, make_event, auth_header, code
):
    event = make_event(organizer)
    answer = client.post(
        url(event), json={"code": code, "discount": {"percent": 10}}, headers=auth_header(organizer)
    )
    assert answer.status_code == 422
    assert answer.json["errors"]["reason"] == "invalid_code"
    assert "6 to 64" in answer.json["message"]
    assert voucher_count(db) == 0
    six = client.post(
        url(event), json={"code": "ABCDEF", "discount": {"percent": 10}}, headers=auth_header(organizer)
    )
    assert six.status_code == 201


def test_the_openapi_document_says_one_code_answers_an_object_and_a_batch_a_list(client):
    spec = client.get("/api/v1/openapi.json").json
    created = spec["paths"]["/api/v1/events/{event_id}/vouchers"]["post"]["responses"]["201"]
    voucher = {"$ref": "#/components/schemas/VoucherOut"}
    assert created["content"]["application/json"]["schema"] == {
        "oneOf": [voucher, {"type": "array", "items": voucher}]
    }
    assert "VoucherOut" in spec["components"]["schemas"]
