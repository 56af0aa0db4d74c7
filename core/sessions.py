"""Signed-in sessions and their revocation.

An access token and its refresh token share a session id; signing out revokes the session, so
both stop working at once. A revocation is remembered in Redis until the tokens would have
expired anyway. Checking it costs a Redis round trip, so the booking path folds the check into
the same Lua step that queues the request (see `core.booking_queue`).
"""

from __future__ import annotations

from core import runtime

_PREFIX = "jwt:revoked:"


def revocation_key(session_id: str) -> str:
    return _PREFIX + session_id


def revoke_session(session_id: str) -> None:
    ttl = runtime.settings().refresh_token_seconds
    runtime.redis_client().set(revocation_key(session_id), "1", ex=ttl)


def is_revoked(session_id: str) -> bool:
    return bool(runtime.redis_client().exists(revocation_key(session_id)))
