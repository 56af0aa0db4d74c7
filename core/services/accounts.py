"""Accounts: registration, authentication, recovery, roles and the first administrator.

Nothing a stranger can ask here tells whether an address has an account: registering and
asking for a password reset answer alike and do the same work either way (the difference is
in the mail the address's owner receives, sent by a worker).
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core import links, runtime, sessions
from core.account_tokens import LinkInvalid, Purpose, fingerprint, make_token, read_token
from core.db import UnitOfWork
from core.email_addresses import check_no_lookalike, normalize_email
from core.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from core.jobs import Job
from core.models import Organization, User, utcnow
from core.services import audit
from core.services.audit import AuditAction
from core.services.permissions import require_admin
from core.statuses import ACCOUNT_ROLES, Role

# Argon2id with the library's defaults: deliberately slow, memory-hard.
_hasher = PasswordHasher()
# Verified when the email is unknown, so a login takes as long whether or not the account exists.
_DUMMY_HASH = _hasher.hash("not-a-real-password")

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 128
ORGANIZATION_ROLES = frozenset({Role.STAFF, Role.ORGANIZER})
# The background job that mails an account's owner (`core.services.account_emails`).


class AccountMail(StrEnum):
    """The mails about an account, by the job argument `kind`."""

    PASSWORD_RESET = "password_reset"
    VERIFY_EMAIL = "verify_email"
    REGISTRATION_ATTEMPTED = "registration_attempted"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


COMMON_PASSWORDS_FILE = Path(__file__).resolve().parent.parent / "data" / "common-passwords.txt"


@cache
def _common_passwords() -> frozenset[str]:
    """The most common passwords long enough to pass the length rule (the file says its source).

    A data file rather than the zxcvbn package it comes from: importing that package's lists
    costs about 12 MB per process (all its word lists), this file about 1 MB.
    """
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("# "))


def check_password_policy(password: str) -> None:
    """8 to 128 characters, and not one of the passwords attackers try first."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(f"Password must be at least {MIN_PASSWORD_LENGTH} characters.", name="weak_password")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise Invalid(f"Password must be at most {MAX_PASSWORD_LENGTH} characters.", name="password_too_long")
    if password.lower() in _common_passwords():
        raise Invalid(
            "This password is one of the most common ones, which attackers try first; choose another.",
            name="common_password",
        )


def find_user_by_email(uow: UnitOfWork, email: str) -> User | None:
    """The account with this address; a comp's guests are not accounts and are never found."""
    return uow.session.scalar(
        select(User).where(User.email == normalize_email(email), User.role != Role.GUEST)
    )


def get_user(uow: UnitOfWork, user_id: uuid.UUID) -> User:
    """The account with this id (a comp's guest is none: it has no token and no settings)."""
    user = uow.session.get(User, user_id)
    if user is None or user.role == Role.GUEST:
        raise NotFound("No such user.")
    return user


def register_user(uow: UnitOfWork, email: str, password: str, name: str, role: Role = Role.CUSTOMER) -> User:
    check_no_lookalike(email)
    check_password_policy(password)
    if find_user_by_email(uow, email) is not None:
        raise Conflict("An account with this email already exists.", name="email_taken")
    user = User(
        email=normalize_email(email), password_hash=hash_password(password), name=name.strip(), role=role
    )
    uow.session.add(user)
    uow.commit()
    return user


def register_customer(uow: UnitOfWork, email: str, password: str, name: str) -> None:
    """Create a customer account and mail its owner a verification link; when the address
    already has an account, mail its owner that someone tried instead. The caller learns
    neither, and both paths hash the password, so they take as long. An address that mixes
    scripts like a look-alike is refused whether or not the address it imitates has an account
    (`core.email_addresses`)."""
    check_no_lookalike(email)
    check_password_policy(password)
    email, password_hash = normalize_email(email), hash_password(password)
    created = find_user_by_email(uow, email) is None
    if created:
        uow.session.add(User(email=email, password_hash=password_hash, name=name.strip(), role=Role.CUSTOMER))
        try:
            uow.commit()
        except IntegrityError:  # registered a moment ago by a concurrent request
            uow.session.rollback()
            created = False
    kind = AccountMail.VERIFY_EMAIL if created else AccountMail.REGISTRATION_ATTEMPTED
    runtime.dispatch(Job.SEND_ACCOUNT_EMAIL, kind=kind.value, email=email)


def request_password_reset(email: str) -> None:
    """Have a reset link mailed to the address if it has an account. Reads nothing here: the
    worker finds the account, so the answer is the same work for any address."""
    runtime.dispatch(
        Job.SEND_ACCOUNT_EMAIL, kind=AccountMail.PASSWORD_RESET.value, email=normalize_email(email)
    )


def password_reset_token(user: User) -> str:
    return make_token(_secret(), Purpose.PASSWORD_RESET, user.id, user.password_hash)


def email_verification_token(user: User) -> str:
    return make_token(_secret(), Purpose.EMAIL_VERIFICATION, user.id, user.email)


def reset_password(uow: UnitOfWork, token: str, new_password: str) -> User:
    """Set a new password with a reset token and sign the account out everywhere.

    The token is bound to the old password hash, so it works once: after this, or any other
    password change, it is refused. Reaching the mail also proves the address is the owner's.
    """
    max_age = runtime.settings().password_reset_seconds
    user_id, bound_to = read_token(_secret(), Purpose.PASSWORD_RESET, token, max_age)
    # Locked, so two uses of one token at the same moment cannot both pass the check.
    user = uow.session.get(User, user_id, with_for_update=True)
    if user is None or fingerprint(user.password_hash) != bound_to:
        raise LinkInvalid(
            "This link was already used, or the password has changed since; ask for a new one.",
            name="link_used",
        )
    check_password_policy(new_password)
    user.password_hash = hash_password(new_password)
    user.email_verified_at = user.email_verified_at or utcnow()
    # Revoked before the commit: if Redis fails, the old password still stands and nothing
    # half-happened that the user cannot see.
    sessions.revoke_account_sessions(user.id)
    uow.commit()
    return user


def change_password(
    uow: UnitOfWork, user_id: uuid.UUID, current_password: str, new_password: str, *, session_id: str
) -> User:
    """Change the password of a signed-in account; its other sessions are signed out."""
    user = get_user(uow, user_id)
    try:
        _hasher.verify(user.password_hash, current_password)
    except (VerificationError, InvalidHashError):
        raise Forbidden("The current password is wrong.", name="wrong_password") from None
    check_password_policy(new_password)
    user.password_hash = hash_password(new_password)
    sessions.revoke_account_sessions(user.id, keep=session_id)
    uow.commit()
    return user


def verify_email(uow: UnitOfWork, token: str) -> User:
    max_age = runtime.settings().email_verification_seconds
    user_id, bound_to = read_token(_secret(), Purpose.EMAIL_VERIFICATION, token, max_age)
    user = uow.session.get(User, user_id, with_for_update=True)
    if user is None or fingerprint(user.email) != bound_to:
        raise LinkInvalid("This link was sent to another address; ask for a new one.")
    if user.email_verified_at is not None:
        raise Conflict("This email address is verified already.", name="email_already_verified")
    user.email_verified_at = utcnow()
    uow.commit()
    return user


def resend_verification(uow: UnitOfWork, user_id: uuid.UUID) -> None:
    user = get_user(uow, user_id)
    if user.email_verified_at is not None:
        raise Conflict("This email address is verified already.", name="email_already_verified")
    runtime.dispatch(Job.SEND_ACCOUNT_EMAIL, kind=AccountMail.VERIFY_EMAIL.value, email=user.email)


def check_may_book(role: str, email_verified: bool) -> None:
    """With `REQUIRE_VERIFIED_EMAIL` on, customers book only once they verified their address.
    Takes the token's claims, so the booking path stays off PostgreSQL."""
    if runtime.settings().require_verified_email and role == Role.CUSTOMER and not email_verified:
        raise Forbidden(
            "Verify your email address before booking: use the link we mailed you, or ask for "
            f"a new one at {links.RESEND_VERIFICATION.method} {links.RESEND_VERIFICATION.path()}, then refresh your token.",
            name="email_unverified",
        )


def _secret() -> str:
    return runtime.settings().jwt_secret_key


def authenticate(uow: UnitOfWork, email: str, password: str) -> User:
    user = find_user_by_email(uow, email)
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        user = None
    if user is None:
        raise Unauthorized("Wrong email or password.", name="invalid_credentials")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        uow.commit()
    return user


def ensure_admin(
    uow: UnitOfWork, email: str, password: str, name: str = "Administrator"
) -> tuple[User, bool]:
    """Create the administrator unless an account with that email exists; says whether it did."""
    existing = find_user_by_email(uow, email)
    if existing is not None:
        return existing, False
    return register_user(uow, email, password, name, role=Role.ADMIN), True


def create_organization(uow: UnitOfWork, actor: User, name: str, contact_email: str | None) -> Organization:
    require_admin(actor)
    organization = Organization(name=name.strip(), contact_email=contact_email)
    uow.session.add(organization)
    uow.session.flush()  # gives the organization its id, for the audit entry
    audit.record(uow, actor, AuditAction.ORGANIZATION_CREATE, "organization", organization.id,
                 organization.id, {"name": organization.name, "contact_email": contact_email})  # fmt: skip
    uow.commit()
    return organization


def update_user(uow: UnitOfWork, actor: User, user_id: uuid.UUID, changes: dict) -> User:
    """Set a user's role and organization; staff and organizers must belong to an organization."""
    require_admin(actor)
    user = get_user(uow, user_id)
    role = changes.get("role", user.role)
    if role not in ACCOUNT_ROLES:
        raise Invalid(f"Unknown role {role!r}.", name="unknown_role")
    organization_id = changes.get("organization_id", user.organization_id)
    if organization_id is not None and uow.session.get(Organization, organization_id) is None:
        raise Invalid("No such organization.", name="unknown_organization")
    if role in ORGANIZATION_ROLES and organization_id is None:
        raise Invalid(f"A {role} must belong to an organization.", name="organization_required")
    if role not in ORGANIZATION_ROLES:
        organization_id = None
    if user.id == actor.id and role != Role.ADMIN:
        raise Invalid("Administrators cannot demote themselves.", name="self_demotion")
    after = {"role": role, "organization_id": organization_id}
    if "name" in changes:
        after["name"] = changes["name"].strip()
    # Filed under the organization the user joins, or the one they leave.
    audit.record(uow, actor, AuditAction.USER_UPDATE, "user", user.id, organization_id or user.organization_id,
                 audit.diff(user, after, after))  # fmt: skip
    for name, value in after.items():
        setattr(user, name, value)
    uow.commit()
    return user
