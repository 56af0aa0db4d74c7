"""`make run`'s mail sink, run as the Procfile runs it, prints each message decoded: headers, the
text with its links whole, and each attachment by name and size instead of its base64."""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core import email_templates
from core.email_templates import AccountRecipient, BookingRecipient, TicketLine
from core.mail import MailDeliveryError, SmtpSettings, send_message
from core.mail_preview import RULE
from tests.smtp_sink import free_port

ROOT = Path(__file__).resolve().parents[2]
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"
LINK = "https://boxoffice.example/api/v1/pages/bookings/01938d6e-5b7e-7a4c-9f1e-2f7c9d1e4a55/" + "t" * 60


def _procfile_mail_argv(port: int) -> list[str]:
    [line] = [line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("mail:")]
    argv = shlex.split(line.split(":", 1)[1].replace("${SMTP_PORT:-1025}", str(port)))
    assert argv[0] == "python"
    return [sys.executable, *argv[1:]]


@pytest.fixture()
def mail_sink():
    port = free_port()
    process = subprocess.Popen(_procfile_mail_argv(port), cwd=ROOT, stdout=subprocess.PIPE, text=True)
    settings = SmtpSettings(port=port, timeout=5)
    for _ in range(100):  # until it listens (a fresh Python imports aiosmtpd first)
        try:
            send_message(settings, email_templates.registration_attempted(_recipient()))
            break
        except MailDeliveryError:  # not listening yet
            time.sleep(0.1)
    _read_message(process)  # the probe
    yield settings, process
    process.terminate()
    process.wait(timeout=10)


def _recipient():
    return AccountRecipient(email="ada@example.test", name="Ada Lovelace")


def _read_message(process) -> list[str]:
    assert process.stdout.readline().rstrip("\n") == RULE
    lines = []
    while (line := process.stdout.readline().rstrip("\n")) != RULE:
        lines.append(line)
    return lines


def test_a_ticket_mail_is_printed_decoded_with_its_attachment_by_name_and_size(mail_sink):
    settings, process = mail_sink
    recipient = BookingRecipient(email="ada@example.test", name="Ada Lovelace", event_title="Gala Très Spéciale",
                                 booking_reference="BX-7Q2K")  # fmt: skip
    message = email_templates.tickets_issued(
        recipient, event_when="Sat 14 June 2025, 20:00 (Europe/Paris)", venue="Salle Pleyel, Paris",
        lines=[TicketLine("Standard", 2, "€25.00")], total="€50.00", pdf_bytes=PDF,
        pdf_filename="tickets-BX-7Q2K.pdf", manage_url=LINK,
    )  # fmt: skip

    send_message(settings, message)
    printed = _read_message(process)

    assert "To: Ada Lovelace <ada@example.test>" in printed
    assert any(line.startswith("Subject: ") and "Gala Très Spéciale" in line for line in printed)
    assert any(LINK in line for line in printed)  # whole, on one line
    assert f"[attachment] tickets-BX-7Q2K.pdf (application/pdf, {len(PDF):,} bytes)" in printed
    text = "\n".join(printed)
    assert "JVBERi0" not in text and "=\n" not in text  # neither base64 nor quoted-printable
