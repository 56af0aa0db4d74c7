"""Card payments: the provider interface, its implementations, and the one place that picks one."""

from __future__ import annotations

from functools import lru_cache

from core import runtime
from core.config import ConfigError
from core.payments.local_provider import LocalProvider
from core.payments.provider import PaymentProvider
from core.payments.stripe_provider import StripeProvider

PROVIDERS = ("local", "stripe")


def payment_provider(name: str | None = None) -> PaymentProvider:
    """The provider called `name` (a payment row's `provider`), or the configured one.

    Payments remember which provider took them, so a payment made before the setting changed is
    still read, expired and refunded where it was made.
    """
    settings = runtime.settings()
    name = name or settings.payment_provider
    if name == "local":
        return LocalProvider(runtime.redis_client(), settings.public_base_url, settings.jwt_secret_key)
    if name == "stripe":
        if not settings.stripe_secret_key:
            raise ConfigError("a Stripe payment needs STRIPE_SECRET_KEY to be set")
        return _stripe(settings.stripe_secret_key, settings.stripe_api_base or None)
    raise ConfigError(f"unknown payment provider {name!r}; PAYMENT_PROVIDER must be one of {PROVIDERS}")


@lru_cache(maxsize=4)
def _stripe(secret_key: str, api_base: str | None) -> StripeProvider:
    # One SDK client per key, so its HTTP connections are reused across calls.
    return StripeProvider(secret_key, api_base)
