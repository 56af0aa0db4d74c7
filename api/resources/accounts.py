"""Register, sign in, refresh, sign out, who am I, and the ways back into an account: password
reset, email verification, password change.

The account endpoints are rate-limited per client address and per target (the email asked
about, or the signed-in account), never per the caller's token alone, so a second account does
not buy a fresh budget.
"""

from __future__ import annotations

from flask.views import MethodView
from flask_jwt_extended import jwt_required
from flask_smorest.error_handler import ErrorSchema
from marshmallow import Schema, fields, validate

from api.auth import (
    by_account,
    current_actor,
    current_session_id,
    current_user_id,
    issue_tokens,
    reissue_access_token,
    revoke_current_session,
)
from api.db import request_uow
from api.extensions import by_address, by_target_email, limiter, rate_limits
from api.input import InputSchema
from api.json_body import Blueprint
from api.resources import examples
from core import runtime
from core.services import accounts

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Accounts and tokens")


def _new_password() -> fields.String:
    return fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(min=accounts.MIN_PASSWORD_LENGTH, max=accounts.MAX_PASSWORD_LENGTH),
        metadata={
            "description": f"{accounts.MIN_PASSWORD_LENGTH} to {accounts.MAX_PASSWORD_LENGTH} characters, "
            "and not one of the most common passwords (refused with reason `common_password`)."
        },
    )


class RegisterIn(InputSchema):
    email = fields.Email(
        required=True,
        validate=validate.Length(max=320),
        metadata={
            "description": "The customer's email address: the login, and where tickets and mails go (up to 320 characters)."
        },
    )
    password = _new_password()
    name = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "The customer's name as printed on tickets (1 to 200 characters)."},
    )


class EmailIn(InputSchema):
    email = fields.Email(
        required=True,
        validate=validate.Length(max=320),
        metadata={
            "description": "The account's email address. The answer is the same whether or not an account has it."
        },
    )


class PasswordResetIn(InputSchema):
    token = fields.String(
        required=True,
        validate=validate.Length(min=1, max=500),
        metadata={"description": "The mailed reset code."},
    )
    password = _new_password()


class VerifyEmailIn(InputSchema):
    token = fields.String(
        required=True,
        validate=validate.Length(min=1, max=500),
        metadata={"description": "The mailed verification code."},
    )


class PasswordChangeIn(InputSchema):
    current_password = fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(min=1, max=1024),
        metadata={"description": "The password in use now."},
    )
    new_password = _new_password()


class MessageOut(Schema):
    message = fields.String(metadata={"description": "What happened, in a sentence for a person."})


class LoginIn(InputSchema):
    email = fields.String(
        required=True,
        validate=validate.Length(min=1, max=320),
        metadata={"description": "The account's email address."},
    )
    password = fields.String(
        required=True,
        validate=validate.Length(min=1, max=1024),
        load_only=True,
        metadata={"description": "The account's password."},
    )


class UserOut(Schema):
    id = fields.UUID(metadata={"description": "The account's id."})
    email = fields.String(metadata={"description": "The account's email address."})
    name = fields.String(metadata={"description": "The account holder's name."})
    role = fields.String(
        metadata={
            "description": "What the account may do: `customer` (books tickets), `staff` (checks tickets in at the door), `organizer` (runs its organization's events) or `admin` (everything)."
        }
    )
    organization_id = fields.UUID(
        allow_none=True,
        metadata={"description": "The organization a staff member or organizer works for; null when none."},
    )
    email_verified = fields.Function(
        lambda user: user.email_verified_at is not None,
        metadata={
            "description": "Whether the address was confirmed with the mailed code (`POST /api/v1/auth/verify-email`)."
        },
    )


class TokensOut(Schema):
    access_token = fields.String(
        metadata={"description": "The JWT to send as `Authorization: Bearer <access_token>`."}
    )
    refresh_token = fields.String(
        metadata={
            "description": "A longer-lived JWT that buys a new access token at `POST /api/v1/auth/refresh` once this one expires."
        }
    )
    token_type = fields.String(metadata={"description": "Always `Bearer`."})
    expires_in = fields.Integer(metadata={"description": "How long the access token is valid, in seconds."})


def _login_limit() -> str:
    return runtime.settings().login_rate_limit


def _register_limit() -> str:
    return runtime.settings().register_rate_limit


def _account_limit() -> str:
    return runtime.settings().account_rate_limit


def _login_failure_limit() -> str:
    return runtime.settings().login_failure_limit


def _limits(limit, *key_funcs) -> list:
    return [limiter.limit(limit, key_func=key_func, methods=["POST"]) for key_func in key_funcs]


def _failed(response) -> bool:
    return response.status_code == 401


CHECK_YOUR_MAIL = {"message": "Thank you. Check your mail: we sent what to do next to that address."}


@blp.route("/register")
class Register(MethodView):
    decorators = rate_limits(*_limits(_register_limit, by_address, by_target_email))

    @blp.arguments(RegisterIn(), example=examples.REGISTER)
    @blp.response(202, MessageOut)
    def post(self, data):
        """Create a customer account, then sign in with its email and password.

        The answer is the same whether or not the address already has an account, so that it
        cannot be used to find out who has one; a verification code goes to a new address, and
        an existing account's owner is told that someone tried to register.
        """
        accounts.register_customer(request_uow(), data["email"], data["password"], data["name"])
        return CHECK_YOUR_MAIL


@blp.route("/login")
class Login(MethodView):
    # Failed sign-ins are counted per account, whatever the address, and a success does not
    # forgive them: guessing a password is bounded, at the price that a guesser can keep the
    # owner out of password sign-in until the window ends (a password reset still works).
    decorators = rate_limits(
        *_limits(_login_limit, by_address, by_target_email),
        limiter.shared_limit(
            _login_failure_limit,
            "failed_login",
            key_func=by_target_email,
            methods=["POST"],
            deduct_when=_failed,
        ),
    )

    @blp.arguments(LoginIn(), example=examples.LOGIN)
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


@blp.route("/password-reset")
class PasswordReset(MethodView):
    decorators = rate_limits(*_limits(_account_limit, by_address, by_target_email))

    @blp.arguments(EmailIn(), example=examples.PASSWORD_RESET)
    @blp.response(202, MessageOut)
    def post(self, data):
        """Mail a password reset code. The same answer whether or not the address has an account."""
        accounts.request_password_reset(data["email"])
        return CHECK_YOUR_MAIL


@blp.route("/password-reset/confirm")
class PasswordResetConfirm(MethodView):
    decorators = rate_limits(*_limits(_account_limit, by_address))

    @blp.arguments(PasswordResetIn(), example=examples.PASSWORD_RESET_CONFIRM)
    @blp.response(204)
    def post(self, data):
        """Set a new password with a mailed reset code (once, before it expires); every session
        of the account is signed out."""
        accounts.reset_password(request_uow(), data["token"], data["password"])


@blp.route("/verify-email")
class VerifyEmail(MethodView):
    decorators = rate_limits(*_limits(_account_limit, by_address))

    @blp.arguments(VerifyEmailIn(), example=examples.VERIFY_EMAIL)
    @blp.response(200, UserOut)
    @blp.alt_response(409, schema=ErrorSchema, description="Verified already (`email_already_verified`).")
    def post(self, data):
        """Confirm an address with its mailed verification code. Refresh the access token
        afterwards: its claims say whether the address is verified."""
        return accounts.verify_email(request_uow(), data["token"])


@blp.route("/verify-email/resend")
class ResendVerification(MethodView):
    decorators = rate_limits(*_limits(_account_limit, by_address, by_account))

    @jwt_required()
    @blp.response(202, MessageOut)
    def post(self):
        """Mail the signed-in account a new verification code."""
        accounts.resend_verification(request_uow(), current_user_id())
        return CHECK_YOUR_MAIL


@blp.route("/password")
class PasswordChange(MethodView):
    decorators = rate_limits(*_limits(_account_limit, by_address, by_account))

    @jwt_required()
    @blp.arguments(PasswordChangeIn(), example=examples.PASSWORD_CHANGE)
    @blp.response(204)
    def post(self, data):
        """Change the signed-in account's password; its other sessions are signed out, this one
        stays signed in."""
        accounts.change_password(
            request_uow(),
            current_user_id(),
            data["current_password"],
            data["new_password"],
            session_id=current_session_id(),
        )
