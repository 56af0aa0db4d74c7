"""Vouchers in the engine: redemptions decided in order under the inventory lock, given back by
expiry and cancellation, prices after discount fixed when the hold is made."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from core import runtime
from core.errors import Invalid
from core.models import Booking, User, Voucher
from core.services import bookings, holds, vouchers
from tests.integration.booking_helpers import assert_counters_agree, drain, end_holds_now, load
from tests.integration.payment_helpers import pay_on_local_page, payment_of, refunds_of
from tests.integration.voucher_helpers import ask_with_code, make_voucher, redeemed
from tests.jobs import run_jobs


def test_a_percent_voucher_prices_the_hold_and_the_price_stays_fixed(db, organizer, make_event, customers):
    event = make_event(organizer, price=2500)
    voucher = make_voucher(db, organizer, event, "SPRING", discount={"percent": 20})
    booking_id = ask_with_code(customers[0], event, "spring", quantity=2)
    plain_id = ask_with_code(customers[1], event, None)
    drain(event)
    booking = load(db, booking_id)
    assert (booking.status, booking.total, booking.voucher_id) == ("held", 4000, voucher.id)
    assert [line.unit_price for line in booking.lines] == [2000]
    assert load(db, plain_id).total == 2500 and load(db, plain_id).voucher_id is None
    assert redeemed(db, voucher) == 1
    with db.unit_of_work() as uow:  # a later discount change leaves the hold's price alone
        uow.session.execute(update(Voucher).values(discount_percent=50))
        uow.commit()
    assert load(db, booking_id).total == 4000


def test_redemptions_beyond_the_limit_are_rejected_or_waitlisted_in_order(
    db, organizer, make_event, customers
):
    event = make_event(organizer, quota=100)
    voucher = make_voucher(db, organizer, event, max_redemptions=2)
    ids = [ask_with_code(c, event, "SPRING", join_waitlist=i == 3) for i, c in enumerate(customers[:4])]
    drain(event)
    got = [(load(db, b).status, load(db, b).reason) for b in ids]
    assert got == [("held", None), ("held", None), ("rejected", "voucher_exhausted"), ("waitlisted", None)]
    assert redeemed(db, voucher) == 2
    assert_counters_agree(db, event)


def test_an_expired_hold_gives_its_redemption_to_the_waitlist(db, organizer, make_event, customers):
    event = make_event(organizer, quota=100)
    voucher = make_voucher(db, organizer, event, max_redemptions=1)
    first = ask_with_code(customers[0], event, "SPRING")
    waiting = ask_with_code(customers[1], event, "SPRING", join_waitlist=True)
    drain(event)
    assert load(db, waiting).status == "waitlisted"
    end_holds_now(db, [first])
    report = holds.expire_holds(runtime.database())
    assert (report.expired_holds, report.promoted) == (1, 1)
    assert (load(db, first).status, load(db, waiting).status) == ("expired", "held")
    assert load(db, waiting).total == 2000
    assert redeemed(db, voucher) == 1
    assert_counters_agree(db, event)


def test_a_waitlisted_request_without_a_code_is_served_past_those_whose_code_ran_out(
    db, organizer, make_event, customers
):
    event = make_event(organizer, quota=2)
    voucher = make_voucher(db, organizer, event, max_redemptions=1)
    ask_with_code(customers[0], event, "SPRING")
    plain = ask_with_code(customers[1], event, None)
    ran_out = ask_with_code(customers[2], event, "SPRING", join_waitlist=True)
    waiting = ask_with_code(customers[3], event, None, join_waitlist=True)
    drain(event)
    assert (load(db, ran_out).status, load(db, waiting).status) == ("waitlisted", "waitlisted")
    with db.unit_of_work() as uow:  # a ticket comes back, the code's one redemption does not
        bookings.cancel_booking(uow, customers[1], plain)
        uow.commit()
    assert (load(db, ran_out).status, load(db, waiting).status) == ("waitlisted", "held")
    assert redeemed(db, voucher) == 1
    assert_counters_agree(db, event)


def test_letting_go_of_a_hold_gives_the_redemption_back(db, organizer, make_event, customers):
    event = make_event(organizer)
    voucher = make_voucher(db, organizer, event, max_redemptions=1)
    first = ask_with_code(customers[0], event, "SPRING")
    drain(event)
    with db.unit_of_work() as uow:
        bookings.cancel_booking(uow, customers[0], first)
        uow.commit()
    assert redeemed(db, voucher) == 0
    second = ask_with_code(customers[1], event, "SPRING")
    drain(event)
    assert load(db, second).status == "held" and redeemed(db, voucher) == 1


def test_a_full_voucher_makes_a_paid_type_free_and_confirmed_at_once(db, organizer, make_event, customers):
    event = make_event(organizer, price=2500)
    make_voucher(db, organizer, event, "GUEST-PASS", discount={"percent": 100})
    booking_id = ask_with_code(customers[0], event, "GUEST-PASS", quantity=2)
    drain(event)
    booking = load(db, booking_id)
    assert (booking.status, booking.total) == ("confirmed", 0)
    assert assert_counters_agree(db, event)["sold"] == 2


def test_an_amount_voucher_never_takes_the_price_below_zero(db, organizer, make_event, customers):
    event = make_event(organizer, price=2500)
    make_voucher(db, organizer, event, "BIG-OFF", discount={"amount": 5000, "currency": "eur"})
    make_voucher(db, organizer, event, "SMALL-OFF", discount={"amount": 500, "currency": "EUR"})
    big, small = (
        ask_with_code(customers[0], event, "BIG-OFF"),
        ask_with_code(customers[1], event, "SMALL-OFF"),
    )
    drain(event)
    assert (load(db, big).status, load(db, big).total) == ("confirmed", 0)
    assert (load(db, small).status, load(db, small).total) == ("held", 2000)


def test_stripe_is_asked_for_the_discounted_amount(db, organizer, make_event, customers, use_stripe):
    event = make_event(organizer, price=2500)
    make_voucher(db, organizer, event, discount={"percent": 10})
    booking_id = ask_with_code(customers[0], event, "SPRING", quantity=3)
    drain(event)
    run_jobs("prepare_checkouts")
    [created] = use_stripe.requests_to("POST", "/v1/checkout/sessions")
    [line] = created.params["line_items"]
    assert (int(line["price_data"]["unit_amount"]), int(line["quantity"])) == (2250, 3)
    assert payment_of(db, booking_id).amount == 6750


def test_a_voucher_disabled_or_deleted_while_the_request_waits_rejects_it(
    db, organizer, make_event, customers
):
    event = make_event(organizer)
    kept = make_voucher(db, organizer, event, "KEPT-CODE")
    gone = make_voucher(db, organizer, event, "GONE-CODE")
    disabled_id = ask_with_code(customers[0], event, "KEPT-CODE")
    deleted_id = ask_with_code(customers[1], event, "GONE-CODE")
    with db.unit_of_work() as uow:
        vouchers.update_voucher(uow, organizer, event.id, kept.id, {"disabled": True})
    with db.unit_of_work() as uow:
        vouchers.delete_voucher(uow, organizer, event.id, gone.id)
    drain(event)
    assert (load(db, disabled_id).status, load(db, disabled_id).reason) == ("rejected", "invalid_request")
    deleted = load(db, deleted_id)
    assert (deleted.status, deleted.reason, deleted.voucher_id) == ("rejected", "invalid_request", None)
    assert redeemed(db, kept) == 0


def test_a_used_voucher_is_disabled_not_deleted(db, organizer, make_event, customers):
    event = make_event(organizer)
    voucher = make_voucher(db, organizer, event)
    ask_with_code(customers[0], event, "SPRING")
    drain(event)
    with db.unit_of_work() as uow:
        vouchers.delete_voucher(uow, organizer, event.id, voucher.id)
    with db.unit_of_work() as uow:
        kept = uow.session.get(Voucher, voucher.id)
        assert kept is not None and kept.disabled_at is not None and kept.redeemed == 1


def test_the_database_refuses_a_redemption_beyond_the_limit(db, organizer, make_event):
    event = make_event(organizer)
    voucher = make_voucher(db, organizer, event, max_redemptions=1)
    with db.unit_of_work() as uow, pytest.raises(IntegrityError):
        uow.session.execute(update(Voucher).where(Voucher.id == voucher.id).values(redeemed=2))
        uow.session.flush()


def test_late_payment_for_an_expired_hold_whose_code_ran_out_is_refunded(
    db, organizer, make_event, customers
):
    event = make_event(organizer)
    voucher = make_voucher(db, organizer, event, max_redemptions=1)
    first = ask_with_code(customers[0], event, "SPRING")
    drain(event)
    run_jobs("prepare_checkouts")
    end_holds_now(db, [first])
    holds.expire_holds(runtime.database())
    second = ask_with_code(customers[1], event, "SPRING")
    drain(event)
    assert load(db, second).status == "held" and redeemed(db, voucher) == 1
    pay_on_local_page(db, first)
    run_jobs("process_webhook_event")
    assert load(db, first).status == "cancelled"
    assert redeemed(db, voucher) == 1
    with db.unit_of_work() as uow:
        held = uow.session.scalars(select(Booking.id).where(Booking.status == "held")).all()
    assert held == [second]
    assert [refund.amount for refund in refunds_of(db, first)] == [2000]


@pytest.mark.parametrize(
    ("data", "reason"),
    [({"code": "NODISCOUNT"}, "discount_required"),
     ({"generate": vouchers.MAX_GENERATED + 1, "discount": {"percent": 10}}, "invalid_generate")],
)  # fmt: skip
def test_the_service_refuses_what_the_schema_refuses_first_by_name(db, organizer, make_event, data, reason):
    event = make_event(organizer)
    with db.unit_of_work() as uow, pytest.raises(Invalid) as refused:
        vouchers.create_vouchers(uow, uow.session.get(User, organizer.id), event.id, data)
    assert refused.value.name == reason
