"""Signed-in sessions and their revocation.

An access token and its refresh token share a session id; signing out revokes the session, so
both stop working at once. A revocation is remembered in Redis until the tokens would have
expired anyway. Checking it costs a Redis round trip, so the booking path sends the check in the
pipeline that starts its queueing step (see `core.booking_queue`); the revocation key lives in a
slot of its own on a Redis Cluster, so it cannot be inside the event's script.

Each account's sessions are listed in a sorted set (scored by when their refresh token dies),
so a password change or reset can revoke all of them at once; a session the set forgot has
expired already. Revoking marks each session, so the check stays one key per request.
"""

from __future__ import annotations

import time
import uuid

from core import runtime

_PREFIX = "jwt:revoked:"
_ACCOUNT_PREFIX = "sessions:user:"


def revocation_key(session_id: str) -> str:
    return _PREFIX + session_id


def revoke_session(session_id: str) -> None:
    ttl = runtime.settings().refresh_token_seconds
    runtime.redis_client().set(revocation_key(session_id), "1", ex=ttl)


def is_revoked(session_id: str) -> bool:
    return bool(runtime.redis_client().exists(revocation_key(session_id)))


def record_session(user_id: uuid.UUID, session_id: str) -> None:
    """Remember a new session of the account, forgetting those that have expired."""
    ttl = runtime.settings().refresh_token_seconds
    key, now = _ACCOUNT_PREFIX + str(user_id), time.time()
    pipe = runtime.redis_client().pipeline()
    pipe.zremrangebyscore(key, "-inf", now)
    pipe.zadd(key, {session_id: now + ttl})
    pipe.expire(key, ttl)
    pipe.execute()


def revoke_account_sessions(user_id: uuid.UUID, keep: str | None = None) -> int:
    """Revoke every live session of the account except `keep`; returns how many."""
    redis, ttl = runtime.redis_client(), runtime.settings().refresh_token_seconds
    key = _ACCOUNT_PREFIX + str(user_id)
    session_ids = [sid for sid in redis.zrangebyscore(key, time.time(), "+inf") if sid != keep]
    if not session_ids:
        return 0
    pipe = redis.pipeline(transaction=False)  # the sessions' keys are in slots of their own
    for session_id in session_ids:
        pipe.set(revocation_key(session_id), "1", ex=ttl)
    pipe.zrem(key, *session_ids)
    pipe.execute()
    return len(session_ids)
