"""Provider events: verified, stored by their id, then acted on by a task.

A webhook is checked by its provider (`PaymentProvider.verify_webhook`) before anything in it
is read, stored under the provider's event id (a replay changes nothing), and processed by a
task, so the provider is answered at once and a crash loses nothing. The local provider's
checkout page reports the customer's choice as the same kind of event, through the same store:
there is no shortcut to a confirmation.

Storing is one unit of work the caller (the API view) opens and commits. Processing asks the
provider, so `process_webhook_event` and `handle_webhook_event` take the database and open their
own short units of work around the provider's answer, committing each.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TypeVar

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from core import runtime
from core.config import ConfigError
from core.db import Database, UnitOfWork
from core.errors import Conflict, DomainError, NotFound
from core.jobs import Job
from core.models import WebhookEvent, utcnow
from core.payments import payment_provider
from core.payments.provider import PaymentProviderError, WebhooksNotConfigured, WebhookVerificationError
from core.services import refunds
from core.services.settlement import PAID, fail_payment, reconcile_checkout

log = logging.getLogger(__name__)

T = TypeVar("T")

SESSION_EVENTS = (
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
)


def receive_webhook(uow: UnitOfWork, provider: str, payload: bytes, headers: Mapping[str, str]) -> bool:
    """Verify a provider's webhook before reading anything, then store it for processing.

    Returns False for a replay (an event id already stored), which changes nothing.
    """
    try:
        event = payment_provider(provider).verify_webhook(payload, headers)
    except (ConfigError, WebhooksNotConfigured) as error:
        raise DomainError(str(error), name="webhooks_not_configured") from None
    except WebhookVerificationError as error:
        raise DomainError(str(error), name="invalid_webhook") from None
    return record_webhook_event(uow, provider, event)


def record_webhook_event(uow: UnitOfWork, provider: str, event: dict) -> bool:
    """Store a provider event by its id and have a task process it once the caller commits; a
    replay is ignored."""
    if uow.session.get(WebhookEvent, event["id"]) is not None:
        return False
    try:
        # The same event, delivered twice at the same moment, waits here for the other one.
        with uow.session.begin_nested():
            uow.session.add(
                WebhookEvent(id=event["id"], provider=provider, type=event["type"], payload=event)
            )
    except IntegrityError:
        return False
    uow.after_commit(lambda: runtime.dispatch(Job.PROCESS_WEBHOOK_EVENT, event_id=event["id"]))
    return True


def process_webhook_event(db: Database, event_id: str) -> str:
    """Act on a stored event once; a redelivered task finds it processed and does nothing.

    Reads the event in one unit of work on `db`, acts on it (`handle_webhook_event`), and marks
    it processed in a last one, each committed."""
    with db.unit_of_work() as uow:
        stored = uow.session.get(WebhookEvent, event_id)
        if stored is None or stored.processed_at is not None:
            return "nothing_to_do"
        provider, event = stored.provider, stored.payload
    try:
        outcome = handle_webhook_event(db, provider, event)
    except PaymentProviderError as error:
        if error.retryable:
            raise
        # Asking again will never succeed (the provider does not know the session): keep the
        # event, marked processed, rather than retrying it forever.
        log.error("provider event %s cannot be processed: %s", event_id, error)
        outcome = "provider_refused"
    with db.unit_of_work() as uow:
        uow.session.execute(
            update(WebhookEvent)
            .where(WebhookEvent.id == event_id, WebhookEvent.processed_at.is_(None))
            .values(processed_at=utcnow())
        )
        uow.commit()
    return outcome


def handle_webhook_event(db: Database, provider: str, event: dict) -> str:
    """Dispatch a provider event by type. Deliveries can be late, repeated or out of order, so a
    session event is only a cue: the session is read afresh from the provider and its current
    state is what counts (an `expired` event for a session that was in fact paid confirms it).

    What the event calls for is one unit of work on `db`, opened after the provider answered and
    committed here."""
    event_type, obj = event.get("type"), event.get("data", {}).get("object", {})
    if event_type in SESSION_EVENTS and isinstance(obj.get("id"), str):
        state = payment_provider(provider).retrieve_session(obj["id"])
        failed = event_type == "checkout.session.async_payment_failed" and state.payment_status not in PAID
        act = fail_payment if failed else reconcile_checkout
        return _in_unit_of_work(db, lambda uow: act(uow, state, provider))
    if event_type == "charge.refunded" and isinstance(obj.get("payment_intent"), str):
        return _in_unit_of_work(db, lambda uow: refunds.record_provider_refund(uow, obj))
    return "ignored"


def _in_unit_of_work(db: Database, work: Callable[[UnitOfWork], T]) -> T:
    """`work` in a unit of work of its own on `db`, committed."""
    with db.unit_of_work() as uow:
        outcome = work(uow)
        uow.commit()
    return outcome


def settle_local_checkout(db: Database, session_id: str, token: str, outcome: str) -> bool:
    """The local checkout page's buttons: the outcome becomes an event on the webhook path.
    Only the page's own URL (its token) reaches them; any other is an unknown checkout.

    The local provider is asked first, then the event is stored in a unit of work on `db`,
    committed here."""
    try:
        event = payment_provider("local").settle(session_id, token, outcome)
    except PaymentProviderError as error:
        if error.http_status == 404:
            raise NotFound("No such checkout.") from None
        raise Conflict(
            f"This checkout cannot be used any more: {error.message}.", name="checkout_closed"
        ) from None
    return _in_unit_of_work(db, lambda uow: record_webhook_event(uow, "local", event))


def local_checkout_page(session_id: str, token: str) -> dict:
    """What the local checkout page shows: the amount, the lines, whether it can still be paid."""
    try:
        return payment_provider("local").checkout_page(session_id, token)
    except PaymentProviderError:
        raise NotFound("No such checkout.") from None
