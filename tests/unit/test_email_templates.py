"""Every customer email: both versions present, the same facts in each, values escaped in HTML."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable
from email.message import EmailMessage

import pytest

from core import email_templates as notifications
from core.email_templates import BookingRecipient, RefundReason, TicketLine

HOSTILE_TITLE = "Rock <script>alert('x')</script> & Roll"
ADA = BookingRecipient(
    email="ada@example.com",
    name="Ada Lovelace",
    event_title=HOSTILE_TITLE,
    booking_reference="BX-7Q2K",
)
PDF = b"%PDF-1.7\n" + bytes(range(256)) + b"\n%%EOF\n"


def tickets_issued(recipient: BookingRecipient, message_id: str | None = None) -> EmailMessage:
    return notifications.tickets_issued(
        recipient,
        event_when="Sat 14 June 2025, 20:00 (Europe/Paris)",
        venue="Le Duc <Lombards> & Co, Paris",
        lines=[
            TicketLine("Standard", 2, "€25.00"),
            TicketLine("VIP & backstage", 1, "€60.00"),
        ],
        total="€110.00",
        pdf_bytes=PDF,
        pdf_filename="tickets-BX-7Q2K.pdf",
        manage_url="https://boxoffice.example/bookings/0190?view=tickets&lang=en",
        message_id=message_id,
    )


def waitlist_promoted(recipient, message_id=None):
    return notifications.waitlist_promoted(
        recipient,
        hold_expires_at="14:35 (Europe/Paris)",
        checkout_url="https://boxoffice.example/checkout/0190",
        manage_url="https://boxoffice.example/pages/bookings/0190/a.b",
        message_id=message_id,
    )


def hold_expired(recipient, message_id=None):
    return notifications.hold_expired(
        recipient,
        event_url="https://boxoffice.example/events/42",
        message_id=message_id,
    )


def booking_refunded(recipient, message_id=None):
    return notifications.booking_refunded(
        recipient,
        amount="€110.00",
        reason=RefundReason.CUSTOMER_CANCELLED,
        message_id=message_id,
    )


def event_cancelled(recipient, message_id=None):
    return notifications.event_cancelled(recipient, refund_amount="€110.00", message_id=message_id)


BUILDERS: dict[str, Callable[..., EmailMessage]] = {
    "tickets_issued": tickets_issued,
    "waitlist_promoted": waitlist_promoted,
    "hold_expired": hold_expired,
    "booking_refunded": booking_refunded,
    "event_cancelled": event_cancelled,
}
every_message = pytest.mark.parametrize("build", BUILDERS.values(), ids=BUILDERS.keys())


def round_trip(message: EmailMessage) -> EmailMessage:
    return email.message_from_bytes(message.as_bytes(), policy=email.policy.default)


def text_of(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()


def html_of(message: EmailMessage) -> str:
    return message.get_body(("html",)).get_content()


@every_message
def test_message_has_plain_text_and_html_versions(build):
    message = round_trip(build(ADA))

    assert message.get_body(("plain",)).get_content_type() == "text/plain"
    assert message.get_body(("html",)).get_content_type() == "text/html"
    assert html_of(message).lstrip().startswith("<!DOCTYPE html>")


@every_message
def test_message_is_addressed_dated_and_titled(build):
    message = round_trip(build(ADA))

    assert message["To"] == "Ada Lovelace <ada@example.com>"
    assert message["Date"].datetime.tzinfo is not None
    assert HOSTILE_TITLE in message["Subject"]


@every_message
def test_both_versions_greet_by_name_and_show_the_booking_reference(build):
    message = build(ADA)

    for body in (text_of(message), html_of(message)):
        assert "Hi Ada Lovelace," in body
        assert "BX-7Q2K" in body


@every_message
def test_html_escapes_values_and_text_keeps_them_as_written(build):
    message = build(ADA)

    html = html_of(message)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; Roll" in html
    assert HOSTILE_TITLE in " ".join(text_of(message).split())


@every_message
def test_stable_message_id_is_kept(build):
    message = round_trip(build(ADA, message_id="<mail.0190-ab@boxoffice.example>"))

    assert message["Message-ID"] == "<mail.0190-ab@boxoffice.example>"


@every_message
def test_without_a_message_id_sending_fills_it_in(build):
    assert build(ADA)["Message-ID"] is None


@every_message
def test_line_breaks_in_names_and_titles_cannot_reach_the_headers(build):
    sneaky = BookingRecipient(
        email="ada@example.com",
        name="Ada\r\nBcc: everyone@example.com",
        event_title="Jazz\nBcc: everyone@example.com",
        booking_reference="BX-7Q2K",
    )

    message = round_trip(build(sneaky))

    assert message["Bcc"] is None
    assert "\n" not in message["Subject"]


def test_nameless_recipient_is_greeted_politely():
    anonymous = BookingRecipient("ada@example.com", " ", "Jazz Night", "BX-7Q2K")

    message = hold_expired(anonymous)

    assert message["To"] == "ada@example.com"
    assert text_of(message).splitlines()[2] == "Hello,"


def test_tickets_pdf_survives_the_round_trip():
    message = round_trip(tickets_issued(ADA))

    [attachment] = message.iter_attachments()
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "tickets-BX-7Q2K.pdf"
    assert attachment.get_content() == PDF


def test_tickets_mail_lists_the_order_and_the_event():
    message = tickets_issued(ADA)

    text = text_of(message)
    assert "2 × Standard" in text and "€25.00 each" in text
    assert "Total:" in text and "€110.00" in text
    assert "Sat 14 June 2025, 20:00 (Europe/Paris)" in text
    html = html_of(message)
    assert "VIP &amp; backstage" in html
    assert "Le Duc &lt;Lombards&gt; &amp; Co, Paris" in html
    assert 'href="https://boxoffice.example/bookings/0190?view=tickets&amp;lang=en"' in html


def test_waitlist_mail_says_until_when_and_where_to_pay():
    message = waitlist_promoted(ADA)

    assert "Tickets are waiting for you" in message["Subject"]
    for body in (text_of(message), html_of(message)):
        assert "14:35 (Europe/Paris)" in body
        assert "https://boxoffice.example/checkout/0190" in body
        assert "https://boxoffice.example/pages/bookings/0190/a.b" in body


def test_hold_expired_mail_says_nothing_was_charged_and_links_to_the_event():
    text = " ".join(text_of(hold_expired(ADA)).split())

    assert "Nothing was charged." in text
    assert "https://boxoffice.example/events/42" in text


@pytest.mark.parametrize(
    ("reason", "explanation"),
    [
        (
            RefundReason.CUSTOMER_CANCELLED,
            "As you asked, we have cancelled your booking",
        ),
        (RefundReason.ORGANIZER_REFUNDED, "The organizer of"),
        (RefundReason.PAID_AFTER_HOLD_EXPIRED, "reached us after your hold had ended"),
        (RefundReason.DUPLICATE_PAYMENT, "we have given the second payment back"),
    ],
)
def test_refund_mail_explains_why_and_how_much(reason, explanation):
    message = notifications.booking_refunded(ADA, amount="€42.00", reason=reason)

    text = " ".join(text_of(message).split())
    assert explanation in text
    assert "We have refunded €42.00" in text


def test_refund_reason_may_be_given_as_its_plain_value():
    message = notifications.booking_refunded(ADA, amount="€42.00", reason="paid_after_hold_expired")

    assert "you are welcome to book again" in text_of(message)


def test_cancelled_event_without_payment_says_there_is_nothing_to_refund():
    message = notifications.event_cancelled(ADA, refund_amount=None)

    text = " ".join(text_of(message).split())
    assert "nothing to refund" in text
    assert "We have refunded" not in text
    assert message["Subject"] == f"Cancelled: {HOSTILE_TITLE}"


def test_links_other_than_http_are_refused():
    with pytest.raises(ValueError, match="http"):
        notifications.hold_expired(ADA, event_url="javascript:alert(1)")


def test_accented_names_and_titles_survive_the_round_trip():
    recipient = BookingRecipient("zoe@example.com", "Zoë Ünal", "Fête de la Musique", "BX-1")

    message = round_trip(hold_expired(recipient))

    assert message["To"] == "Zoë Ünal <zoe@example.com>"
    assert message["Subject"] == "Your hold on tickets for Fête de la Musique has ended"
    assert "Hi Zoë Ünal," in text_of(message)
