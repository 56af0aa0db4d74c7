"""Domain errors: one base carrying a stable machine name, a message a person can act on, and
the HTTP status the API answers with. The API renders them in one place."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a service raises on purpose."""

    status_code = 400
    name = "bad_request"

    def __init__(self, message: str, *, name: str | None = None, details: dict | None = None):
        super().__init__(message)
        self.message = message
        if name is not None:
            self.name = name
        self.details = details or {}


class NotFound(DomainError):
    status_code = 404
    name = "not_found"


class Forbidden(DomainError):
    status_code = 403
    name = "forbidden"


class Unauthorized(DomainError):
    status_code = 401
    name = "unauthorized"


class Conflict(DomainError):
    status_code = 409
    name = "conflict"


class Invalid(DomainError):
    """Well-formed input that breaks a rule (a 422, like flask-smorest's validation errors)."""

    status_code = 422
    name = "invalid"


class InvalidVoucher(Invalid):
    """A voucher code that cannot be used, whatever the reason: unknown, another event's, not
    yet or no longer valid, disabled, used up, or for other ticket types. One message and one
    name for all of them, so that a guess learns "no" and nothing more (docs/security.md)."""

    name = "invalid_voucher"

    def __init__(self) -> None:
        super().__init__("This code cannot be used for this event.")


class PreconditionFailed(DomainError):
    status_code = 412
    name = "precondition_failed"


class PreconditionRequired(DomainError):
    status_code = 428
    name = "precondition_required"


class Unavailable(DomainError):
    """Something outside our system (the payment provider) cannot serve the request right now."""

    status_code = 503
    name = "unavailable"


class NotSupported(DomainError):
    """A feature this deployment's database cannot serve (a 501, with the reason)."""

    status_code = 501
    name = "not_supported"
