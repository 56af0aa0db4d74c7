"""Register, sign in, refresh, sign out, and who am I."""

from __future__ import annotations

from flask.views import MethodView
from flask_jwt_extended import jwt_required
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api.auth import current_actor, issue_tokens, reissue_access_token, revoke_current_session
from api.db import request_uow
from api.extensions import limiter
from api.input import InputSchema
from core import runtime
from core.services import accounts

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Accounts and tokens")


class RegisterIn(InputSchema):
    email = fields.Email(required=True, validate=validate.Length(max=320))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024), load_only=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))


class LoginIn(InputSchema):
    email = fields.String(required=True, validate=validate.Length(min=1, max=320))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024), load_only=True)


class UserOut(Schema):
    id = fields.UUID()
    email = fields.String()
    name = fields.String()
    role = fields.String()
    organization_id = fields.UUID(allow_none=True)


class TokensOut(Schema):
    access_token = fields.String()
    refresh_token = fields.String()
    token_type = fields.String()
    expires_in = fields.Integer()


def _login_limit() -> str:
    return runtime.settings().login_rate_limit


def _register_limit() -> str:
    return runtime.settings().register_rate_limit


@blp.route("/register")
class Register(MethodView):
    decorators = [limiter.limit(_register_limit, methods=["POST"])]

    @blp.arguments(RegisterIn())
    @blp.response(201, UserOut)
    def post(self, data):
        """Create a customer account."""
        return accounts.register_user(request_uow(), data["email"], data["password"], data["name"])


@blp.route("/login")
class Login(MethodView):
    decorators = [limiter.limit(_login_limit, methods=["POST"])]

    @blp.arguments(LoginIn())
    @blp.response(200, TokensOut)
    def post(self, data):
        """Exchange email and password for an access token and a refresh token."""
        user = accounts.authenticate(request_uow(), data["email"], data["password"])
        return issue_tokens(user)


@blp.route("/refresh")
class Refresh(MethodView):
    @jwt_required(refresh=True)
    @blp.response(200, TokensOut)
    def post(self):
        """A new access token for the session of the refresh token."""
        return reissue_access_token()


@blp.route("/logout")
class Logout(MethodView):
    @jwt_required(verify_type=False)
    @blp.response(204)
    def post(self):
        """Sign out: the session's access and refresh tokens stop working."""
        revoke_current_session()


@blp.route("/me")
class Me(MethodView):
    @jwt_required()
    @blp.response(200, UserOut)
    def get(self):
        """The signed-in account."""
        return current_actor()
