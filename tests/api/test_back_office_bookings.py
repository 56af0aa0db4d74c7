"""An event's bookings in the back office: filters, sort, pages, the CSV export, and who may not."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest

from core.formatting import booking_reference
from core.models import Booking, utcnow
from core.services import back_office
from tests.back_office_data import add_booking

T0 = dt.datetime(2030, 5, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture()
def sale(db, organizer, make_event, make_user):
    event = make_event(organizer, ticket_types=[{"name": "Standard", "price": 2500, "quota": 100},
                                                {"name": "VIP", "price": 9000, "quota": 10}])  # fmt: skip
    standard, vip = event.ticket_types
    ada = make_user(name="Ada Lovelace", email="ada@example.test")
    zoe = make_user(name="Zoë Ångström", email="zoe@example.test")
    evil = make_user(name='=HYPERLINK("http://evil.test")', email="evil@example.test")
    rows = {
        "ada": add_booking(db, event, ada, "confirmed", quantity=2, requested_at=T0, payment_status="paid"),
        "zoe": add_booking(
            db,
            event,
            zoe,
            "held",
            ticket_type=vip,
            requested_at=T0 + dt.timedelta(hours=1),
            payment_status="pending",
        ),  # fmt: skip
        "evil": add_booking(db, event, evil, "expired", requested_at=T0 + dt.timedelta(hours=2)),
        "waiting": add_booking(db, event, ada, "waitlisted", requested_at=T0 + dt.timedelta(hours=3)),
    }
    return event, rows, (standard, vip)


def ids(response) -> list[str]:
    assert response.status_code == 200, response.json
    return [row["id"] for row in response.json]


def test_organizer_lists_bookings_newest_first_with_customer_and_payment(
    client, sale, organizer, auth_header
):
    event, rows, _ = sale
    response = client.get(f"/api/v1/events/{event.id}/bookings", headers=auth_header(organizer))
    assert ids(response) == [str(rows[k].id) for k in ("waiting", "evil", "zoe", "ada")]
    ada = response.json[-1]
    assert ada["reference"] == booking_reference(rows["ada"].id)
    assert ada["customer"]["email"] == "ada@example.test" and ada["customer"]["name"] == "Ada Lovelace"
    assert (ada["status"], ada["total"], ada["currency"], ada["payment_status"]) == (
        "confirmed",
        5000,
        "EUR",
        "paid",
    )
    assert ada["items"][0]["quantity"] == 2
    assert dt.datetime.fromisoformat(ada["created_at"]) == T0
    assert json.loads(response.headers["X-Pagination"])["total"] == 4


def test_filters_sort_and_pages(client, sale, organizer, auth_header):
    event, rows, (_, vip) = sale
    url, headers = f"/api/v1/events/{event.id}/bookings", auth_header(organizer)

    def listed(**params):
        return set(ids(client.get(url, query_string=params, headers=headers)))

    def of(*keys):
        return {str(rows[k].id) for k in keys}

    assert listed(status=["held", "expired"]) == of("zoe", "evil")
    assert listed(ticket_type_id=str(vip.id)) == of("zoe")
    assert listed(q="ZOË") == of("zoe")
    assert listed(q="ada@EXAMPLE") == of("ada", "waiting")
    assert listed(q=booking_reference(rows["evil"].id).lower()) == of("evil")
    assert listed(q="%") == set() and listed(q="_") == set()
    after = (T0 + dt.timedelta(hours=1)).isoformat()
    before = (T0 + dt.timedelta(hours=3)).isoformat()
    assert listed(created_after=after, created_before=before) == of("zoe", "evil")
    oldest_first = ids(client.get(url, query_string={"sort": "created_at", "page_size": 2}, headers=headers))
    assert oldest_first == [str(rows["ada"].id), str(rows["zoe"].id)]
    second = client.get(url, query_string={"sort": "created_at", "page_size": 2, "page": 2}, headers=headers)
    assert ids(second) == [str(rows["evil"].id), str(rows["waiting"].id)]


def test_search_by_part_of_a_name_lists_and_counts_each_booking_once(client, sale, organizer, auth_header):
    event, rows, _ = sale
    url, headers = f"/api/v1/events/{event.id}/bookings", auth_header(organizer)
    assert ids(client.get(url, query_string={"q": "LOVEL"}, headers=headers)) == [
        str(rows["waiting"].id),
        str(rows["ada"].id),
    ]
    # "ada" is in both the customer's name and email: each booking once, and counted once.
    both = client.get(url, query_string={"q": "ada", "page_size": 1, "page": 2}, headers=headers)
    assert ids(both) == [str(rows["ada"].id)] and json.loads(both.headers["X-Pagination"])["total"] == 2


def test_csv_export_is_every_page_safe_and_parses_back(client, db, sale, organizer, auth_header, monkeypatch,
                                                       make_user):  # fmt: skip
    event, rows, _ = sale
    # Small export batches, and many bookings asked at the same instant: the keyset must
    # neither skip nor repeat a row across batch boundaries.
    monkeypatch.setattr(back_office, "EXPORT_BATCH", 3)
    crowd = make_user(name="Crowd", email="crowd@example.test")
    same_instant = [add_booking(db, event, crowd, "rejected", requested_at=T0) for _ in range(10)]
    headers = {**auth_header(organizer), "Accept": "text/csv"}

    response = client.get(f"/api/v1/events/{event.id}/bookings", headers=headers)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    table = list(csv.DictReader(io.StringIO(response.data.decode("utf-8"))))
    assert list(table[0]) == list(back_office.BOOKINGS_CSV_HEADER)
    assert len(table) == 14 and len({row["id"] for row in table}) == 14
    assert {row["id"] for row in table} >= {str(b.id) for b in same_instant}
    by_id = {row["id"]: row for row in table}
    evil = by_id[str(rows["evil"].id)]
    assert evil["customer_name"] == '\'=HYPERLINK("http://evil.test")'
    zoe = by_id[str(rows["zoe"].id)]
    assert zoe["customer_name"] == "Zoë Ångström" and zoe["items"] == "1 x VIP"
    assert dt.datetime.fromisoformat(zoe["created_at"]) == T0 + dt.timedelta(hours=1)
    assert dt.datetime.fromisoformat(zoe["hold_expires_at"]).utcoffset() == dt.timedelta(0)
    assert by_id[str(rows["ada"].id)]["total"] == "5000"

    filtered = client.get(
        f"/api/v1/events/{event.id}/bookings", query_string={"status": "held"}, headers=headers
    )
    assert [row["id"] for row in csv.DictReader(io.StringIO(filtered.data.decode()))] == [str(rows["zoe"].id)]


def test_who_may_not_see_an_events_bookings(client, sale, organizer, make_user, make_organization, auth_header,
                                            make_event):  # fmt: skip
    event, _, _ = sale
    url = f"/api/v1/events/{event.id}/bookings"
    stranger_org = make_organization("Other Org")
    strangers = [make_user(), make_user("organizer", stranger_org), make_user("staff", stranger_org),
                 make_user("staff", organizer.organization_id)]  # fmt: skip
    for user in strangers:
        for accept in ("application/json", "text/csv"):
            for params in ({}, {"q": "ada"}, {"status": "confirmed"}):
                response = client.get(
                    url, query_string=params, headers={**auth_header(user), "Accept": accept}
                )
                assert response.status_code == 403, (user.role, accept, params)
                assert b"ada" not in response.data
    assert client.get(url).status_code == 401
    assert client.get(url, headers={"Accept": "text/csv"}).status_code == 401
    unknown = client.get(
        "/api/v1/events/00000000-0000-0000-0000-000000000000/bookings", headers=auth_header(organizer)
    )
    assert unknown.status_code == 404
    # An organizer's own other event does not show this one's bookings.
    other = make_event(organizer)
    assert client.get(f"/api/v1/events/{other.id}/bookings", headers=auth_header(organizer)).json == []
    admin = make_user("admin")
    assert len(client.get(url, headers=auth_header(admin)).json) == 4


@pytest.mark.parametrize(
    "params",
    [
        {"status": "bogus"},
        {"created_after": "yesterday"},
        {"created_after": "2030-05-01T12:00:00"},  # no offset: ambiguous
        {"page_size": 100_000},
        {"page": 0},
        {"sort": "total"},
        {"ticket_type_id": "not-a-uuid"},
        {"q": ""},
        {"q": "x" * 500},
    ],
)
def test_bad_input_is_a_422(client, sale, organizer, auth_header, params):
    event, _, _ = sale
    # A CSV export is every page: it ignores page and page_size, and checks the rest.
    accepts = ("application/json",) if "page" in str(params) else ("application/json", "text/csv")
    for accept in accepts:
        response = client.get(f"/api/v1/events/{event.id}/bookings", query_string=params,
                              headers={**auth_header(organizer), "Accept": accept})  # fmt: skip
        assert response.status_code == 422, (params, accept, response.data[:200])


def test_reference_in_sql_matches_the_reference_in_python(db, sale):
    from sqlalchemy import select

    from core.formatting import booking_reference_sql
    from core.models import Booking

    with db.unit_of_work() as uow:
        pairs = uow.session.execute(select(Booking.id, booking_reference_sql(Booking.id))).all()
    assert len(pairs) == 4
    assert all(booking_reference(booking_id) == reference for booking_id, reference in pairs)


@pytest.mark.parametrize(
    "hold_left", [dt.timedelta(minutes=10), -dt.timedelta(seconds=1)], ids=["held", "due"]
)
def test_a_hold_reads_the_same_to_its_customer_and_in_the_back_office(
    client, db, organizer, make_event, make_user, auth_header, hold_left
):
    event, customer = make_event(organizer), make_user()
    booking = add_booking(db, event, customer, "held")
    with db.unit_of_work() as uow:
        uow.session.get(Booking, booking.id).hold_expires_at = utcnow() + hold_left
        uow.commit()
    headers = auth_header(organizer)

    mine = client.get(f"/api/v1/bookings/{booking.id}", headers=auth_header(customer)).json
    [listed] = client.get(f"/api/v1/events/{event.id}/bookings", headers=headers).json
    exported = client.get(f"/api/v1/events/{event.id}/bookings", headers={**headers, "Accept": "text/csv"})
    [row] = csv.DictReader(io.StringIO(exported.data.decode()))

    def when(text):
        return dt.datetime.fromisoformat(text) if text else None

    expected = (mine["status"], when(mine["hold_expires_at"]))
    assert (listed["status"], when(listed["hold_expires_at"])) == expected
    assert (row["status"], when(row["hold_expires_at"])) == expected
