"""The Flask extensions, created once and bound to the app in `create_app()`."""

from __future__ import annotations

from flask_jwt_extended import JWTManager, get_jwt_identity, verify_jwt_in_request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_smorest import Api as SmorestApi


class Api(SmorestApi):
    """flask-smorest's Api, with two changes to its HTTP error handler: every error carries a
    `message` a person can read, and Werkzeug's own headers (`Allow` on a 405) are kept."""

    def handle_http_exception(self, error):
        payload, status, headers = super().handle_http_exception(error)
        if "message" not in payload:
            invalid_fields = status == 422 and "errors" in payload
            payload["message"] = (
                "Some fields are invalid: see errors." if invalid_fields else error.description
            )
        merged = {name: value for name, value in error.get_headers() if name.lower() != "content-type"}
        merged.update(headers or {})
        return payload, status, merged


def _rate_limit_key() -> str:
    """Signed-in clients are limited per account, others per address."""
    try:
        verify_jwt_in_request(optional=True)
        identity = get_jwt_identity()
    except Exception:  # a bad token is the auth layer's business, not the limiter's
        identity = None
    return f"user:{identity}" if identity else f"ip:{get_remote_address()}"


jwt = JWTManager()
limiter = Limiter(key_func=_rate_limit_key, headers_enabled=True, strategy="fixed-window")
