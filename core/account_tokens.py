"""Signed, expiring tokens that a mail carries to prove its reader owns an account's address.

A token names its purpose (a reset token opens no verification), the account, and a
fingerprint of the state it may change: for a password reset, the current password hash, so
the token dies the moment the password changes (used once, or changed any other way); for a
verification, the address it was sent to. Nothing is stored: the signature, the age and the
fingerprint are the whole check. Tokens are signed, not encrypted: they hold nothing secret.
"""

from __future__ import annotations

import hashlib
import uuid
from enum import StrEnum

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from core.errors import DomainError


class Purpose(StrEnum):
    PASSWORD_RESET = "password-reset"
    EMAIL_VERIFICATION = "email-verification"


class LinkInvalid(DomainError):
    """A token that is not ours, was altered, or was made for something else."""

    status_code = 400
    name = "link_invalid"


def fingerprint(value: str) -> str:
    """A short digest of the state a token is bound to; it reveals nothing of the value."""
    return hashlib.blake2b(value.encode(), digest_size=12).hexdigest()


def _serializer(secret: str, purpose: Purpose) -> URLSafeTimedSerializer:
    # The purpose is the salt: each purpose signs with its own derived key.
    return URLSafeTimedSerializer(secret, salt=f"boxoffice.{purpose}")


def make_token(secret: str, purpose: Purpose, user_id: uuid.UUID, bound_to: str) -> str:
    return _serializer(secret, purpose).dumps({"u": str(user_id), "f": fingerprint(bound_to)})


def read_token(secret: str, purpose: Purpose, token: str, max_age: int) -> tuple[uuid.UUID, str]:
    """The account and fingerprint a genuine, unexpired token names; raises `LinkInvalid`."""
    try:
        payload = _serializer(secret, purpose).loads(token, max_age=max_age)
    except SignatureExpired:
        raise LinkInvalid("This link has expired; ask for a new one.", name="link_expired") from None
    except BadSignature:
        raise LinkInvalid("This link is not valid; ask for a new one.") from None
    try:
        return uuid.UUID(payload["u"]), str(payload["f"])
    except (TypeError, KeyError, ValueError):
        raise LinkInvalid("This link is not valid; ask for a new one.") from None
