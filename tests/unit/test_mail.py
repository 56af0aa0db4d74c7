"""Composing messages and checking SMTP settings, without a network."""

from __future__ import annotations

from email.headerregistry import Address

import pytest

from core.mail import SmtpSettings, compose_message, stable_message_id


def test_stable_message_id_is_the_same_for_the_same_mail():
    first = stable_message_id("tickets", "0190a1b2-c3d4", "boxoffice.example")

    assert first == stable_message_id("tickets", "0190a1b2-c3d4", "boxoffice.example")
    assert first == "<tickets.0190a1b2-c3d4@boxoffice.example>"


@pytest.mark.parametrize("key", ["", "a b", "a@b", "<x>"])
def test_stable_message_id_refuses_characters_that_would_break_it(key):
    with pytest.raises(ValueError):
        stable_message_id("tickets", key, "boxoffice.example")


@pytest.mark.parametrize("message_id", ["tickets.1@x", "<no-at-sign>", "<a@b> <c@d>"])
def test_compose_refuses_a_malformed_message_id(message_id):
    with pytest.raises(ValueError, match="Message-ID"):
        compose_message(
            to=Address(addr_spec="ada@example.com"),
            subject="Hello",
            text="Hello",
            html="<p>Hello</p>",
            message_id=message_id,
        )


def test_settings_default_to_a_local_sink_without_tls_or_login():
    settings = SmtpSettings()

    assert (settings.host, settings.port, settings.security) == (
        "127.0.0.1",
        1025,
        "none",
    )
    assert settings.username is None
    assert settings.sender_domain == "boxoffice.localhost"


@pytest.mark.parametrize(
    "overrides",
    [{"security": "tls"}, {"timeout": 0}, {"sender": "Boxoffice"}],
)
def test_settings_refuse_values_that_cannot_work(overrides):
    with pytest.raises(ValueError):
        SmtpSettings(**overrides)
