"""Compose email messages and deliver them over SMTP, reporting failures in a way that lets
the caller decide between retrying later and giving up."""

from __future__ import annotations

import re
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr
from typing import Literal

SmtpSecurity = Literal["none", "starttls", "ssl"]
SMTP_SECURITY_MODES: tuple[SmtpSecurity, ...] = ("none", "starttls", "ssl")

# RFC 5322 msg-id, restricted to characters that never need quoting: "<left@right>".
_MESSAGE_ID = re.compile(r"<[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+>")
_MESSAGE_ID_PART = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to hand mail over. The defaults reach a development sink on this machine."""

    host: str = "127.0.0.1"
    port: int = 1025
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    security: SmtpSecurity = "none"
    timeout: float = 10.0
    sender: str = "Boxoffice <tickets@boxoffice.localhost>"

    def __post_init__(self) -> None:
        if self.security not in SMTP_SECURITY_MODES:
            raise ValueError(f"SMTP security must be one of {', '.join(SMTP_SECURITY_MODES)}")
        if self.timeout <= 0:
            raise ValueError("SMTP timeout must be a positive number of seconds")
        if "@" not in parseaddr(self.sender)[1]:
            raise ValueError(f"mail sender {self.sender!r} is not a 'Name <address>' string")

    @property
    def sender_domain(self) -> str:
        """The domain of the sender address, the natural right-hand side of our Message-IDs."""
        return parseaddr(self.sender)[1].rpartition("@")[2]


class MailDeliveryError(Exception):
    """A message could not be handed over. `retryable` says whether trying again later can help."""

    def __init__(self, message: str, *, retryable: bool, smtp_code: int | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.smtp_code = smtp_code


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mime_type: str


def stable_message_id(purpose: str, key: str, domain: str) -> str:
    """A Message-ID that is the same for every attempt to send one mail (say purpose "tickets"
    and a booking id as key), so a resent copy can be recognised as the same message."""
    for part in (purpose, key):
        if not _MESSAGE_ID_PART.fullmatch(part):
            raise ValueError(f"{part!r} may hold only letters, digits, '-' and '_'")
    return f"<{purpose}.{key}@{domain}>"


def compose_message(
    *,
    to: Address,
    subject: str,
    text: str,
    html: str,
    attachments: Sequence[Attachment] = (),
    message_id: str | None = None,
) -> EmailMessage:
    """A multipart message with plain-text and HTML alternatives and optional attachments.

    From, and a Message-ID when none is given, are left to `send_message`, which knows the
    configured sender.
    """
    if message_id is not None and not _MESSAGE_ID.fullmatch(message_id):
        raise ValueError(f"{message_id!r} is not a Message-ID of the form <left@right>")
    message = EmailMessage()
    message["To"] = to
    # Titles and names come from people; a line break in a header would corrupt the message.
    message["Subject"] = " ".join(subject.split())
    message["Date"] = datetime.now(UTC)
    if message_id is not None:
        message["Message-ID"] = message_id
    # Quoted-printable keeps both parts readable in a raw dump (a development sink, a
    # support ticket), where base64 would hide them; its size cost on mostly-ASCII text is small.
    message.set_content(text, cte="quoted-printable")
    message.add_alternative(html, subtype="html", cte="quoted-printable")
    for attachment in attachments:
        maintype, _, subtype = attachment.mime_type.partition("/")
        message.add_attachment(
            attachment.content,
            maintype=maintype,
            subtype=subtype,
            filename=attachment.filename,
        )
    return message


def send_message(settings: SmtpSettings, message: EmailMessage) -> None:
    """Hand `message` to the SMTP server, filling in From (the configured sender) and a fresh
    Message-ID if they are unset.

    Raises MailDeliveryError. It is permanent only when the server rejected this very message
    (a 5xx answer to MAIL, RCPT or DATA, other than 530) or delivered it to some recipients but
    not others, since a retry would then send duplicates. Everything else (refused connections,
    timeouts, TLS or login failures, 4xx answers) may clear up or be fixed by an operator, so it
    is retryable and the caller's retry limit bounds it.
    """
    if message["From"] is None:
        message["From"] = settings.sender
    if message["Message-ID"] is None:
        message["Message-ID"] = make_msgid(domain=settings.sender_domain)
    try:
        with _connect(settings) as smtp:
            if settings.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if settings.username:
                smtp.login(settings.username, settings.password or "")
            refused = smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        raise MailDeliveryError(
            f"recipients refused: {_describe_refusals(exc.recipients)}",
            retryable=all(_can_clear_up(code) for code in codes),
            smtp_code=max(codes),
        ) from exc
    except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
        raise MailDeliveryError(
            f"message refused: {exc.smtp_code} {_reply_text(exc.smtp_error)}",
            retryable=_can_clear_up(exc.smtp_code),
            smtp_code=exc.smtp_code,
        ) from exc
    except smtplib.SMTPResponseException as exc:
        raise MailDeliveryError(
            f"SMTP server answered {exc.smtp_code} {_reply_text(exc.smtp_error)}",
            retryable=True,
            smtp_code=exc.smtp_code,
        ) from exc
    except OSError as exc:
        # Covers refused connections, timeouts, name lookups, TLS failures, dropped
        # connections and missing server extensions (smtplib's errors are OSErrors).
        raise MailDeliveryError(
            f"could not deliver through {settings.host}:{settings.port}: {exc}",
            retryable=True,
        ) from exc
    if refused:
        raise MailDeliveryError(
            f"delivered, but recipients refused: {_describe_refusals(refused)}",
            retryable=False,
        )


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    if settings.security == "ssl":
        return smtplib.SMTP_SSL(
            settings.host,
            settings.port,
            timeout=settings.timeout,
            context=ssl.create_default_context(),
        )
    return smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)


def _can_clear_up(code: int) -> bool:
    # 4xx says "try later". 530 ("authentication required", "must issue STARTTLS first")
    # is about our settings, not this message, so an operator's fix lets a retry through.
    return 400 <= code < 500 or code == 530


def _reply_text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def _describe_refusals(refused: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{address}: {code} {_reply_text(reply)}" for address, (code, reply) in refused.items())
