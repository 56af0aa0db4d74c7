"""The development mail sink's view of each message: decoded, as a person reads it.

`make run` catches every mail on this machine (the Procfile's `mail` process: aiosmtpd with
`PrintDecoded` as its handler). Printed raw, quoted-printable breaks links across lines and a
ticket's PDF floods the terminal in base64; printed here, each message shows its headers, its
text part decoded, and each attachment by name, type and size.
"""

from __future__ import annotations

import email
from email.message import EmailMessage
from email.policy import default

HEADERS = ("From", "To", "Subject", "Date", "Message-ID")
RULE = "-" * 72


def preview(raw: bytes) -> str:
    """The message as a person reads it: headers, the plain text (or, without one, the HTML), and
    the attachments by name and size."""
    message: EmailMessage = email.message_from_bytes(raw, policy=default)
    lines = [RULE, *(f"{name}: {message[name]}" for name in HEADERS if message[name] is not None), ""]
    body = message.get_body(preferencelist=("plain", "html"))
    lines.append(body.get_content().rstrip() if body is not None else "(no text part)")
    for attachment in message.iter_attachments():
        size = len(attachment.get_payload(decode=True) or b"")
        lines.append(
            f"[attachment] {attachment.get_filename()} ({attachment.get_content_type()}, {size:,} bytes)"
        )
    lines.append(RULE)
    return "\n".join(lines)


class PrintDecoded:
    """An aiosmtpd handler (`python -m aiosmtpd -c core.mail_preview.PrintDecoded`) that prints
    each message it receives with `preview`, and accepts it."""

    async def handle_DATA(self, server, session, envelope) -> str:
        print(preview(envelope.original_content or envelope.content), flush=True)
        return "250 Message accepted for delivery"
