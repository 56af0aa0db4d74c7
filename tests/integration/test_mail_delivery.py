"""Sending mail through a real SMTP server on this machine, and how failures are reported."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from core import email_templates as notifications
from core.mail import MailDeliveryError, SmtpSettings, send_message, stable_message_id
from tests.smtp_sink import HOST, SmtpSink, free_port

ADA = notifications.BookingRecipient(
    email="ada@example.com",
    name="Ada Lovelace",
    event_title="Jazz & Blues Night",
    booking_reference="BX-7Q2K",
)
PDF = b"%PDF-1.7\n" + bytes(range(256)) + b"\n%%EOF\n"


def tickets_mail(recipient=ADA, message_id=None) -> EmailMessage:
    return notifications.tickets_issued(
        recipient,
        event_when="Sat 14 June 2025, 20:00 (Europe/Paris)",
        venue="Le Duc des Lombards, Paris",
        lines=[notifications.TicketLine("Standard", 2, "€25.00")],
        total="€50.00",
        pdf_bytes=PDF,
        pdf_filename="tickets-BX-7Q2K.pdf",
        manage_url="https://boxoffice.example/bookings/0190",
        message_id=message_id,
    )


def test_ticket_mail_arrives_intact_with_sender_and_attachment(smtp_sink):
    settings = smtp_sink.smtp_settings(sender="Jazz Tickets <tickets@jazz.example>")
    message_id = stable_message_id("tickets", "0190-ab", settings.sender_domain)

    send_message(settings, tickets_mail(message_id=message_id))

    [mail] = smtp_sink.wait_for(1)
    assert mail.mail_from == "tickets@jazz.example"
    assert mail.rcpt_tos == ("ada@example.com",)
    received = mail.message
    assert received["From"] == "Jazz Tickets <tickets@jazz.example>"
    assert received["To"] == "Ada Lovelace <ada@example.com>"
    assert received["Subject"] == "Your tickets for Jazz & Blues Night"
    assert received["Message-ID"] == "<tickets.0190-ab@jazz.example>"
    assert received["Date"].datetime.tzinfo is not None
    assert "Jazz &amp; Blues Night" in received.get_body(("html",)).get_content()
    [pdf] = received.iter_attachments()
    assert pdf.get_filename() == "tickets-BX-7Q2K.pdf"
    assert pdf.get_content() == PDF


def test_a_resent_mail_keeps_its_message_id(smtp_sink):
    settings = smtp_sink.smtp_settings()
    message_id = stable_message_id("tickets", "0190-ab", settings.sender_domain)

    send_message(settings, tickets_mail(message_id=message_id))
    send_message(settings, tickets_mail(message_id=message_id))

    first, second = smtp_sink.wait_for(2)
    assert first.message["Message-ID"] == second.message["Message-ID"] == message_id


def test_mail_without_a_message_id_gets_one_in_the_sender_domain(smtp_sink):
    send_message(smtp_sink.smtp_settings(), tickets_mail())

    [mail] = smtp_sink.wait_for(1)
    assert mail.message["Message-ID"].endswith("@boxoffice.localhost>")


def test_refused_connection_is_retryable():
    settings = SmtpSettings(host=HOST, port=free_port(), timeout=2)

    with pytest.raises(MailDeliveryError) as caught:
        send_message(settings, tickets_mail())

    assert caught.value.retryable
    assert caught.value.smtp_code is None


def test_server_that_never_answers_times_out_and_is_retryable():
    # A listening socket nobody accepts from: the connection is made, the greeting never comes.
    with socket.socket() as silent:
        silent.bind((HOST, 0))
        silent.listen()
        settings = SmtpSettings(host=HOST, port=silent.getsockname()[1], timeout=0.5)

        with pytest.raises(MailDeliveryError) as caught:
            send_message(settings, tickets_mail())

    assert caught.value.retryable


def test_recipient_refused_with_550_is_permanent(smtp_sink):
    smtp_sink.refuse("ada@example.com", "550 5.1.1 No such mailbox here")

    with pytest.raises(MailDeliveryError) as caught:
        send_message(smtp_sink.smtp_settings(), tickets_mail())

    assert not caught.value.retryable
    assert caught.value.smtp_code == 550
    assert "No such mailbox here" in str(caught.value)
    assert smtp_sink.received == []


def test_recipient_deferred_with_451_is_retryable(smtp_sink):
    smtp_sink.refuse("ada@example.com", "451 4.3.0 Mailbox busy, try again later")

    with pytest.raises(MailDeliveryError) as caught:
        send_message(smtp_sink.smtp_settings(), tickets_mail())

    assert caught.value.retryable
    assert caught.value.smtp_code == 451


def test_partly_refused_mail_is_not_retried_to_avoid_duplicates(smtp_sink):
    smtp_sink.refuse("gone@example.com", "550 5.1.1 No such mailbox here")
    message = tickets_mail()
    message.replace_header("To", "ada@example.com, gone@example.com")

    with pytest.raises(MailDeliveryError) as caught:
        send_message(smtp_sink.smtp_settings(), message)

    assert not caught.value.retryable
    [mail] = smtp_sink.wait_for(1)
    assert mail.rcpt_tos == ("ada@example.com",)


# TLS and login, against the same sink with a self-signed certificate made for this run.


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "boxoffice test mail server")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture
def server_tls(certificate) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


@pytest.fixture
def trust_test_certificate(certificate, monkeypatch) -> None:
    # send_message verifies servers against the default trust store, which OpenSSL reads from
    # SSL_CERT_FILE when set: the same knob an operator uses for a private relay's CA.
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))


class Logins:
    """An aiosmtpd authenticator that accepts one user and remembers who logged in."""

    def __init__(self, username: str, password: str):
        self._expected = (username.encode(), password.encode())
        self.users: list[str] = []

    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        given = (auth_data.login, auth_data.password)
        if given != self._expected:
            return AuthResult(success=False, handled=False)
        self.users.append(auth_data.login.decode())
        return AuthResult(success=True)


@pytest.fixture
def starttls_sink(server_tls) -> Iterator[tuple[SmtpSink, Logins]]:
    logins = Logins("mailer", "s3cret")
    with SmtpSink(tls_context=server_tls, require_starttls=True, authenticator=logins) as sink:
        yield sink, logins


@pytest.mark.usefixtures("trust_test_certificate")
def test_starttls_with_login_delivers(starttls_sink):
    sink, logins = starttls_sink
    settings = sink.smtp_settings(security="starttls", username="mailer", password="s3cret")

    send_message(settings, tickets_mail())

    [mail] = sink.wait_for(1)
    assert mail.message["Subject"] == "Your tickets for Jazz & Blues Night"
    assert logins.users == ["mailer"]


@pytest.mark.usefixtures("trust_test_certificate")
def test_rejected_login_is_retryable_because_an_operator_can_fix_it(starttls_sink):
    sink, _ = starttls_sink
    settings = sink.smtp_settings(security="starttls", username="mailer", password="wrong")

    with pytest.raises(MailDeliveryError) as caught:
        send_message(settings, tickets_mail())

    assert caught.value.retryable
    assert caught.value.smtp_code == 535
    assert sink.received == []


def test_untrusted_certificate_is_refused_and_retryable(starttls_sink):
    sink, _ = starttls_sink
    settings = sink.smtp_settings(security="starttls", username="mailer", password="s3cret")

    with pytest.raises(MailDeliveryError) as caught:
        send_message(settings, tickets_mail())

    assert caught.value.retryable
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)
    assert sink.received == []


@pytest.mark.usefixtures("trust_test_certificate")
def test_implicit_tls_delivers(server_tls):
    with SmtpSink(ssl_context=server_tls) as sink:
        send_message(sink.smtp_settings(security="ssl"), tickets_mail())

        [mail] = sink.wait_for(1)
    assert mail.rcpt_tos == ("ada@example.com",)


def test_server_demanding_starttls_is_a_retryable_settings_problem(starttls_sink):
    sink, _ = starttls_sink

    with pytest.raises(MailDeliveryError) as caught:
        send_message(sink.smtp_settings(security="none"), tickets_mail())

    assert caught.value.retryable
    assert caught.value.smtp_code == 530
