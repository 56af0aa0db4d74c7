"""Liveness and readiness for operators and load balancers (outside the versioned API)."""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text

from api.errors import RETRY_AFTER_SECONDS
from core import runtime

blp = Blueprint("health", __name__)


@blp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@blp.get("/readyz")
def readyz():
    """200 when PostgreSQL (or the embedded database) and Redis answer; 503 naming which did not."""
    checks = {"database": _check(_ping_database), "redis": _check(lambda: runtime.redis_client().ping())}
    if all(value == "ok" for value in checks.values()):
        return jsonify(status="ready", checks=checks)
    return jsonify(status="unavailable", checks=checks), 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}


def _ping_database() -> None:
    with runtime.database().engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def _check(probe) -> str:
    try:
        probe()
    except Exception as error:  # any failure means "not ready"; the message says which
        return f"error: {type(error).__name__}: {error}"[:300]
    return "ok"
