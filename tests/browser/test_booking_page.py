"""A booking's page, opened from its signed link in headless Chromium: a person pays with real
clicks (the page's Pay, then the local checkout's), watches the checkout turn from "being
confirmed" to done by itself, comes back to a confirmed booking and downloads the tickets; or
lets a hold go with the page's cancel form, once they have said yes a second time."""

from __future__ import annotations

import dataclasses

import pytest

from core import booking_links, runtime
from tests.integration.payment_helpers import hold
from tests.jobs import run_jobs


@pytest.fixture()
def served_links(settings, live_server):
    """Links (checkout, booking page) that point at the live server, as PUBLIC_BASE_URL would."""
    runtime.configure(dataclasses.replace(settings, public_base_url=live_server))
    yield live_server
    runtime.configure(settings)


def _held_booking(make_user, make_event, organizer, **event_fields):
    event = make_event(organizer, price=2500, **event_fields)
    [booking_id] = hold([make_user()], event)
    return booking_links.make_link(booking_id, event.ends_at)


def test_a_click_on_pay_then_on_the_checkout_confirms_and_the_tickets_download(
    served_links, browser_page, browser_log, make_user, make_event, organizer
):
    link = _held_booking(make_user, make_event, organizer)
    page = browser_page
    page.goto(link.url)
    assert page.locator("#status").inner_text() == "held"
    assert page.get_by_text("Held until").is_visible()

    page.get_by_role("link", name="Pay EUR 25.00").click()
    page.get_by_role("heading", name="Pay for your tickets").wait_for()
    assert "/api/v1/payments/local/" in page.url
    page.get_by_role("button", name="Pay EUR 25.00").click()
    page.get_by_role("heading", name="Payment received: your booking is being confirmed").wait_for()

    run_jobs("process_webhook_event", "issue_tickets")
    page.get_by_role("heading", name="Payment received", exact=True).wait_for()  # no click: it looked again
    page.get_by_role("link", name="Back to your booking").click()
    assert page.url == link.url
    assert page.locator("#status").inner_text() == "confirmed"
    with page.expect_download() as download:
        page.get_by_role("link", name="Download your tickets (PDF)").click()
    with open(download.value.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"
    assert download.value.suggested_filename.startswith("tickets-")
    assert browser_log.blocked == [] and browser_log.errors == []


def test_the_cancel_form_lets_a_hold_go(
    served_links, browser_page, browser_log, make_user, make_event, organizer
):
    link = _held_booking(make_user, make_event, organizer)
    page = browser_page
    page.goto(link.url)
    page.get_by_role("link", name="Cancel this booking").click()
    page.get_by_text("Let these tickets go?").wait_for()
    assert page.locator("#status").inner_text() == "held"  # asked, not done

    page.get_by_role("link", name="No, keep my booking").click()
    page.get_by_role("link", name="Cancel this booking").click()
    page.get_by_role("button", name="Yes, let them go").click()
    page.get_by_role("link", name="Cancel this booking").wait_for(state="detached")
    assert page.url == link.url  # back on the page after the POST
    assert page.locator("#status").inner_text() == "cancelled"
    assert browser_log.blocked == [] and browser_log.errors == []


def test_a_wrong_token_shows_a_page_that_says_so(
    served_links, browser_page, make_user, make_event, organizer
):
    link = _held_booking(make_user, make_event, organizer)
    response = browser_page.goto(link.url[:-2] + "xx")
    assert response.status == 404
    assert browser_page.get_by_role("heading", name="No such booking.").is_visible()
