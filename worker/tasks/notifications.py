"""Mail tasks, about bookings and about accounts: retried with exponential back-off while the
SMTP server cannot take the message."""

from __future__ import annotations

from core.mail import MailDeliveryError
from core.services import account_emails, notifications
from worker.celery_app import celery_app

MAX_RETRIES = 8


def backoff(retries: int) -> int:
    """10 s, 20 s, 40 s ... capped at 30 minutes."""
    return min(10 * 2**retries, 1800)


@celery_app.task(name="boxoffice.send_booking_emails", bind=True, max_retries=MAX_RETRIES)
def send_booking_emails(self, kind: str, booking_ids: list[str], occasion: str = "") -> int:
    try:
        return notifications.send_booking_emails(kind, booking_ids, occasion)
    except MailDeliveryError as error:
        if not error.retryable:
            raise
        raise self.retry(exc=error, countdown=backoff(self.request.retries)) from error


@celery_app.task(name="boxoffice.send_account_email", bind=True, max_retries=MAX_RETRIES)
def send_account_email(self, kind: str, email: str) -> bool:
    try:
        return account_emails.send_account_email(kind, email)
    except MailDeliveryError as error:
        if not error.retryable:
            raise
        raise self.retry(exc=error, countdown=backoff(self.request.retries)) from error
