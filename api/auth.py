"""Authentication plumbing: JWT claims, session revocation, and the signed-in user.

An access token and its refresh token share a session id (`sid`); logging out revokes the
session (`core.sessions`), so both stop working at once. The claims carry what the booking
path must know without reading PostgreSQL: the role and whether the email is verified.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid

from flask import Flask
from flask_jwt_extended import create_access_token, create_refresh_token, get_jwt, jwt_required

from api.db import request_uow
from api.errors import error_response
from api.extensions import jwt
from core import runtime, sessions
from core.errors import Forbidden, NotFound, Unauthorized
from core.models import User
from core.services.accounts import get_user
from core.statuses import Role


def _claims(user: User, session_id: str) -> dict:
    return {"role": user.role, "sid": session_id, "email_verified": user.email_verified_at is not None}


def issue_tokens(user: User) -> dict:
    settings = runtime.settings()
    session_id = uuid.uuid4().hex
    sessions.record_session(user.id, session_id)
    claims = _claims(user, session_id)
    return {
        "access_token": create_access_token(identity=str(user.id), additional_claims=claims),
        "refresh_token": create_refresh_token(identity=str(user.id), additional_claims=claims),
        "token_type": "Bearer",
        "expires_in": settings.access_token_seconds,
    }


def reissue_access_token() -> dict:
    claims = get_jwt()
    user = current_actor()
    token = create_access_token(identity=str(user.id), additional_claims=_claims(user, claims["sid"]))
    return {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": runtime.settings().access_token_seconds,
    }


def revoke_current_session() -> None:
    sessions.revoke_session(current_session_id())


def current_actor() -> User:
    """The signed-in user, read fresh from the database so a changed role applies at once.

    Only an account that is truly gone is a 401; a database that cannot answer is an outage
    (a 503, `api.errors`), or clients would sign everyone out."""
    try:
        return get_user(request_uow(), current_user_id())
    except NotFound:
        raise Unauthorized("Your account no longer exists; sign in again.", name="unknown_user") from None


def current_user_id() -> uuid.UUID:
    """The signed-in user's id from the token alone, for hot paths that must not touch PostgreSQL."""
    try:
        return uuid.UUID(get_jwt()["sub"])
    except ValueError:
        raise Unauthorized("Invalid token: its subject is not an account.", name="invalid_token") from None


def current_session_id() -> str:
    return get_jwt().get("sid", "")


def roles_required(*roles: Role):
    """Signed in with one of `roles` (admins always pass); the role is checked in the database."""

    def decorator(view):
        @functools.wraps(view)
        @jwt_required()
        def wrapper(*args, **kwargs):
            actor = current_actor()
            if actor.role != Role.ADMIN and actor.role not in roles:
                raise Forbidden(f"This needs one of these roles: {', '.join(roles)}.")
            return view(*args, **kwargs)

        return wrapper

    return decorator


# Every token Boxoffice issues carries both. One without an expiry would be valid forever, one
# without a session id could never be signed out: whoever minted it, it is refused.
REQUIRED_CLAIMS = ("exp", "sid")


def _has_required_claims(_header, payload) -> bool:
    return all(payload.get(claim) for claim in REQUIRED_CLAIMS)


def _is_revoked(_header, payload) -> bool:
    return sessions.is_revoked(payload.get("sid", ""))


def _unauthorized(message: str, reason: str):
    return error_response(401, message, reason, headers=[("WWW-Authenticate", "Bearer")])


def init_app(app: Flask) -> None:
    settings = runtime.settings()
    app.config.update(
        JWT_SECRET_KEY=settings.jwt_secret_key,
        JWT_ACCESS_TOKEN_EXPIRES=dt.timedelta(seconds=settings.access_token_seconds),
        JWT_REFRESH_TOKEN_EXPIRES=dt.timedelta(seconds=settings.refresh_token_seconds),
        JWT_TOKEN_LOCATION=["headers"],
        JWT_ERROR_MESSAGE_KEY="message",
    )
    jwt.init_app(app)
    jwt.token_in_blocklist_loader(_is_revoked)
    jwt.token_verification_loader(_has_required_claims)
    jwt.token_verification_failed_loader(
        lambda _h, _p: _unauthorized("Invalid token: it lacks an expiry or a session id.", "invalid_token")
    )
    jwt.unauthorized_loader(lambda reason: _unauthorized(f"Sign in first: {reason}.", "missing_token"))
    jwt.invalid_token_loader(lambda reason: _unauthorized(f"Invalid token: {reason}.", "invalid_token"))
    jwt.expired_token_loader(
        lambda _h, _p: _unauthorized("Your token has expired; refresh it.", "token_expired")
    )
    jwt.revoked_token_loader(lambda _h, _p: _unauthorized("This session was signed out.", "token_revoked"))
    jwt.user_lookup_error_loader(lambda _h, _p: _unauthorized("Unknown user.", "unknown_user"))
