"""Authentication plumbing: JWT claims, session revocation, and the signed-in user.

An access token and its refresh token share a session id (`sid`); logging out revokes the
session (`core.sessions`), so both stop working at once. The claims carry what the booking
path must know without reading PostgreSQL: the role and whether the email is verified.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid

from flask import Flask, g, request
from flask_jwt_extended import (
    create_access_token,
    create_refresh_token,
    decode_token,
    get_jwt,
    get_jwt_identity,
    jwt_required,
    verify_jwt_in_request,
)
from flask_jwt_extended.exceptions import JWTExtendedException
from jwt import PyJWTError

from api.db import request_uow
from api.errors import error_response
from api.extensions import by_address, jwt
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
    claims = current_claims()
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


# Where the rush path (`api.rush_path`) keeps the claims of the token it verified itself.
LEAN_CLAIMS = "lean_token_claims"


def current_claims() -> dict:
    """The claims of the request's verified token: those the rush path verified, or else
    flask-jwt-extended's (`jwt_required`). The views read them here, whichever path ran."""
    claims = g.get(LEAN_CLAIMS)
    return get_jwt() if claims is None else claims


def current_user_id() -> uuid.UUID:
    """The signed-in user's id from the token alone, for hot paths that must not touch PostgreSQL."""
    try:
        return uuid.UUID(current_claims()["sub"])
    except ValueError:
        raise Unauthorized("Invalid token: its subject is not an account.", name="invalid_token") from None


def current_session_id() -> str:
    return current_claims().get("sid", "")


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
# Where a client sends its token: `Authorization: Bearer <token>`, and nowhere else.
TOKEN_HEADER, TOKEN_TYPE = "Authorization", "Bearer"


def has_required_claims(claims: dict) -> bool:
    """The check every token passes after its signature (flask-jwt-extended's verification
    loader, and the rush path): an expiry, and a session id that is one (text)."""
    return all(claims.get(claim) for claim in REQUIRED_CLAIMS) and isinstance(claims["sid"], str)


def is_revoked(claims: dict) -> bool:
    """Whether the token's session was signed out (the blocklist loader, and the rush path).
    A token without a session id of text is no session's: `has_required_claims` refuses it."""
    session_id = claims.get("sid")
    return isinstance(session_id, str) and sessions.is_revoked(session_id)


_NOT_YET = object()


def access_token_claims() -> dict | None:
    """The claims of the request's `Authorization: Bearer` access token, verified by one
    `decode_token` (one PyJWT decode: `api.extensions.JWTManager`) and `has_required_claims`;
    None for a request without one, or with anything less plain (a refresh token, a header of
    another shape, a token refused), which only `jwt_required` itself may answer. The session's
    revocation is the caller's to check. Verified once per request and kept: the booking limit's
    bucket (`by_account`) and the rush path (`api.rush_path`) both ask."""
    claims = g.get("access_token_claims", _NOT_YET)
    if claims is _NOT_YET:
        claims = g.access_token_claims = _verified_access_claims()
    return claims


def _verified_access_claims() -> dict | None:
    scheme, _, token = request.headers.get(TOKEN_HEADER, "").partition(" ")
    if scheme != TOKEN_TYPE:
        return None
    try:
        claims = decode_token(token)
    except (JWTExtendedException, PyJWTError):
        return None
    # Stricter than `jwt_required` (which refuses `refresh` alone): anything else is its to judge.
    return claims if claims["type"] == "access" and has_required_claims(claims) else None


def by_account() -> str:
    """The signed-in account's rate-limit bucket, for endpoints that need one. Picking it needs
    a genuine token, not a live session: the endpoint itself refuses a signed-out session, so
    the revocation round trip is not paid twice, nor the decode (`access_token_claims`)."""
    claims = access_token_claims()
    if claims is not None:
        return f"account:{claims['sub']}"
    try:  # a token of another shape: as `jwt_required` would judge it
        verify_jwt_in_request(skip_revocation_check=True)
        return f"account:{get_jwt_identity()}"
    except (JWTExtendedException, PyJWTError):  # no valid token: the view refuses it; count it by address
        return by_address()


def _unauthorized(message: str, reason: str):
    return error_response(401, message, reason, headers=[("WWW-Authenticate", "Bearer")])


def init_app(app: Flask) -> None:
    settings = runtime.settings()
    app.config.update(
        JWT_SECRET_KEY=settings.jwt_secret_key,
        JWT_ACCESS_TOKEN_EXPIRES=dt.timedelta(seconds=settings.access_token_seconds),
        JWT_REFRESH_TOKEN_EXPIRES=dt.timedelta(seconds=settings.refresh_token_seconds),
        JWT_TOKEN_LOCATION=["headers"],
        JWT_HEADER_NAME=TOKEN_HEADER,
        JWT_HEADER_TYPE=TOKEN_TYPE,
        JWT_ERROR_MESSAGE_KEY="message",
    )
    jwt.init_app(app)
    jwt.token_in_blocklist_loader(lambda _header, claims: is_revoked(claims))
    jwt.token_verification_loader(lambda _header, claims: has_required_claims(claims))
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
