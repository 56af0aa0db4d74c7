"""Fixtures for payment tests: the Stripe provider pointed at the local stub, mail delivered to a
local sink, and a watch on the test database while each provider call is made."""

from __future__ import annotations

import dataclasses
import json

import pytest
import sqlalchemy as sa

from core import runtime
from tests.stripe_stub import TEST_SECRET_KEY, sign_webhook

WEBHOOK_SECRET = "whsec_boxoffice_test"


@pytest.fixture()
def use_stripe(settings, stripe_stub):
    """Stripe as the configured provider, talking to the stub; the default (local) afterwards."""
    runtime.configure(
        dataclasses.replace(
            settings,
            payment_provider="stripe",
            stripe_secret_key=TEST_SECRET_KEY,
            stripe_api_base=stripe_stub.url,
            stripe_webhook_secret=WEBHOOK_SECRET,
        )
    )
    yield stripe_stub
    runtime.configure(settings)


@pytest.fixture()
def mail_sink(settings, smtp_sink):
    runtime.configure(dataclasses.replace(settings, smtp_host=smtp_sink.host, smtp_port=smtp_sink.port))
    yield smtp_sink
    runtime.configure(settings)


@pytest.fixture()
def transactions_during_provider_calls(database_url, stripe_stub):
    """(method, path, open transactions) for every request the stub receives.

    At each request, while our code waits for the answer, the stub's thread asks PostgreSQL how
    many sessions of the test database (this run's own) sit inside a transaction. Waiting on
    a provider with a transaction open holds row locks over a network call: it must be zero.
    """
    from tests.conftest import ADMIN_URL

    admin = sa.create_engine(ADMIN_URL, poolclass=sa.pool.NullPool)
    name = sa.engine.make_url(database_url).database
    seen: list[tuple[str, str, int]] = []

    def observe(method: str, path: str) -> None:
        with admin.connect() as connection:
            open_transactions = connection.scalar(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = :name "
                    "AND backend_type = 'client backend' AND xact_start IS NOT NULL"
                ),
                {"name": name},
            )
        seen.append((method, path, open_transactions))

    stripe_stub.observers.append(observe)
    yield seen
    admin.dispose()


def signed(event: dict, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> tuple[bytes, dict]:
    """A webhook body and its headers, signed as Stripe signs them."""
    payload = json.dumps(event).encode()
    return payload, {
        "Stripe-Signature": sign_webhook(payload, secret, timestamp),
        "Content-Type": "application/json",
    }
