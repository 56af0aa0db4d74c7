"""Accounts: registration, authentication, roles and the first administrator."""

from __future__ import annotations

import uuid

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from core.db import UnitOfWork
from core.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from core.models import ROLES, Organization, User

# Argon2id with the library's defaults: deliberately slow, memory-hard.
_hasher = PasswordHasher()
# Verified when the email is unknown, so a login takes as long whether or not the account exists.
_DUMMY_HASH = _hasher.hash("not-a-real-password")

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 128
ORGANIZATION_ROLES = frozenset({"staff", "organizer"})


def normalize_email(email: str) -> str:
    return email.strip().lower()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(f"Password must be at least {MIN_PASSWORD_LENGTH} characters.", name="weak_password")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise Invalid(f"Password must be at most {MAX_PASSWORD_LENGTH} characters.", name="password_too_long")


def find_user_by_email(uow: UnitOfWork, email: str) -> User | None:
    return uow.session.scalar(select(User).where(User.email == normalize_email(email)))


def get_user(uow: UnitOfWork, user_id: uuid.UUID) -> User:
    user = uow.session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def register_user(uow: UnitOfWork, email: str, password: str, name: str, role: str = "customer") -> User:
    check_password_policy(password)
    if find_user_by_email(uow, email) is not None:
        raise Conflict("An account with this email already exists.", name="email_taken")
    user = User(
        email=normalize_email(email), password_hash=hash_password(password), name=name.strip(), role=role
    )
    uow.session.add(user)
    uow.commit()
    return user


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
    return register_user(uow, email, password, name, role="admin"), True


def create_organization(uow: UnitOfWork, actor: User, name: str, contact_email: str | None) -> Organization:
    require_admin(actor)
    organization = Organization(name=name.strip(), contact_email=contact_email)
    uow.session.add(organization)
    uow.commit()
    return organization


def update_user(uow: UnitOfWork, actor: User, user_id: uuid.UUID, changes: dict) -> User:
    """Set a user's role and organization; staff and organizers must belong to an organization."""
    require_admin(actor)
    user = get_user(uow, user_id)
    role = changes.get("role", user.role)
    if role not in ROLES:
        raise Invalid(f"Unknown role {role!r}.", name="unknown_role")
    organization_id = changes.get("organization_id", user.organization_id)
    if organization_id is not None and uow.session.get(Organization, organization_id) is None:
        raise Invalid("No such organization.", name="unknown_organization")
    if role in ORGANIZATION_ROLES and organization_id is None:
        raise Invalid(f"A {role} must belong to an organization.", name="organization_required")
    if role not in ORGANIZATION_ROLES:
        organization_id = None
    if user.id == actor.id and role != "admin":
        raise Invalid("Administrators cannot demote themselves.", name="self_demotion")
    if "name" in changes:
        user.name = changes["name"].strip()
    user.role, user.organization_id = role, organization_id
    uow.commit()
    return user


def require_admin(actor: User) -> None:
    if actor.role != "admin":
        raise Forbidden("Only administrators may do this.")
