"""What the booking services ask of a payment provider, in plain values: open a checkout for a
held booking, read it back, close it when the hold ends, refund a payment, and tell a genuine
event of the provider's from a forged one. The services talk to a provider only through this
interface (`core.payments.payment_provider`), so a provider's details stay in its adapter.

Also the one shape of a job's provider calls over many ids: try each, then ask for a retry of
only the ones that failed in a way that may clear up (`for_each_retrying`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, Protocol, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")


class SessionStatus(StrEnum):
    """A checkout session's state, in the providers' own words (Stripe's)."""

    OPEN = "open"
    COMPLETE = "complete"
    EXPIRED = "expired"


PaymentStatus = Literal["paid", "unpaid", "no_payment_required"]
RefundStatus = Literal["succeeded", "pending", "failed"]
RefundReason = Literal["requested_by_customer", "duplicate", "fraudulent"]


class PaymentProviderError(Exception):
    """A provider call failed.

    `retryable` tells the calling task whether trying again with the same idempotency key can
    succeed (network trouble, the provider's 5xx, rate limits) or never will (a request the
    provider refuses, such as refunding more than was paid).
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        code: str | None = None,
        http_status: int | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.code = code
        self.http_status = http_status


class ProviderCallsFailed(PaymentProviderError):
    """Some of a job's ids met a provider failure that may clear up; the others are done.

    `ids` are the ones to try again, so a retried job repeats only what failed.
    """

    def __init__(self, ids: list[str], cause: PaymentProviderError):
        super().__init__(
            f"{len(ids)} provider call(s) to retry: {cause.message}",
            retryable=True,
            code=cause.code,
            http_status=cause.http_status,
        )
        self.ids = ids


def for_each_retrying(
    items: Iterable[T], step: Callable[[T], R], retry_id: Callable[[T], str] = str
) -> list[R]:
    """Do `step` for every item and return the results of those that completed.

    One item's provider failure never stops the others. A failure that may clear up is raised
    at the end, once, as `ProviderCallsFailed` with the `retry_id` of each such item, so the
    job is retried for those alone; a refusal (asking again will never succeed) is logged and
    the item left as it is.
    """
    done: list[R] = []
    again: list[str] = []
    cause: PaymentProviderError | None = None
    for item in items:
        try:
            done.append(step(item))
        except PaymentProviderError as error:
            if not error.retryable:
                log.warning("%s for %s refused by the provider: %s", step.__name__, retry_id(item), error)
                continue
            again.append(retry_id(item))
            cause = error
    if cause is not None:
        raise ProviderCallsFailed(again, cause)
    return done


class WebhookVerificationError(ValueError):
    """A webhook request that cannot be trusted to come from the provider, or is not an event."""


class WebhooksNotConfigured(Exception):
    """This server takes no webhooks from the provider (for Stripe: no webhook secret is set)."""


@dataclass(frozen=True)
class CheckoutLine:
    name: str
    unit_amount: int
    quantity: int

    def __post_init__(self) -> None:
        if self.unit_amount < 0:
            raise ValueError(f"unit_amount must not be negative, got {self.unit_amount}")
        if self.quantity < 1:
            raise ValueError(f"quantity must be at least 1, got {self.quantity}")


@dataclass(frozen=True)
class CheckoutRequest:
    booking_id: str
    customer_email: str
    lines: tuple[CheckoutLine, ...]
    currency: str
    expires_at: datetime
    success_url: str
    cancel_url: str
    idempotency_key: str

    def __post_init__(self) -> None:
        # A list is accepted for convenience and frozen into a tuple, so the request stays
        # immutable and hashable.
        object.__setattr__(self, "lines", tuple(self.lines))
        if not self.lines:
            raise ValueError("a checkout needs at least one line")
        if self.expires_at.utcoffset() is None:
            raise ValueError("expires_at must be timezone-aware")
        if not self.idempotency_key:
            raise ValueError("idempotency_key must not be empty")


@dataclass(frozen=True)
class Checkout:
    """An open checkout. `expires_at` is when the provider will close it on its own, which can
    be later than the hold: closing it when the hold ends is the caller's job."""

    session_id: str
    url: str
    expires_at: datetime
    payment_intent_id: str | None
    status: SessionStatus


@dataclass(frozen=True)
class SessionState:
    session_id: str
    status: SessionStatus
    payment_status: PaymentStatus
    payment_intent_id: str | None
    amount_total: int
    currency: str
    booking_id: str | None


@dataclass(frozen=True)
class RefundResult:
    refund_id: str
    status: RefundStatus
    amount: int


class PaymentProvider(Protocol):
    def create_checkout(self, req: CheckoutRequest) -> Checkout:
        """Open a hosted checkout for a held booking."""
        ...

    def retrieve_session(self, session_id: str) -> SessionState:
        """Read a checkout's current state from the provider."""
        ...

    def expire_checkout(self, session_id: str, idempotency_key: str) -> SessionState:
        """Close a checkout so it can no longer be paid, and return its final state.

        A checkout that is already expired or complete is not an error: its state is returned,
        so a caller ending a hold learns whether the customer paid in the meantime.
        """
        ...

    def refund(
        self,
        payment_intent_id: str,
        amount: int,
        idempotency_key: str,
        reason: RefundReason = "requested_by_customer",
    ) -> RefundResult:
        """Give back `amount` (minor units) of a payment."""
        ...

    def verify_webhook(self, payload: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
        """The event a webhook request carries (Stripe's shape: `id`, `type`, `data.object`),
        once it is known to come from the provider. Raises `WebhookVerificationError`, or
        `WebhooksNotConfigured` where this server takes none."""
        ...

    def checkout_page(self, session_id: str, token: str) -> dict[str, Any]:
        """A checkout page we host ourselves, as it shows the session: `status`, `amount_total`,
        `currency`, `lines` ([name, quantity, unit amount]) and `success_url`. `token` is the
        page URL's capability: with any other, as from a provider that hosts its own pages, the
        answer is `PaymentProviderError` with `http_status` 404."""
        ...

    def settle(self, session_id: str, token: str, outcome: str) -> dict[str, Any]:
        """The customer's choice on a page we host (`paid` or `cancelled`), returned as the event
        the provider's webhook would carry, so it takes the very same path to a confirmation."""
        ...
