"""The emails customers receive about their bookings and their accounts. Each function takes plain
values and returns a message whose plain-text and HTML versions are rendered from the same words."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from html import escape
from string import Template
from typing import NamedTuple
from urllib.parse import urlsplit

from core.mail import Attachment, compose_message
from core.statuses import RefundReason

BRAND = "Boxoffice"


@dataclass(frozen=True)
class BookingRecipient:
    """Who a message goes to and the booking it is about: what every customer message needs."""

    email: str
    name: str
    event_title: str
    booking_reference: str


class TicketLine(NamedTuple):
    """One line of an order; `unit_price` is already formatted for reading, e.g. "€25.00"."""

    ticket_type: str
    quantity: int
    unit_price: str


# Money and times arrive formatted (amounts like "€25.00", times in the event's time zone):
# formatting belongs to the caller, who knows the currency and the zone.


def tickets_issued(
    recipient: BookingRecipient,
    *,
    event_when: str,
    venue: str,
    lines: Sequence[TicketLine],
    total: str,
    pdf_bytes: bytes,
    pdf_filename: str,
    manage_url: str,
    message_id: str | None = None,
) -> EmailMessage:
    order = tuple(
        (f"{quantity} × {ticket_type}", f"{unit_price} each") for ticket_type, quantity, unit_price in lines
    )
    return _letter(
        recipient,
        subject=f"Your tickets for {recipient.event_title}",
        heading=f"You're going to {recipient.event_title}",
        blocks=(
            "Thank you for your booking. Your tickets are attached to this email as a PDF.",
            (
                "At the door, show each ticket's QR code, on your phone or printed. "
                "Each code lets one person in."
            ),
            _Facts(
                (
                    ("Event", recipient.event_title),
                    ("When", event_when),
                    ("Where", venue),
                    ("Booking reference", recipient.booking_reference),
                )
            ),
            _Facts((*order, ("Total", total))),
            "You can see your booking and download your tickets again at any time:",
            _Button("View your booking", manage_url),
            "Enjoy the event!",
        ),
        attachments=(Attachment(pdf_filename, pdf_bytes, "application/pdf"),),
        message_id=message_id,
    )


def waitlist_promoted(
    recipient: BookingRecipient,
    *,
    hold_expires_at: str,
    checkout_url: str,
    manage_url: str,
    message_id: str | None = None,
) -> EmailMessage:
    return _letter(
        recipient,
        subject=f"Tickets are waiting for you: {recipient.event_title}",
        heading="Your turn: tickets are held for you",
        blocks=(
            (
                f"Tickets for {recipient.event_title} have come back, and you were next "
                f"on the waitlist. We are holding them for you until {hold_expires_at}."
            ),
            "Pay before then to make them yours. After that, they go to the next person in line.",
            _Facts(
                (
                    ("Booking reference", recipient.booking_reference),
                    ("Held until", hold_expires_at),
                )
            ),
            _Button("Pay for your tickets", checkout_url),
            (
                "Changed your mind? There is nothing to do: the hold simply ends and nothing is "
                "charged. Or let the tickets go at once from your booking's page:"
            ),
            _Button("View your booking", manage_url),
        ),
        message_id=message_id,
    )


def hold_expired(
    recipient: BookingRecipient,
    *,
    event_url: str,
    message_id: str | None = None,
) -> EmailMessage:
    return _letter(
        recipient,
        subject=f"Your hold on tickets for {recipient.event_title} has ended",
        heading="Your hold has ended",
        blocks=(
            (
                f"We held tickets for {recipient.event_title} for you, but the time to pay "
                "ran out, so they have gone back on sale. Nothing was charged."
            ),
            _Facts((("Booking reference", recipient.booking_reference),)),
            "If you would still like to go, you can book again while tickets are available:",
            _Button("Book again", event_url),
        ),
        message_id=message_id,
    )


_REFUND_EXPLANATIONS = {
    RefundReason.CUSTOMER_CANCELLED: (
        "As you asked, we have cancelled your booking for {title}. Its tickets are no longer valid."
    ),
    RefundReason.ORGANIZER_REFUNDED: (
        "The organizer of {title} has refunded your booking. Its tickets are no longer valid."
    ),
    RefundReason.PAID_AFTER_HOLD_EXPIRED: (
        "Your payment for {title} reached us after your hold had ended, and by then the tickets "
        "had gone to someone else. We are sorry; we have given your money back."
    ),
    RefundReason.DUPLICATE_PAYMENT: (
        "We received a second payment for your booking for {title}, which was already paid. "
        "Your booking stands; we have given the second payment back."
    ),
    RefundReason.EVENT_CANCELLED: (
        "{title} has been cancelled by its organizer, so your booking is cancelled and its "
        "tickets are no longer valid."
    ),
    RefundReason.AMOUNT_MISMATCH: (
        "We received a payment for your booking for {title} that did not match its price, so "
        "it could not pay for your tickets. We have given it back in full."
    ),
}


def booking_refunded(
    recipient: BookingRecipient,
    *,
    amount: str,
    reason: RefundReason | str,
    message_id: str | None = None,
) -> EmailMessage:
    reason = RefundReason(reason)
    explanation = _REFUND_EXPLANATIONS[reason]
    blocks: list[_Block] = [
        explanation.format(title=recipient.event_title),
        _refund_paragraph(amount),
        _Facts(
            (
                ("Booking reference", recipient.booking_reference),
                ("Refund", amount),
            )
        ),
    ]
    if reason == RefundReason.PAID_AFTER_HOLD_EXPIRED:
        blocks.append("If you would still like to go, you are welcome to book again.")
    return _letter(
        recipient,
        subject=f"Your refund for {recipient.event_title}",
        heading="Your refund is on its way",
        blocks=blocks,
        message_id=message_id,
    )


def event_cancelled(
    recipient: BookingRecipient,
    *,
    refund_amount: str | None,
    message_id: str | None = None,
) -> EmailMessage:
    """`refund_amount` is None when nothing was paid (free tickets, a hold, the waitlist)."""
    facts = [("Booking reference", recipient.booking_reference)]
    if refund_amount is None:
        money = "No payment was taken for this booking, so there is nothing to refund."
    else:
        money = _refund_paragraph(refund_amount)
        facts.append(("Refund", refund_amount))
    return _letter(
        recipient,
        subject=f"Cancelled: {recipient.event_title}",
        heading="This event has been cancelled",
        blocks=(
            (
                "We are sorry to tell you that the organizer has cancelled "
                f"{recipient.event_title}. Your booking and any tickets for it are no "
                "longer valid."
            ),
            money,
            _Facts(tuple(facts)),
        ),
        message_id=message_id,
    )


@dataclass(frozen=True)
class AccountRecipient:
    """The owner of an account: what every account message needs."""

    email: str
    name: str


def password_reset(
    recipient: AccountRecipient, *, code: str, valid_for: str, message_id: str | None = None
) -> EmailMessage:
    return _account_letter(
        recipient,
        subject=f"Reset your {BRAND} password",
        heading="Reset your password",
        blocks=(
            (
                "Someone, hopefully you, asked to reset the password of your account. To choose "
                f"a new one, enter this reset code where you asked for it. It works once, for {valid_for}."
            ),
            _Facts((("Reset code", code),)),
            (
                "Resetting signs your account out everywhere. If you did not ask for this, "
                "ignore this email: your password stays as it is."
            ),
        ),
        message_id=message_id,
    )


def verify_email(
    recipient: AccountRecipient, *, code: str, valid_for: str, message_id: str | None = None
) -> EmailMessage:
    return _account_letter(
        recipient,
        subject=f"Confirm your email address for {BRAND}",
        heading="Confirm your email address",
        blocks=(
            (
                f"Welcome to {BRAND}. To confirm that this address is yours, enter this "
                f"verification code where you signed up. It works for {valid_for}."
            ),
            _Facts((("Verification code", code),)),
            "If you did not create an account, ignore this email; nothing more will be sent.",
        ),
        message_id=message_id,
    )


def registration_attempted(recipient: AccountRecipient, *, message_id: str | None = None) -> EmailMessage:
    return _account_letter(
        recipient,
        subject=f"Someone tried to register with your address at {BRAND}",
        heading="You already have an account",
        blocks=(
            (
                "Someone, perhaps you, just tried to create an account with this address, "
                "which already has one, so no new account was made."
            ),
            "If it was you and you forgot your password, ask for a password reset when you sign in.",
            "If it was not you, there is nothing to do: your account is unchanged.",
        ),
        message_id=message_id,
    )


def _account_letter(
    recipient: AccountRecipient,
    *,
    subject: str,
    heading: str,
    blocks: Sequence[_Block],
    message_id: str | None = None,
) -> EmailMessage:
    name = " ".join(recipient.name.split())
    greeting = f"Hi {name}," if name else "Hello,"
    footer = f"You are receiving this email about your {BRAND} account {recipient.email}."
    return compose_message(
        to=Address(display_name=name, addr_spec=recipient.email),
        subject=subject,
        text=_render_text(heading, greeting, blocks, footer),
        html=_render_html(subject, heading, greeting, blocks, footer),
        message_id=message_id,
    )


def _refund_paragraph(amount: str) -> str:
    return (
        f"We have refunded {amount} to the card or account you paid with. Depending on your "
        "bank, it can take a few working days to appear."
    )


@dataclass(frozen=True)
class _Facts:
    """Label and value pairs, shown as an aligned list."""

    rows: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class _Button:
    label: str
    url: str

    def __post_init__(self) -> None:
        # Links are built from our own base URL; refusing other schemes keeps a bad setting from
        # ever putting a javascript: or data: link in front of a customer.
        if urlsplit(self.url).scheme not in ("http", "https"):
            raise ValueError(f"{self.url!r} is not an http(s) link")


_Block = str | _Facts | _Button


def _letter(
    recipient: BookingRecipient,
    *,
    subject: str,
    heading: str,
    blocks: Sequence[_Block],
    attachments: Sequence[Attachment] = (),
    message_id: str | None = None,
) -> EmailMessage:
    name = " ".join(recipient.name.split())
    greeting = f"Hi {name}," if name else "Hello,"
    footer = (
        f"You are receiving this email about booking {recipient.booking_reference} "
        f"for {recipient.event_title}."
    )
    return compose_message(
        to=Address(display_name=name, addr_spec=recipient.email),
        subject=subject,
        text=_render_text(heading, greeting, blocks, footer),
        html=_render_html(subject, heading, greeting, blocks, footer),
        attachments=attachments,
        message_id=message_id,
    )


def _render_text(heading: str, greeting: str, blocks: Sequence[_Block], footer: str) -> str:
    parts = [heading, greeting]
    for block in blocks:
        match block:
            case str():
                parts.append(_wrap(block))
            case _Facts(rows):
                width = max(len(label) for label, _ in rows) + 1
                parts.append("\n".join(f"{label + ':':<{width}}  {value}" for label, value in rows))
            case _Button(label, url):
                # The link on a line of its own so that mail clients make it clickable whole.
                parts.append(f"{label}:\n{url}")
    parts += [f"The {BRAND} team", "-- \n" + _wrap(footer)]
    return "\n\n".join(parts) + "\n"


def _wrap(paragraph: str) -> str:
    return textwrap.fill(paragraph, width=72, break_long_words=False, break_on_hyphens=False)


_ACCENT = "#4f46e5"
_FONT = "font-family:Helvetica,Arial,sans-serif;"
_PARAGRAPH = "margin:0 0 16px;font-size:16px;line-height:1.5;"

_LAYOUT = Template(
    """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$subject</title>
</head>
<body style="margin:0;padding:0;background:#f4f4f5;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f4f4f5;">
<tr><td align="center" style="padding:24px 12px;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="max-width:560px;\
background:#ffffff;border-radius:8px;$font color:#18181b;">
<tr><td style="padding:20px 32px;background:$accent;border-radius:8px 8px 0 0;color:#ffffff;\
font-size:18px;font-weight:bold;">$brand</td></tr>
<tr><td style="padding:32px;">
<h1 style="margin:0 0 24px;font-size:22px;line-height:1.3;">$heading</h1>
<p style="$paragraph">$greeting</p>
$body
<p style="$paragraph">The $brand team</p>
</td></tr>
<tr><td style="padding:16px 32px;border-top:1px solid #e4e4e7;font-size:12px;line-height:1.5;\
color:#71717a;">$footer</td></tr>
</table>
</td></tr>
</table>
</body>
</html>
"""
)


def _render_html(subject: str, heading: str, greeting: str, blocks: Sequence[_Block], footer: str) -> str:
    return _LAYOUT.substitute(
        subject=escape(subject),
        heading=escape(heading),
        greeting=escape(greeting),
        body="\n".join(_render_html_block(block) for block in blocks),
        footer=escape(footer),
        brand=escape(BRAND),
        accent=_ACCENT,
        font=_FONT,
        paragraph=_PARAGRAPH,
    )


def _render_html_block(block: _Block) -> str:
    match block:
        case str():
            return f'<p style="{_PARAGRAPH}">{escape(block)}</p>'
        case _Facts(rows):
            cells = "\n".join(
                f'<tr><td style="padding:6px 16px 6px 0;color:#71717a;vertical-align:top;">'
                f'{escape(label)}</td><td style="padding:6px 0;">{escape(value)}</td></tr>'
                for label, value in rows
            )
            return (
                '<table role="presentation" cellpadding="0" cellspacing="0" '
                f'style="margin:0 0 20px;font-size:15px;line-height:1.4;">\n{cells}\n</table>'
            )
        case _Button(label, url):
            href = escape(url)
            return (
                '<p style="margin:8px 0 24px;">'
                f'<a href="{href}" style="display:inline-block;padding:12px 22px;'
                f"background:{_ACCENT};border-radius:6px;color:#ffffff;font-size:16px;"
                f'font-weight:bold;text-decoration:none;">{escape(label)}</a></p>\n'
                '<p style="margin:0 0 16px;font-size:13px;line-height:1.5;color:#71717a;'
                f'word-break:break-all;">Or open this link: <a href="{href}" '
                f'style="color:{_ACCENT};">{escape(url)}</a></p>'
            )
