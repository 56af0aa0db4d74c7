"""A real SMTP server for tests: aiosmtpd on a free local port that keeps every message it
accepts, parsed, and can be told to refuse chosen recipients. Conftests expose the fixture with
`from tests.smtp_sink import smtp_sink  # noqa: F401`."""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Self

import pytest
from aiosmtpd.controller import Controller

from core.mail import SmtpSettings

HOST = "127.0.0.1"


def free_port(host: str = HOST) -> int:
    # aiosmtpd's Controller cannot take port 0: its start-up check connects to the port it was
    # given. Ask the system for a free one instead; nothing else binds it in between in practice.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage


class SmtpSink:
    """Start with `with SmtpSink() as sink:`. Extra keyword arguments go to aiosmtpd's SMTP
    server (`tls_context`, `require_starttls`, `authenticator`, ...); `ssl_context` makes it
    speak TLS from the first byte, like an SMTPS port."""

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None, **smtp_options: Any):
        self.host = HOST
        self.port = free_port()
        self._received: list[ReceivedMail] = []
        self._refusals: dict[str, str] = {}
        self._arrived = threading.Condition()
        self._controller = Controller(
            self,
            hostname=self.host,
            port=self.port,
            ssl_context=ssl_context,
            **smtp_options,
        )

    def __enter__(self) -> Self:
        self._controller.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._controller.stop()

    def smtp_settings(self, **overrides: Any) -> SmtpSettings:
        """Settings that deliver to this sink."""
        return SmtpSettings(host=self.host, port=self.port, **overrides)

    def refuse(self, address: str, reply: str) -> None:
        """Answer RCPT TO for `address` with `reply`, e.g. "550 5.1.1 No such mailbox"."""
        self._refusals[address.lower()] = reply

    @property
    def received(self) -> list[ReceivedMail]:
        with self._arrived:
            return list(self._received)

    def wait_for(self, count: int = 1, timeout: float = 5.0) -> list[ReceivedMail]:
        """Block until at least `count` messages have arrived; return all of them."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self._received) >= count, timeout):
                raise AssertionError(
                    f"expected {count} message(s) within {timeout}s, got {len(self._received)}"
                )
            return list(self._received)

    # aiosmtpd hooks, called on the controller's thread.

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        refusal = self._refusals.get(address.lower())
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._arrived:
            self._received.append(ReceivedMail(envelope.mail_from, tuple(envelope.rcpt_tos), message))
            self._arrived.notify_all()
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """A plain (no TLS, no login) SMTP server that collects what it receives."""
    with SmtpSink() as sink:
        yield sink
