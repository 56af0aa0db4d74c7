"""The Flask extensions, created once and bound to the app in `create_app()`."""

from __future__ import annotations

import functools
import time

import flask_jwt_extended
from flask import Flask, Response, current_app, request
from flask_jwt_extended.config import config as jwt_config
from flask_jwt_extended.default_callbacks import default_decode_key_callback
from flask_jwt_extended.tokens import _decode_jwt
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_smorest import Api as SmorestApi
from jwt import ExpiredSignatureError

from core.email_addresses import normalize_email


class Api(SmorestApi):
    """flask-smorest's Api, with three changes to its HTTP error handler: every error carries a
    `message` a person can read, every one but a field-by-field `422` an `errors.reason` like
    the domain's errors (`not_found`, `method_not_allowed`...), and Werkzeug's own headers
    (`Allow` on a 405) are kept."""

    def handle_http_exception(self, error):
        payload, status, headers = super().handle_http_exception(error)
        invalid_fields = status == 422 and "errors" in payload
        if "message" not in payload:
            payload["message"] = (
                "Some fields are invalid: see errors." if invalid_fields else error.description
            )
        if not invalid_fields:
            payload["errors"] = {"reason": _reason(error), **payload.get("errors", {})}
        merged = {name: value for name, value in error.get_headers() if name.lower() != "content-type"}
        merged.update(headers or {})
        return payload, status, merged


def _reason(error) -> str:
    """The machine name of an HTTP error: its status in snake case (`Method Not Allowed`)."""
    return error.name.lower().replace(" ", "_").replace("-", "_")


class JWTManager(flask_jwt_extended.JWTManager):
    """flask-jwt-extended's manager, verifying a token with one decode instead of three.

    The stock manager decodes every token unverified (claims, then header) only to hand them to
    a `decode_key_loader`, then decodes it again to verify it. Boxoffice signs with one key and
    sets no such loader, so the verified decode alone decides; on the booking endpoint the two
    extra decodes were a tenth of a request's CPU. An expired token, or a loader set after all,
    takes the stock path, which also builds what the expired-token callback receives.
    This leans on the library's internals (hence `<5` in setup.cfg);
    `tests/unit/test_jwt_manager.py` holds it to the stock manager's verdicts.
    """

    def _decode_jwt_from_config(self, encoded_token: str, csrf_value=None, allow_expired: bool = False):
        if self._decode_key_callback is not default_decode_key_callback:
            return super()._decode_jwt_from_config(encoded_token, csrf_value, allow_expired)
        try:
            return _decode_jwt(
                encoded_token=encoded_token, csrf_value=csrf_value, allow_expired=allow_expired,
                **_decode_settings(current_app._get_current_object()),
            )  # fmt: skip
        except ExpiredSignatureError:
            return super()._decode_jwt_from_config(encoded_token, csrf_value, allow_expired)


def _decode_settings(app: Flask) -> dict:
    """The app's settings for `_decode_jwt`, as flask-jwt-extended's `config` reads them from the
    app's config, read once per app (its `extensions`): `config` reads and converts each of them
    again at every call, about 10 µs of every request that carries a token. The JWT settings are
    set once, before the app serves (`api.auth.init_app`)."""
    settings = app.extensions.get("boxoffice_jwt_decode")
    if settings is None:
        settings = app.extensions["boxoffice_jwt_decode"] = {
            "algorithms": jwt_config.decode_algorithms,
            "audience": jwt_config.decode_audience,
            "identity_claim_key": jwt_config.identity_claim_key,
            "issuer": jwt_config.decode_issuer,
            "leeway": jwt_config.leeway,
            "secret": jwt_config.decode_key,
            "verify_aud": jwt_config.decode_audience is not None,
            "verify_sub": jwt_config.verify_sub,
        }
    return settings


def by_address() -> str:
    """The client's address: the peer's, or, behind `TRUSTED_PROXIES` proxies, the one the
    nearest of them put in `X-Forwarded-For` (ProxyFix in `create_app`). Never a token's claim:
    a bucket the client could name by sending a token is a bucket it could choose."""
    return f"ip:{get_remote_address()}"


def by_target_email() -> str:
    """The account an anonymous request is about: the email in its body (the address's bucket
    when it has none, and the schema then refuses the request anyway). A lone surrogate is
    escaped: the key must reach Redis for the schema to refuse the email with a 422."""
    body = request.get_json(silent=True)
    email = body.get("email") if isinstance(body, dict) else None
    if not isinstance(email, str):
        return by_address()
    return f"email:{normalize_email(email).encode('utf-8', 'backslashreplace').decode()}"


def _rate_limit_headers(response: Response) -> Response:
    """The limiter's `X-RateLimit-*` headers on every limited answer, and its `Retry-After` on
    a `429` only: on any other answer `Retry-After` is the view's (a booking's poll hint), which
    Flask-Limiter's own headers would overwrite with the window's reset."""
    current = limiter.current_limit if limiter.enabled else None
    if current is None:
        return response
    response.headers["X-RateLimit-Limit"] = str(current.limit.amount)
    response.headers["X-RateLimit-Remaining"] = str(current.remaining)
    response.headers["X-RateLimit-Reset"] = str(current.reset_at)
    if response.status_code == 429:
        response.headers["Retry-After"] = str(max(1, current.reset_at - int(time.time())))
    return response


def rate_limits(*decorators) -> list:
    """flask-limiter's `limit`/`shared_limit` decorators, as one entry of a view's `decorators`
    (applied in the same order), skipped outright while rate limits are off (`RATELIMIT_ENABLED`
    false, as `limiter.init_app` read it). Off, each of them would still ask the limiter for the
    request's limits and find none: on the booking endpoint, the only rush endpoint with limits,
    that was paid on every booking (docs/benchmarks.md, "The API's hooks")."""

    def decorator(view):
        limited = view
        for limit in decorators:
            limited = limit(limited)

        @functools.wraps(view)
        def checked(*args, **kwargs):
            return (limited if limiter.enabled else view)(*args, **kwargs)

        checked.has_rate_limits = True  # for `_has_no_rate_limits`
        return checked

    return [decorator]


def _has_no_rate_limits() -> bool:
    """Whether the request's view has none of the API's limits (no `rate_limits`): flask-limiter
    exempts it (`Limiter.request_filter`), instead of resolving in its hook before every request
    the limits of a route that has none, about half of the hook's cost (docs/benchmarks.md, "The
    API's hooks"). Limits for every route (default or application-wide limits), were any
    configured, exempt nothing."""
    manager = limiter.limit_manager
    if manager.default_limits or manager.application_limits:
        return False
    return not getattr(current_app.view_functions.get(request.endpoint), "has_rate_limits", False)


def init_limiter(app: Flask) -> None:
    # Flask runs after-request hooks last registered first: registered before the limiter's
    # own, this one reads the counts after the limiter deducted failed logins.
    app.after_request(_rate_limit_headers)
    limiter.init_app(app)


jwt = JWTManager()
# Each limit names its bucket (`key_func`); an unnamed one is the client address's.
limiter = Limiter(key_func=by_address, headers_enabled=False, strategy="fixed-window")
limiter.request_filter(_has_no_rate_limits)
