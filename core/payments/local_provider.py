"""The built-in `local` payment provider: a checkout page of our own, for development and demos.

Its sessions live in Redis, apart from our tables, just as Stripe's live apart from them, so the
payment services treat both providers alike. When the customer acts on the page, `settle` turns
the outcome into a Stripe-shaped event that goes through the very same webhook path (stored by
its id, then processed by a task): there is no shortcut to a confirmation.

The page is a capability link: its URL carries a token, an HMAC of the session id under a key
derived from the application's secret, and without the right token the page does not exist.
Session ids are not secrets (organizers see them in payment lists); only the customer's own
checkout URL, handed out with the booking, carries the token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import redis

from core import links
from core.payments.provider import (
    Checkout,
    CheckoutRequest,
    PaymentProviderError,
    RefundReason,
    RefundResult,
    SessionState,
    SessionStatus,
    WebhooksNotConfigured,
)

# Long enough for any hold and for refunds of a demo's payments; Redis forgets them afterwards.
RECORD_TTL = 30 * 24 * 3600


class Outcome(StrEnum):
    """What the customer does on the local checkout page."""

    PAID = "paid"
    CANCELLED = "cancelled"


OUTCOMES = tuple(Outcome)
_EVENT_TYPES = {Outcome.PAID: "checkout.session.completed", Outcome.CANCELLED: "checkout.session.expired"}
_PAGE_KEY_INFO = b"boxoffice local checkout page"
_SESSION_KEY_INFO = b"boxoffice local checkout session"


def _key(kind: str, id_: str) -> str:
    # The id is the hash tag: what one transaction reads and writes shares a slot of a cluster.
    return f"localpay:{kind}:{{{id_}}}"


class LocalProvider:
    """Checkout sessions, payment intents and refunds kept in Redis, each write atomic."""

    name = "local"

    def __init__(
        self,
        redis_client: redis.Redis,
        public_base_url: str,
        secret: str,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self._redis = redis_client
        self._base_url = public_base_url.rstrip("/")
        # A key of its own, so a page token is worth nothing anywhere else the secret is used.
        self._page_key = hmac.digest(secret.encode("utf-8"), _PAGE_KEY_INFO, hashlib.sha256)
        self._session_key = hmac.digest(secret.encode("utf-8"), _SESSION_KEY_INFO, hashlib.sha256)
        self._clock = clock

    # --- the provider interface -----------------------------------------------------------

    def create_checkout(self, req: CheckoutRequest) -> Checkout:
        if req.expires_at <= self._clock():
            raise PaymentProviderError(
                f"the hold of booking {req.booking_id} has already ended",
                retryable=False,
                code="hold_expired",
            )
        # The session id follows from the idempotency key, so creating it twice is one SET NX.
        digest = hmac.digest(self._session_key, req.idempotency_key.encode("utf-8"), hashlib.sha256)
        session_id = "lcs_" + base64.urlsafe_b64encode(digest[:18]).decode("ascii")
        session = {
            "id": session_id,
            "object": "checkout.session",
            "status": SessionStatus.OPEN,
            "payment_status": "unpaid",
            "payment_intent": None,
            "amount_total": sum(line.unit_amount * line.quantity for line in req.lines),
            "currency": req.currency.lower(),
            "lines": [[line.name, line.quantity, line.unit_amount] for line in req.lines],
            "customer_email": req.customer_email,
            # Unlike Stripe, nothing stops a local session from ending exactly with the hold.
            "expires_at": int(req.expires_at.timestamp()),
            "metadata": {"booking_id": req.booking_id},
            "success_url": req.success_url,
            "cancel_url": req.cancel_url,
            "url": self.page_url(session_id),
        }
        self._redis.set(_key("session", session_id), json.dumps(session), ex=RECORD_TTL, nx=True)
        return _checkout(self._session(session_id))

    def retrieve_session(self, session_id: str) -> SessionState:
        return _state(self._session(session_id))

    def expire_checkout(self, session_id: str, idempotency_key: str) -> SessionState:
        return _state(self._transition(session_id, _expire))

    def refund(
        self,
        payment_intent_id: str,
        amount: int,
        idempotency_key: str,
        reason: RefundReason = "requested_by_customer",
    ) -> RefundResult:
        intent_key = _key("intent", payment_intent_id)
        refund_key = f"localpay:refund:{{{payment_intent_id}}}:{idempotency_key}"

        def give_back(pipe: redis.client.Pipeline) -> dict:
            saved = pipe.get(refund_key)
            if saved is not None:
                return json.loads(saved)
            raw = pipe.get(intent_key)
            if raw is None:
                raise PaymentProviderError(
                    f"no such payment intent: {payment_intent_id}", retryable=False, code="resource_missing"
                )
            intent = json.loads(raw)
            if intent["refunded"] + amount > intent["amount"]:
                raise PaymentProviderError(
                    f"refund of {amount} exceeds what is left of payment {payment_intent_id}",
                    retryable=False,
                    code="amount_too_large",
                )
            intent["refunded"] += amount
            refund = {"id": "lre_" + secrets.token_urlsafe(18), "amount": amount, "reason": reason}
            pipe.multi()
            pipe.set(intent_key, json.dumps(intent), ex=RECORD_TTL)
            pipe.set(refund_key, json.dumps(refund), ex=RECORD_TTL)
            return refund

        refund = self._redis.transaction(give_back, intent_key, refund_key, value_from_callable=True)
        return RefundResult(refund_id=refund["id"], status="succeeded", amount=refund["amount"])

    # --- the checkout page ----------------------------------------------------------------

    def page_url(self, session_id: str) -> str:
        return links.LOCAL_CHECKOUT.url(
            base_url=self._base_url, session_id=session_id, token=self._page_token(session_id)
        )

    def verify_webhook(self, payload: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
        raise WebhooksNotConfigured("The local provider sends no webhooks: its checkout page settles.")

    def checkout_page(self, session_id: str, token: str) -> dict[str, Any]:
        """The session as the page shows it (amount, lines, status), with its expiry applied."""
        self._check_page_token(session_id, token)
        return self._transition(session_id, lambda session: None)

    def settle(self, session_id: str, token: str, outcome: Outcome) -> dict[str, Any]:
        """The customer pays or gives up on the page: returns the event a provider would send.

        The event id is derived from the session and the outcome, so submitting the form twice
        yields the same event, which the webhook store then recognizes as a replay.
        """
        self._check_page_token(session_id, token)
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}")
        session = self._transition(session_id, self._pay if outcome == Outcome.PAID else _expire)
        reached = SessionStatus.COMPLETE if outcome == Outcome.PAID else SessionStatus.EXPIRED
        if session["status"] != reached:
            raise PaymentProviderError(
                f"checkout {session_id} is {session['status']}", retryable=False, code="session_closed"
            )
        return {
            "id": f"levt_{reached}_{session_id}",
            "object": "event",
            "type": _EVENT_TYPES[outcome],
            "created": int(self._clock().timestamp()),
            "data": {"object": session},
        }

    def _page_token(self, session_id: str) -> str:
        mac = hmac.digest(self._page_key, session_id.encode("utf-8"), hashlib.sha256)
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")

    def _check_page_token(self, session_id: str, token: str) -> None:
        """A wrong token reads exactly as a session that does not exist."""
        if not hmac.compare_digest(token.encode("utf-8"), self._page_token(session_id).encode("ascii")):
            raise _missing(session_id)

    # --- storage --------------------------------------------------------------------------

    def _session(self, session_id: str) -> dict[str, Any]:
        raw = self._redis.get(_key("session", session_id))
        if raw is None:
            raise _missing(session_id)
        return json.loads(raw)

    def _transition(self, session_id: str, change: Callable[[dict], None]) -> dict[str, Any]:
        """Apply `change` to an open session atomically; a closed session is returned as it is."""
        key = _key("session", session_id)

        def apply(pipe: redis.client.Pipeline) -> dict:
            raw = pipe.get(key)
            if raw is None:
                raise _missing(session_id)
            session = json.loads(raw)
            if session["status"] != SessionStatus.OPEN:
                return session
            if session["expires_at"] <= self._clock().timestamp():
                _expire(session)
            else:
                change(session)
            pipe.multi()
            pipe.set(key, json.dumps(session), keepttl=True)
            return session

        return self._redis.transaction(apply, key, value_from_callable=True)

    def _pay(self, session: dict[str, Any]) -> None:
        intent_id = "lpi_" + secrets.token_urlsafe(18)
        intent = {"id": intent_id, "amount": session["amount_total"], "refunded": 0}
        # Written before the session says paid: a refund can never find a paid session without it.
        self._redis.set(_key("intent", intent_id), json.dumps(intent), ex=RECORD_TTL)
        session.update(
            status=SessionStatus.COMPLETE, payment_status="paid", payment_intent=intent_id, url=None
        )


def _missing(session_id: str) -> PaymentProviderError:
    return PaymentProviderError(
        f"no such checkout session: {session_id}", retryable=False, code="resource_missing", http_status=404
    )


def _expire(session: dict[str, Any]) -> None:
    session.update(status=SessionStatus.EXPIRED, url=None)


def _checkout(session: dict[str, Any]) -> Checkout:
    return Checkout(
        session_id=session["id"],
        url=session["url"],
        expires_at=datetime.fromtimestamp(session["expires_at"], UTC),
        payment_intent_id=session["payment_intent"],
        status=session["status"],
    )


def _state(session: dict[str, Any]) -> SessionState:
    return SessionState(
        session_id=session["id"],
        status=session["status"],
        payment_status=session["payment_status"],
        payment_intent_id=session["payment_intent"],
        amount_total=session["amount_total"],
        currency=session["currency"],
        booking_id=session["metadata"].get("booking_id"),
    )
