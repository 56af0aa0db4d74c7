"""Mail tasks, about bookings and about accounts: retried with exponential back-off while the
SMTP server cannot take the message.

Celery's own retry options do the waiting and counting. The services raise `MailDeliveryError`
only for mail worth another try (a refused recipient is logged and given up there), and only
the mails not yet sent are sent again.
"""

from __future__ import annotations

from core import runtime
from core.jobs import Job
from core.mail import MailDeliveryError
from core.services import account_emails, notifications
from worker.celery_app import job_task

# 10 s, 20 s, 40 s ... capped at 30 minutes.
RETRY = {"autoretry_for": (MailDeliveryError,), "max_retries": 8, "retry_backoff": 10,
         "retry_backoff_max": 1800, "retry_jitter": False}  # fmt: skip


@job_task(Job.SEND_BOOKING_EMAILS, **RETRY)
def send_booking_emails(kind: str, booking_ids: list[str], occasion: str = "") -> int:
    return notifications.send_booking_emails(runtime.database(), kind, booking_ids, occasion)


@job_task(Job.SEND_ACCOUNT_EMAIL, **RETRY)
def send_account_email(kind: str, email: str) -> bool:
    return account_emails.send_account_email(runtime.database(), kind, email)
