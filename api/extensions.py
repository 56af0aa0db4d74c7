"""The Flask extensions, created once and bound to the app in `create_app()`."""

from __future__ import annotations

import flask_jwt_extended
from flask_jwt_extended import get_jwt_identity, verify_jwt_in_request
from flask_jwt_extended.config import config as jwt_config
from flask_jwt_extended.default_callbacks import default_decode_key_callback
from flask_jwt_extended.tokens import _decode_jwt
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_smorest import Api as SmorestApi
from jwt import ExpiredSignatureError


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
                algorithms=jwt_config.decode_algorithms,
                allow_expired=allow_expired,
                audience=jwt_config.decode_audience,
                csrf_value=csrf_value,
                encoded_token=encoded_token,
                identity_claim_key=jwt_config.identity_claim_key,
                issuer=jwt_config.decode_issuer,
                leeway=jwt_config.leeway,
                secret=jwt_config.decode_key,
                verify_aud=jwt_config.decode_audience is not None,
                verify_sub=jwt_config.verify_sub,
            )
        except ExpiredSignatureError:
            return super()._decode_jwt_from_config(encoded_token, csrf_value, allow_expired)


def _rate_limit_key() -> str:
    """Signed-in clients are limited per account, others per address.

    Picking the bucket needs a genuine token, not a live session: the endpoint itself refuses
    a signed-out session, so the revocation round trip is not paid twice.
    """
    try:
        verify_jwt_in_request(optional=True, skip_revocation_check=True)
        identity = get_jwt_identity()
    except Exception:  # a bad token is the auth layer's business, not the limiter's
        identity = None
    return f"user:{identity}" if identity else f"ip:{get_remote_address()}"


jwt = JWTManager()
limiter = Limiter(key_func=_rate_limit_key, headers_enabled=True, strategy="fixed-window")
