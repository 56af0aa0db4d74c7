"""Card payments through Stripe Checkout Sessions with the official SDK, and verification of the
webhooks Stripe sends about them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import stripe

from core.payments.provider import (
    Checkout,
    CheckoutRequest,
    PaymentProviderError,
    RefundReason,
    RefundResult,
    RefundStatus,
    SessionState,
    SessionStatus,
    WebhooksNotConfigured,
    WebhookVerificationError,
)

# Stripe accepts a Checkout Session expiry from 30 minutes to 24 hours after it creates the
# session, measured on its own clock when the request arrives; the slack absorbs network
# latency and clock skew between us and Stripe.
STRIPE_MIN_SESSION_LIFETIME = timedelta(minutes=30)
STRIPE_MAX_SESSION_LIFETIME = timedelta(hours=24)
CLOCK_SLACK = timedelta(minutes=1)

# Stripe's refund statuses folded into ours: `requires_action` waits on the customer's bank,
# and a refund Stripe cancelled gave nothing back.
_REFUND_STATUSES: dict[str, RefundStatus] = {
    "succeeded": "succeeded",
    "pending": "pending",
    "requires_action": "pending",
    "failed": "failed",
    "canceled": "failed",
}


def stripe_session_expiry(hold_expires_at: datetime, now: datetime) -> datetime:
    """The `expires_at` to give Stripe for a checkout whose hold ends at `hold_expires_at`."""
    if hold_expires_at >= now + STRIPE_MIN_SESSION_LIFETIME + CLOCK_SLACK:
        return min(hold_expires_at, now + STRIPE_MAX_SESSION_LIFETIME - CLOCK_SLACK)
    # Stripe will not end a session less than 30 minutes after creating it, and holds are
    # usually shorter (10 minutes by default). The session then runs 30 minutes past the end
    # of the hold, and the hold-expiry job expires it on Stripe itself when the hold ends; a
    # payment that slips in between is handled as any late payment (confirmed if the tickets
    # are still free, refunded otherwise). The value is derived from the hold rather than from
    # the clock so that a retry with the same idempotency key sends the same parameters:
    # Stripe rejects a key reused with different ones.
    return hold_expires_at + STRIPE_MIN_SESSION_LIFETIME


class StripeProvider:
    """The payment provider backed by Stripe Checkout.

    The SDK's own retries are off: the Celery task calling us owns retries, and replays the
    same idempotency key, so Stripe never acts twice.
    """

    def __init__(
        self,
        secret_key: str,
        api_base: str | None = None,
        *,
        webhook_secret: str | None = None,
        timeout: float = 30.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        # Only override the address when asked: an explicit None would replace the SDK's
        # default instead of falling back to it.
        base_addresses = {"api": api_base} if api_base else None
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses=base_addresses,
            max_network_retries=0,
            # The SDK waits 80 s by default, too long to keep a worker busy on a stalled call.
            http_client=stripe.RequestsClient(timeout=timeout),
        )
        self._webhook_secret = webhook_secret
        self._clock = clock

    def create_checkout(self, req: CheckoutRequest) -> Checkout:
        now = self._clock()
        if req.expires_at <= now:
            raise PaymentProviderError(
                f"the hold of booking {req.booking_id} has already ended",
                retryable=False,
                code="hold_expired",
            )
        currency = req.currency.lower()
        params: dict[str, Any] = {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": line.quantity,
                    "price_data": {
                        "currency": currency,
                        "unit_amount": line.unit_amount,
                        "product_data": {"name": line.name},
                    },
                }
                for line in req.lines
            ],
            "customer_email": req.customer_email,
            "client_reference_id": req.booking_id,
            "metadata": {"booking_id": req.booking_id},
            "payment_intent_data": {"metadata": {"booking_id": req.booking_id}},
            "expires_at": int(stripe_session_expiry(req.expires_at, now).timestamp()),
            "success_url": req.success_url,
            "cancel_url": req.cancel_url,
        }
        with _as_provider_errors():
            session = self._client.v1.checkout.sessions.create(
                params,
                options={"idempotency_key": req.idempotency_key},
            ).to_dict()
        return Checkout(
            session_id=session["id"],
            url=session["url"],
            expires_at=datetime.fromtimestamp(session["expires_at"], UTC),
            payment_intent_id=session.get("payment_intent"),
            status=session["status"],
        )

    def retrieve_session(self, session_id: str) -> SessionState:
        with _as_provider_errors():
            session = self._client.v1.checkout.sessions.retrieve(session_id).to_dict()
        return _session_state(session)

    def expire_checkout(self, session_id: str, idempotency_key: str) -> SessionState:
        try:
            session = self._client.v1.checkout.sessions.expire(
                session_id, options={"idempotency_key": idempotency_key}
            ).to_dict()
        except stripe.InvalidRequestError as exc:
            # Stripe answers 400 for a session that is no longer open, whether it expired or
            # the customer paid; which of the two matters to the caller, so read it back.
            if exc.http_status == 400:
                state = self.retrieve_session(session_id)
                if state.status != SessionStatus.OPEN:
                    return state
            raise _provider_error(exc) from exc
        except stripe.StripeError as exc:
            raise _provider_error(exc) from exc
        return _session_state(session)

    def refund(
        self,
        payment_intent_id: str,
        amount: int,
        idempotency_key: str,
        reason: RefundReason = "requested_by_customer",
    ) -> RefundResult:
        with _as_provider_errors():
            refund = self._client.v1.refunds.create(
                {
                    "payment_intent": payment_intent_id,
                    "amount": amount,
                    "reason": reason,
                },
                options={"idempotency_key": idempotency_key},
            ).to_dict()
        return RefundResult(
            refund_id=refund["id"],
            # A status Stripe adds later is read as pending: money not yet known to be back.
            status=_REFUND_STATUSES.get(refund["status"], "pending"),
            amount=refund["amount"],
        )

    def verify_webhook(self, payload: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
        if not self._webhook_secret:
            raise WebhooksNotConfigured(
                "This server does not accept Stripe webhooks: STRIPE_WEBHOOK_SECRET is not set."
            )
        return verify_stripe_webhook(payload, headers.get("Stripe-Signature", ""), self._webhook_secret)

    def checkout_page(self, session_id: str, token: str) -> dict[str, Any]:
        raise _hosted_by_stripe(session_id)

    def settle(self, session_id: str, token: str, outcome: str) -> dict[str, Any]:
        raise _hosted_by_stripe(session_id)


def _hosted_by_stripe(session_id: str) -> PaymentProviderError:
    return PaymentProviderError(
        f"Stripe hosts the checkout page of {session_id}", retryable=False, http_status=404
    )


def verify_stripe_webhook(
    payload: bytes, signature_header: str, secret: str, tolerance: int = 300
) -> dict[str, Any]:
    """Check a webhook's `Stripe-Signature` against the raw body, then parse the event.

    `tolerance` is the oldest signature timestamp accepted, in seconds; it bounds how long a
    captured request can be replayed.
    """
    # The SDK skips the timestamp check when the tolerance is 0 or None.
    if tolerance <= 0:
        raise ValueError("tolerance must be a positive number of seconds")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WebhookVerificationError("webhook body is not UTF-8 text") from exc
    try:
        stripe.WebhookSignature.verify_header(text, signature_header, secret, tolerance)
    except stripe.SignatureVerificationError as exc:
        raise WebhookVerificationError(f"Stripe signature rejected: {exc.user_message}") from exc
    try:
        event = json.loads(text)
    except json.JSONDecodeError as exc:
        raise WebhookVerificationError(f"webhook body is not JSON: {exc}") from exc
    if not _is_event(event):
        raise WebhookVerificationError(
            "webhook body is not a Stripe event (expected object 'event' with id, type and data.object)"
        )
    return event


def _is_event(event: object) -> bool:
    return (
        isinstance(event, dict)
        and event.get("object") == "event"
        and isinstance(event.get("id"), str)
        and isinstance(event.get("type"), str)
        and isinstance(event.get("data"), dict)
        and isinstance(event["data"].get("object"), dict)
    )


def _session_state(session: dict[str, Any]) -> SessionState:
    return SessionState(
        session_id=session["id"],
        status=session["status"],
        payment_status=session["payment_status"],
        payment_intent_id=session.get("payment_intent"),
        amount_total=session["amount_total"],
        currency=session["currency"],
        booking_id=(session.get("metadata") or {}).get("booking_id"),
    )


@contextmanager
def _as_provider_errors() -> Iterator[None]:
    try:
        yield
    except stripe.StripeError as exc:
        raise _provider_error(exc) from exc


def _provider_error(exc: stripe.StripeError) -> PaymentProviderError:
    status = exc.http_status
    if isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError):
        # After a connection error the outcome is unknown; retrying with the same
        # idempotency key either repeats the work or replays Stripe's saved answer.
        retryable = True
    else:
        # 409 is Stripe reporting another request in flight with the same idempotency key.
        retryable = status is not None and (status == 409 or status >= 500)
    body = exc.json_body if isinstance(exc.json_body, dict) else {}
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    if isinstance(exc, stripe.APIConnectionError):
        where = "Stripe could not be reached"
    elif status is not None:
        where = f"Stripe answered {status}"
    else:
        where = "Stripe call failed"
    return PaymentProviderError(
        f"{where}: {exc.user_message or type(exc).__name__}",
        retryable=retryable,
        code=error.get("code") or exc.code,
        http_status=status,
    )
