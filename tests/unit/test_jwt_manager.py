"""Our JWTManager verifies a token with one decode; it must decide as the stock one does.

The stock `_decode_jwt_from_config` is called on the same manager, so any difference (a token
accepted that the library would refuse, or with other claims, or an expired token told as
invalid) fails here, including after an upgrade of flask-jwt-extended or PyJWT. Only the
message of a refusal may differ: ours checks the signature before it parses the payload, so a
tampered token is refused as "Signature verification failed" instead of as unparsable.
"""

from __future__ import annotations

import datetime as dt
import uuid

import flask_jwt_extended
import jwt as pyjwt
import pytest
from flask_jwt_extended import create_access_token, create_refresh_token
from flask_jwt_extended.exceptions import JWTExtendedException

from api.extensions import jwt as manager


def _stock_decode(token: str, allow_expired: bool = False):
    return flask_jwt_extended.JWTManager._decode_jwt_from_config(manager, token, allow_expired=allow_expired)


def _outcome(decode, token: str, **kwargs):
    """The claims of an accepted token, or how it was refused (which decides the 401's reason)."""
    try:
        return decode(token, **kwargs)
    except pyjwt.ExpiredSignatureError:
        return "expired"
    except (pyjwt.InvalidTokenError, JWTExtendedException):
        return "invalid"


def _tokens(app) -> dict[str, str]:
    key = app.config["JWT_SECRET_KEY"]
    sub = str(uuid.uuid4())
    now = dt.datetime.now(dt.UTC)
    claims = {"sub": sub, "iat": now, "nbf": now, "jti": str(uuid.uuid4()), "type": "access", "fresh": False}
    access = create_access_token(identity=sub, additional_claims={"role": "customer", "sid": "s"})
    header, payload, signature = access.split(".")
    return {
        "access": access,
        "refresh": create_refresh_token(identity=sub),
        "expired": create_access_token(identity=sub, expires_delta=dt.timedelta(seconds=-60)),
        "not yet valid": pyjwt.encode({**claims, "nbf": now + dt.timedelta(hours=1)}, key, "HS256"),
        "no subject": pyjwt.encode({k: v for k, v in claims.items() if k != "sub"}, key, "HS256"),
        "other key": pyjwt.encode(claims, "another-secret-of-enough-length-" + "0" * 32, "HS256"),
        "tampered": f"{header}.{payload[:-2]}AA.{signature}",
        "unsigned": pyjwt.encode(claims, None, "none"),
        "other algorithm": pyjwt.encode(claims, key * 2, "HS512"),
        "garbage": "not.a.token",
        "bad base64": f"{header}.!!!!.{signature}",
    }


@pytest.mark.parametrize("allow_expired", [False, True])
def test_one_decode_answers_as_the_stock_manager(app, allow_expired):
    with app.app_context():
        for name, token in _tokens(app).items():
            ours = _outcome(manager._decode_jwt_from_config, token, allow_expired=allow_expired)
            stock = _outcome(_stock_decode, token, allow_expired=allow_expired)
            assert ours == stock, name


def test_valid_and_invalid_tokens_are_told_apart(app):
    """The comparison above would pass if both refused everything: check the verdicts too."""
    with app.app_context():
        tokens = _tokens(app)
        assert manager._decode_jwt_from_config(tokens["access"])["sid"] == "s"
        assert manager._decode_jwt_from_config(tokens["refresh"])["type"] == "refresh"
        for name in (
            "expired",
            "not yet valid",
            "no subject",
            "other key",
            "tampered",
            "unsigned",
            "garbage",
        ):
            with pytest.raises(Exception):  # noqa: B017 - the kind is compared with the stock one above
                manager._decode_jwt_from_config(tokens[name])


def test_expired_token_error_carries_what_the_callback_receives(app):
    with app.app_context(), pytest.raises(pyjwt.ExpiredSignatureError) as raised:
        manager._decode_jwt_from_config(_tokens(app)["expired"])
    assert raised.value.jwt_header["alg"] == "HS256"
    assert raised.value.jwt_data["type"] == "access"
