"""The emails about an account (reset, verification, a second registration), composed and sent.

The API only names the address; the account is looked up here, in the worker, so a request
for an address without an account does the same work as any other and simply sends nothing.
A reset or verification code is made at send time, so its lifetime starts when it leaves.
"""

from __future__ import annotations

import logging

from core import email_templates, metrics, runtime
from core.db import Database
from core.email_templates import AccountRecipient
from core.mail import MailDeliveryError, send_message
from core.services import accounts
from core.services.accounts import AccountMail
from core.services.notifications import smtp_settings

log = logging.getLogger(__name__)


def _valid_for(seconds: int) -> str:
    hours = seconds // 3600
    if hours >= 48:
        return f"{hours // 24} days"
    if hours >= 1:
        return f"{hours} hour" + ("s" if hours > 1 else "")
    return f"{max(1, seconds // 60)} minutes"


def send_account_email(db: Database, kind: str, email: str) -> bool:
    """Send `kind` to the account of `email`; False when there is nothing to send (no such
    account, or an address verified meanwhile). Raises `MailDeliveryError` for the task.

    Reads the account in a unit of work of its own on `db`, ended before the SMTP exchange
    (nothing is written, so nothing is committed)."""
    kind, settings = AccountMail(kind), runtime.settings()
    with db.unit_of_work() as uow:
        user = accounts.find_user_by_email(uow, email)
        if user is None or (kind is AccountMail.VERIFY_EMAIL and user.email_verified_at is not None):
            return False
        recipient = AccountRecipient(email=user.email, name=user.name)
        if kind is AccountMail.PASSWORD_RESET:
            message = email_templates.password_reset(
                recipient,
                code=accounts.password_reset_token(user),
                valid_for=_valid_for(settings.password_reset_seconds),
            )
        elif kind is AccountMail.VERIFY_EMAIL:
            message = email_templates.verify_email(
                recipient,
                code=accounts.email_verification_token(user),
                valid_for=_valid_for(settings.email_verification_seconds),
            )
        else:
            message = email_templates.registration_attempted(recipient)
    try:
        send_message(smtp_settings(), message)
    except MailDeliveryError as error:
        metrics.count_mail(kind, sent=False)
        if error.retryable:
            raise
        log.warning("%s mail to account %s refused: %s", kind, user.id, error)
        return False
    metrics.count_mail(kind, sent=True)
    log.info("sent %s mail to account %s", kind, user.id)
    return True
