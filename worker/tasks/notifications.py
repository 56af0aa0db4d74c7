"""Mail tasks: retried with exponential back-off while the SMTP server cannot take the message.

Celery's own retry options do the waiting and counting. The service raises `MailDeliveryError`
only for mail worth another try (a refused recipient is logged and given up there), and only
the mails not yet sent are sent again.
"""

from __future__ import annotations

from core.jobs import Job
from core.mail import MailDeliveryError
from core.services import notifications
from worker.celery_app import job_task

MAX_RETRIES = 8


# 10 s, 20 s, 40 s ... capped at 30 minutes.
@job_task(Job.SEND_BOOKING_EMAILS, autoretry_for=(MailDeliveryError,), max_retries=MAX_RETRIES,
          retry_backoff=10, retry_backoff_max=1800, retry_jitter=False)  # fmt: skip
def send_booking_emails(kind: str, booking_ids: list[str]) -> int:
    return notifications.send_booking_emails(kind, booking_ids)
