"""Analytics: an event's sale over time agrees with its rows bucket by bucket, the chart is a real
PNG, the platform's figures per organization, SQLite's clear 501, and who may not."""

from __future__ import annotations

import datetime as dt
import io
from collections import defaultdict
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from sqlalchemy import select, update

from core.db import Database
from core.errors import Invalid, NotSupported
from core.models import Base, Booking, Event, Organization, Payment, Refund, Ticket, User
from core.services import analytics
from tests.back_office_data import add_booking

ZONE = "America/New_York"
T0 = dt.datetime(2030, 5, 1, 12, 0, tzinfo=dt.UTC)  # 08:00 in New York


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def settle(db, booking, **moments) -> None:
    """Give a booking the moments a sale would have written (`updated_at` too, or it is now)."""
    moments.setdefault("updated_at", moments.get("decided_at", booking.requested_at))
    with db.unit_of_work() as uow:
        uow.session.execute(update(Booking).where(Booking.id == booking.id).values(**moments))
        uow.commit()


def refund(db, booking, amount: int, succeeded_at: dt.datetime) -> None:
    with db.unit_of_work() as uow:
        payment = uow.session.scalar(select(Payment).where(Payment.booking_id == booking.id))
        payment.status = "refunded"
        uow.session.add(Refund(payment_id=payment.id, booking_id=booking.id, amount=amount, currency="EUR",
                               reason="requested_by_customer", status="succeeded",
                               idempotency_key=f"refund-{booking.id}", updated_at=succeeded_at))  # fmt: skip
        uow.commit()


def check_in(db, booking, *moments: dt.datetime) -> None:
    with db.unit_of_work() as uow:
        tickets = uow.session.scalars(select(Ticket).where(Ticket.booking_id == booking.id)).all()
        for ticket, moment in zip(tickets, moments, strict=False):
            ticket.checked_in_at = moment
        uow.commit()


@pytest.fixture()
def sale(db, organizer, make_event, make_user):
    """A morning's sale in New York: paid, expired, refunded, waitlisted, rejected, held, checked in,
    and a request from the evening before (the same UTC day, another New York day)."""
    event = make_event(organizer, timezone=ZONE,
                       ticket_types=[{"name": "Standard", "price": 2500, "quota": 100},
                                     {"name": "VIP", "price": 9000, "quota": 10}])  # fmt: skip
    standard, vip = event.ticket_types
    ada, bob = make_user(name="Ada"), make_user(name="Bob")

    paid = add_booking(db, event, ada, "confirmed", quantity=2, requested_at=at(5), payment_status="paid",
                       tickets=True)  # fmt: skip
    settle(db, paid, decided_at=at(5) + dt.timedelta(seconds=2), confirmed_at=at(20))
    check_in(db, paid, at(190))

    vip_paid = add_booking(db, event, bob, "confirmed", ticket_type=vip, requested_at=at(10),
                           payment_status="paid", tickets=True)  # fmt: skip
    settle(db, vip_paid, decided_at=at(10) + dt.timedelta(seconds=4), confirmed_at=at(75))
    check_in(db, vip_paid, at(200))

    expired = add_booking(db, event, bob, "expired", requested_at=at(30))
    settle(db, expired, decided_at=at(30) + dt.timedelta(seconds=1), updated_at=at(40))

    refunded = add_booking(
        db, event, ada, "cancelled", quantity=3, requested_at=at(60), payment_status="paid"
    )
    settle(
        db, refunded, decided_at=at(60) + dt.timedelta(seconds=3), confirmed_at=at(65), cancelled_at=at(120)
    )
    refund(db, refunded, 7500, at(150))

    waiting = add_booking(db, event, ada, "waitlisted", requested_at=at(90))
    settle(db, waiting, decided_at=at(90) + dt.timedelta(seconds=5))
    rejected = add_booking(
        db, event, bob, "rejected", ticket_type=vip, requested_at=at(90) + dt.timedelta(seconds=2)
    )
    settle(db, rejected, decided_at=at(90) + dt.timedelta(seconds=8))  # asked while `waiting` was queued

    held = add_booking(db, event, bob, "held", requested_at=at(125), payment_status="pending")
    settle(db, held, decided_at=at(125) + dt.timedelta(seconds=60))

    evening = add_booking(db, event, bob, "rejected", requested_at=at(-9 * 60))  # 23:00 the day before
    settle(db, evening, decided_at=at(-9 * 60) + dt.timedelta(seconds=1))
    return event, (standard, vip)


def floor(moment: dt.datetime, interval: str) -> dt.datetime:
    local = moment.astimezone(ZoneInfo(ZONE)).replace(minute=0, second=0, microsecond=0)
    return (local.replace(hour=0) if interval == "day" else local).astimezone(dt.UTC)


def expected_from_rows(db, event, interval: str) -> dict:
    """`{ticket_type_id or None: {bucket start: {figure: value}}}`, counted row by row in Python."""
    figures: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))

    def add(moment, figure, value, ticket_type_id):
        for key in (None, ticket_type_id):
            figures[key][floor(moment, interval)][figure] += value

    moment_of = {"held": "decided_at", "waitlisted": "decided_at", "rejected": "decided_at",
                 "confirmed": "confirmed_at", "expired": "updated_at", "cancelled": "cancelled_at"}  # fmt: skip
    with db.unit_of_work() as uow:
        for booking in uow.session.scalars(select(Booking).where(Booking.event_id == event.id)):
            (line,) = booking.lines  # one ticket type per booking in this sale
            tt = line.ticket_type_id
            add(booking.requested_at, "requests", 1, tt)
            add(getattr(booking, moment_of[booking.status]), booking.status, 1, tt)
            if booking.confirmed_at:
                add(booking.confirmed_at, "tickets_sold", line.quantity, tt)
            for payment in uow.session.scalars(select(Payment).where(Payment.booking_id == booking.id)):
                if payment.status in ("paid", "refunded"):
                    add(booking.confirmed_at or payment.created_at, "gross", payment.amount, tt)
            for row in uow.session.scalars(select(Refund).where(Refund.booking_id == booking.id)):
                add(row.updated_at, "refunded", row.amount, tt)
        for ticket in uow.session.scalars(select(Ticket).where(Ticket.event_id == event.id)):
            if ticket.checked_in_at:
                add(ticket.checked_in_at, "check_ins", 1, ticket.ticket_type_id)
    return figures


def assert_agrees(figures: dict, series: list[dict]) -> None:
    assert series, "no buckets"
    assert {dt.datetime.fromisoformat(b["start"]) for b in series} >= set(figures)
    for bucket in series:
        start = dt.datetime.fromisoformat(bucket["start"])
        row = figures.get(start, {})
        for figure in analytics.FIGURES:
            if figure == "net":
                assert bucket["net"] == row.get("gross", 0) - row.get("refunded", 0), (start, figure)
            else:
                assert bucket[figure] == row.get(figure, 0), (start, figure, bucket)


@pytest.mark.parametrize("interval", ["hour", "day"])
def test_every_bucket_agrees_with_the_rows(client, db, sale, organizer, auth_header, interval):
    event, (standard, vip) = sale
    response = client.get(f"/api/v1/events/{event.id}/analytics", query_string={"interval": interval},
                          headers=auth_header(organizer))  # fmt: skip
    assert response.status_code == 200, response.json
    body = response.json
    expected = expected_from_rows(db, event, interval)
    assert_agrees(expected[None], body["series"])
    by_type = {row["ticket_type_id"]: row for row in body["ticket_types"]}
    for tt in (standard, vip):
        assert_agrees(expected[tt.id], by_type[str(tt.id)]["series"])
    starts = [dt.datetime.fromisoformat(b["start"]) for b in body["series"]]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    # The evening request falls on the day before in New York, though on the same UTC day.
    assert len(starts) == (2 if interval == "day" else 13)  # 03:00 to 15:00 UTC
    assert body["timezone"] == ZONE and body["interval"] == interval

    totals = body["totals"]
    assert totals == {
        "requests": 8, "held": 1, "confirmed": 2, "waitlisted": 1, "rejected": 2, "expired": 1, "cancelled": 1,
        "tickets_sold": 6, "gross": 5000 + 9000 + 7500, "refunded": 7500, "net": 14000, "check_ins": 2,
    }  # fmt: skip
    assert by_type[str(vip.id)]["totals"]["tickets_sold"] == 1
    assert by_type[str(vip.id)]["totals"]["gross"] == 9000
    assert by_type[str(standard.id)]["totals"]["refunded"] == 7500
    # Given tickets to pay for: paid, vip_paid, expired, refunded (paid, then cancelled), held.
    assert body["conversion"] == {"holds": 5, "paid": 3, "rate": 0.6}
    queue = body["queue"]
    assert queue["source"] == "bookings" and queue["decisions"] == 8
    assert queue["peak_depth"] == 2  # `rejected` asked while `waiting` was still undecided
    assert queue["decision_latency_seconds"] == {"p50": 3.5, "p99": pytest.approx(6 + 0.93 * 54, abs=1e-3)}


def test_an_event_with_no_bookings(client, organizer, make_event, auth_header):
    event = make_event(organizer)
    body = client.get(f"/api/v1/events/{event.id}/analytics", headers=auth_header(organizer)).json
    assert body["series"] == [] and body["totals"]["requests"] == 0
    assert body["conversion"]["rate"] is None and body["queue"]["peak_depth"] == 0
    chart = client.get(f"/api/v1/events/{event.id}/analytics.png", headers=auth_header(organizer))
    assert Image.open(io.BytesIO(chart.data)).size == (1200, 600)


def test_the_chart_is_a_png_for_a_report(client, sale, organizer, auth_header, tmp_path):
    event, _ = sale
    response = client.get(f"/api/v1/events/{event.id}/analytics.png", headers=auth_header(organizer))
    assert response.status_code == 200 and response.mimetype == "image/png"
    image = Image.open(io.BytesIO(response.data))
    assert (image.format, image.size) == ("PNG", (1200, 600))
    # Drawn, not blank: the bars' colours are there.
    colours = {colour for _, colour in image.convert("RGB").getcolors(maxcolors=1 << 16)}
    assert (0x1F, 0x6F, 0xB2) in colours and (0xE0, 0x7B, 0x20) in colours


def test_platform_figures_per_organization(client, db, sale, organizer, make_organization, make_user,
                                           make_event, auth_header):  # fmt: skip
    event, _ = sale
    other = make_user("organizer", make_organization("Zeta Shows"))
    other_event = make_event(other)
    add_booking(
        db, other_event, make_user(), "confirmed", quantity=4, requested_at=at(30), payment_status="paid"
    )
    admin = make_user("admin")
    response = client.get("/api/v1/admin/analytics", headers=auth_header(admin), query_string={
        "after": "2030-05-01T00:00:00+00:00", "before": "2030-05-02T00:00:00+00:00", "interval": "day"})  # fmt: skip
    assert response.status_code == 200, response.json
    body = response.json
    assert [b["start"] for b in body["series"]] == ["2030-05-01T00:00:00+00:00"]
    by_name = {row["name"]: row for row in body["organizations"]}
    assert list(by_name) == ["Acme Concerts", "Zeta Shows"]
    assert by_name["Acme Concerts"]["totals"]["requests"] == 8  # in UTC the evening is the same day
    assert by_name["Zeta Shows"]["totals"]["tickets_sold"] == 4
    assert body["totals"]["tickets_sold"] == 6 + 4
    assert body["totals"]["gross"] == by_name["Acme Concerts"]["totals"]["gross"] + 10000
    # A narrower range leaves out what happened outside it.
    narrow = client.get("/api/v1/admin/analytics", headers=auth_header(admin), query_string={
        "after": at(0).isoformat(), "before": at(60).isoformat(), "interval": "hour"}).json  # fmt: skip
    assert len(narrow["series"]) == 1 and narrow["totals"]["requests"] == 3 + 1  # paid, vip, expired; Zeta's


@pytest.mark.parametrize(
    "params",
    [
        {"after": "2030-05-01T00:00:00+00:00", "before": "2030-05-02T00:00:00+00:00", "interval": "week"},
        {"after": "2030-05-02T00:00:00+00:00", "before": "2030-05-01T00:00:00+00:00"},
        {"after": "2030-05-01T00:00:00+00:00", "before": "2030-05-01T00:00:00+00:00"},
        {"after": "2030-05-01T00:00:00", "before": "2030-05-02T00:00:00+00:00"},
        {"after": "yesterday", "before": "2030-05-02T00:00:00+00:00"},
        {"before": "2030-05-02T00:00:00+00:00"},
        {"after": "2020-01-01T00:00:00+00:00", "before": "2030-01-01T00:00:00+00:00", "interval": "hour"},
    ],
)
def test_bad_platform_ranges_are_a_422(client, make_user, auth_header, params):
    response = client.get(
        "/api/v1/admin/analytics", query_string=params, headers=auth_header(make_user("admin"))
    )
    assert response.status_code == 422, (params, response.json)


def test_bad_interval_is_a_422(client, db, sale, organizer, auth_header):
    event, _ = sale
    for path in ("analytics", "analytics.png"):
        response = client.get(f"/api/v1/events/{event.id}/{path}", query_string={"interval": "week"},
                              headers=auth_header(organizer))  # fmt: skip
        assert response.status_code == 422, path
    # The schema refuses it first over HTTP; the service refuses it too, by name.
    with db.unit_of_work() as uow, pytest.raises(Invalid) as refused:
        analytics.event_analytics(uow, uow.session.get(User, organizer.id), event.id, "week")
    assert refused.value.name == "bad_interval"


def test_a_platform_range_backwards_or_in_too_many_buckets_is_a_422(client, make_user, auth_header):
    headers = auth_header(make_user("admin"))
    cases = [({"after": at(60).isoformat(), "before": T0.isoformat()}, "bad_range"),
             ({"after": T0.isoformat(), "before": at(60 * 24 * 100).isoformat(), "interval": "hour"},
              "too_many_buckets")]  # fmt: skip
    for query, reason in cases:
        response = client.get("/api/v1/admin/analytics", query_string=query, headers=headers)
        assert (response.status_code, response.json["errors"]["reason"]) == (422, reason)


def test_who_may_not(client, sale, organizer, make_user, make_organization, auth_header):
    event, _ = sale
    stranger_org = make_organization("Other Org")
    strangers = [make_user(), make_user("organizer", stranger_org), make_user("staff", stranger_org),
                 make_user("staff", organizer.organization_id)]  # fmt: skip
    for path in ("analytics", "analytics.png"):
        url = f"/api/v1/events/{event.id}/{path}"
        for user in strangers:
            response = client.get(url, headers=auth_header(user))
            assert response.status_code == 403, (path, user.role)
            assert b"requests" not in response.data
        assert client.get(url).status_code == 401
        unknown = client.get(f"/api/v1/events/00000000-0000-0000-0000-000000000000/{path}",
                             headers=auth_header(organizer))  # fmt: skip
        assert unknown.status_code == 404
        assert client.get(url, headers=auth_header(make_user("admin"))).status_code == 200
    platform = {"after": "2030-05-01T00:00:00+00:00", "before": "2030-05-02T00:00:00+00:00"}
    for user in [*strangers, organizer]:
        response = client.get("/api/v1/admin/analytics", query_string=platform, headers=auth_header(user))
        assert response.status_code == 403, user.role
    assert client.get("/api/v1/admin/analytics", query_string=platform).status_code == 401


def test_sqlite_says_it_cannot(tmp_path):
    """The default database of `make run` answers a clear 501 with the reason, not a crash."""
    database = Database(f"sqlite:///{tmp_path / 'analytics.sqlite3'}")
    Base.metadata.create_all(database.engine)
    with database.unit_of_work() as uow:
        organization = Organization(name="Acme")
        uow.session.add(organization)
        uow.session.flush()
        admin = User(email="admin@example.test", password_hash="x", name="Admin", role="admin")
        event = Event(organization_id=organization.id, title="Gig", starts_at=T0, ends_at=at(60))
        uow.session.add_all([admin, event])
        uow.commit()
    with database.unit_of_work() as uow, pytest.raises(NotSupported) as raised:
        analytics.event_analytics(uow, uow.session.merge(admin), event.id, "hour")
    assert raised.value.status_code == 501 and "PostgreSQL" in raised.value.message
    assert raised.value.name == "analytics_need_postgresql"
    with database.unit_of_work() as uow, pytest.raises(NotSupported):
        analytics.platform_analytics(uow, uow.session.merge(admin), T0, at(60), "day")
    database.dispose()
