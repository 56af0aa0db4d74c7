"""Payment tasks: checkouts, provider events, refunds, cancelled events, and beat's repair sweep.

Each is a thin wrapper around a `core` service. A provider failure that may clear up is retried
with back-off, and only for the ids that failed; the services make a repeated call harmless.
"""

from __future__ import annotations

from core import runtime
from core.jobs import Job, Periodic
from core.payments.provider import PaymentProviderError, ProviderCallsFailed
from core.services import checkouts, event_cancellation, payment_sweep, refunds, webhooks
from worker.celery_app import job_task, periodic_task

MAX_RETRIES = 10
SWEEP_SECONDS = 30.0
# Chunks settled per run of the cancelled-event task before it hands over to a fresh run.
SETTLE_CHUNKS_PER_RUN = 20


def backoff(retries: int) -> int:
    """5 s, 10 s, 20 s ... capped at 10 minutes (below the sweep's idea of a lost refund)."""
    return min(5 * 2**retries, 600)


def _retry_failed(task, error: PaymentProviderError, ids_as: str, **kwargs):
    """Retry a provider failure that may clear up, with only the ids it left undone."""
    if not error.retryable:
        raise error
    if isinstance(error, ProviderCallsFailed):
        kwargs[ids_as] = error.ids
    raise task.retry(exc=error, countdown=backoff(task.request.retries), kwargs=kwargs)


@job_task(Job.PREPARE_CHECKOUTS, bind=True, max_retries=MAX_RETRIES)
def prepare_checkouts(self, booking_ids: list[str], notify: str | None = None) -> list[str]:
    try:
        return checkouts.prepare_checkouts(runtime.database(), booking_ids, notify)
    except PaymentProviderError as error:
        _retry_failed(self, error, "booking_ids", booking_ids=booking_ids, notify=notify)


@job_task(Job.EXPIRE_CHECKOUTS, bind=True, max_retries=MAX_RETRIES)
def expire_checkouts(self, booking_ids: list[str]) -> list[str]:
    try:
        return checkouts.expire_checkouts(runtime.database(), booking_ids)
    except PaymentProviderError as error:
        _retry_failed(self, error, "booking_ids", booking_ids=booking_ids)


@job_task(Job.PROCESS_WEBHOOK_EVENT, bind=True, max_retries=MAX_RETRIES)
def process_webhook_event(self, event_id: str) -> str:
    try:
        return webhooks.process_webhook_event(runtime.database(), event_id)
    except PaymentProviderError as error:
        _retry_failed(self, error, "event_id", event_id=event_id)


@job_task(Job.ISSUE_REFUNDS, bind=True, max_retries=MAX_RETRIES)
def issue_refunds(self, refund_ids: list[str]) -> list[str]:
    try:
        return refunds.issue_refunds(runtime.database(), refund_ids)
    except PaymentProviderError as error:
        _retry_failed(self, error, "refund_ids", refund_ids=refund_ids)


@job_task(Job.SETTLE_CANCELLED_EVENT)
def settle_cancelled_event(event_id: str) -> dict:
    report = event_cancellation.settle_cancelled_event(
        runtime.database(), event_id, max_chunks=SETTLE_CHUNKS_PER_RUN
    )
    if not report.done:
        runtime.dispatch(Job.SETTLE_CANCELLED_EVENT, event_id=event_id)
    return {"settled": report.settled, "refunds": report.refunds, "done": report.done}


@periodic_task(Periodic.SWEEP_PAYMENTS, every=SWEEP_SECONDS)
def sweep_payments() -> dict:
    with runtime.database().unit_of_work() as uow:
        swept = payment_sweep.sweep_payments(uow)
        uow.commit()
    return swept
