"""A local stand-in for the parts of Stripe's API that Boxoffice calls, on Stripe's wire format,
with helpers that play the customer and sign webhooks exactly as Stripe does.

The suite's conftest loads this module as a plugin: ask for the `stripe_stub` fixture and point
the SDK at `stripe_stub.url` with `TEST_SECRET_KEY`.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import re
import secrets
import socket
import string
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import stripe

TEST_SECRET_KEY = "sk_test_boxoffice_stub"
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
MIN_SESSION_LIFETIME = 30 * 60
MAX_SESSION_LIFETIME = 24 * 60 * 60

_ID_ALPHABET = string.ascii_letters + string.digits
_KEY_PART = re.compile(r"\[([^\[\]]*)\]")


def sign_webhook(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header Stripe sends with `payload`: HMAC-SHA256 of "{t}.{payload}"."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256)
    return f"t={t},v1={mac.hexdigest()}"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    params: dict[str, Any]
    idempotency_key: str | None
    status: int
    replayed: bool


class ApiError(Exception):
    """An error answer in Stripe's shape: `{"error": {"type", "code", "message", "param"}}`."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.body = {"error": {"type": type_, "code": code, "message": message, "param": param}}


class _Rejected(ApiError):
    """Refused before the endpoint ran (bad credentials or parameters, trouble at Stripe's edge):
    Stripe saves no idempotent result for it, so the same key may be used again."""


@dataclass
class _Failure:
    path_prefix: str
    status: int
    times: int


@dataclass(frozen=True)
class _Saved:
    method: str
    path: str
    params: dict[str, Any]
    status: int
    body: dict[str, Any]


class StripeStub:
    """The fake Stripe. Its state lives in plain dicts (`sessions`, `payment_intents`,
    `refunds`) shaped like Stripe's objects; `requests` records every call it received."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.reset()

    # Lifecycle

    def start(self) -> None:
        handler = type("Handler", (_StubRequestHandler,), {"stub": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="stripe-stub", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    @property
    def url(self) -> str:
        assert self._server is not None, "the stub is not running"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def reset(self) -> None:
        with self._lock:
            self.sessions: dict[str, dict[str, Any]] = {}
            self.payment_intents: dict[str, dict[str, Any]] = {}
            self.refunds: dict[str, dict[str, Any]] = {}
            self.requests: list[RecordedRequest] = []
            self.events: list[dict[str, Any]] = []
            # What a new refund reports; Stripe says `pending` for some payment methods.
            self.refund_status = "succeeded"
            self._payment_intent_data: dict[str, dict[str, Any]] = {}
            self._refunded: dict[str, int] = {}
            self._saved: dict[str, _Saved] = {}
            self._failures: list[_Failure] = []
            # Called with (method, path) as each request arrives, before it is answered, on the
            # stub's thread while the caller waits: a test can look at the caller's state then.
            self.observers: list[Callable[[str, str], None]] = []

    # Test controls

    def fail_next(self, path_prefix: str, status: int = 500, times: int = 1) -> None:
        """Answer the next `times` requests whose path starts with `path_prefix` with `status`.

        Such a failure stands for trouble in front of Stripe's API (a 5xx from its edge, a rate
        limit), so no idempotent result is saved and a retry with the same key goes through.
        """
        with self._lock:
            self._failures.append(_Failure(path_prefix, status, times))

    def requests_to(self, method: str, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and r.path == path]

    def complete_session(self, session_id: str) -> dict[str, Any]:
        """The customer pays: the session completes with a succeeded payment intent. Returns
        the `checkout.session.completed` event Stripe would send."""
        with self._lock:
            session = self._open_session(session_id)
            self._pay(session)
            return self._event("checkout.session.completed", session)

    def start_async_payment(self, session_id: str) -> dict[str, Any]:
        """The customer pays with a delayed method (a bank debit): the session completes unpaid.
        Returns the `checkout.session.completed` event."""
        with self._lock:
            session = self._open_session(session_id)
            session.update(status="complete", url=None, customer_details={"email": session["customer_email"]})
            return self._event("checkout.session.completed", session)

    def finish_async_payment(self, session_id: str, succeeded: bool) -> dict[str, Any]:
        """The delayed payment clears or fails. Returns the matching `async_payment_*` event."""
        with self._lock:
            session = self.sessions[session_id]
            if succeeded:
                self._pay(session)
                return self._event("checkout.session.async_payment_succeeded", session)
            return self._event("checkout.session.async_payment_failed", session)

    def charge_refunded_event(self, intent_id: str) -> dict[str, Any]:
        """The `charge.refunded` event Stripe sends once refunds of the payment have gone through."""
        with self._lock:
            intent = self.payment_intents[intent_id]
            refunded = self._refunded[intent_id]
            charge = {
                "id": intent["latest_charge"],
                "object": "charge",
                "amount": intent["amount_received"],
                "amount_refunded": refunded,
                "currency": intent["currency"],
                "payment_intent": intent_id,
                "refunded": refunded == intent["amount_received"],
            }
            return self._event("charge.refunded", charge)

    def _pay(self, session: dict[str, Any]) -> None:
        """Called with the lock held: a succeeded payment intent, and the session paid by it."""
        intent_id = _new_id("pi_")
        self.payment_intents[intent_id] = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": session["amount_total"],
            "amount_received": session["amount_total"],
            "currency": session["currency"],
            "status": "succeeded",
            "latest_charge": _new_id("ch_"),
            "metadata": dict(self._payment_intent_data[session["id"]].get("metadata", {})),
            "created": int(time.time()),
            "livemode": False,
        }
        self._refunded[intent_id] = 0
        session.update(
            status="complete",
            payment_status="paid",
            payment_intent=intent_id,
            url=None,
            customer_details={"email": session["customer_email"]},
        )

    def expire_session(self, session_id: str) -> dict[str, Any]:
        """The session runs out on Stripe's side. Returns the `checkout.session.expired` event."""
        with self._lock:
            session = self._open_session(session_id)
            session.update(status="expired", url=None)
            return self._event("checkout.session.expired", session)

    def _open_session(self, session_id: str) -> dict[str, Any]:
        session = self.sessions[session_id]
        if session["status"] != "open":
            raise ValueError(f"session {session_id} is {session['status']}, not open")
        return session

    def _event(self, type_: str, obj: dict[str, Any]) -> dict[str, Any]:
        event = {
            "id": _new_id("evt_"),
            "object": "event",
            "api_version": stripe.api_version,
            "created": int(time.time()),
            "data": {"object": copy.deepcopy(obj)},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": type_,
        }
        self.events.append(event)
        return copy.deepcopy(event)

    # Request handling

    def handle(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        params: dict[str, Any] | ApiError,
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Answer one API call: (status, JSON body, extra headers)."""
        key = headers.get("idempotency-key")
        for observe in list(self.observers):
            observe(method, path)
        with self._lock:
            status, body, replayed = self._answer(method, path, headers, params, key)
            # Copied under the lock: the body may be a live object another request changes.
            body = copy.deepcopy(body)
            self.requests.append(
                RecordedRequest(
                    method=method,
                    path=path,
                    params=params if isinstance(params, dict) else {},
                    idempotency_key=key,
                    status=status,
                    replayed=replayed,
                )
            )
        extra = {"Request-Id": _new_id("req_")}
        if key:
            extra["Idempotency-Key"] = key
        if replayed:
            extra["Idempotent-Replayed"] = "true"
        return status, body, extra

    def _answer(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        params: dict[str, Any] | ApiError,
        key: str | None,
    ) -> tuple[int, dict[str, Any], bool]:
        try:
            _check_api_key(headers.get("authorization", ""))
            self._injected_failure(path)
            if isinstance(params, ApiError):
                raise params
            # Stripe ignores idempotency keys on GET: reading is always safe to repeat.
            if key and method == "POST" and key in self._saved:
                return self._replay(self._saved[key], method, path, params)
            status, body = 200, self._route(method, path, params)
        except _Rejected as exc:
            return exc.status, exc.body, False
        except ApiError as exc:
            status, body = exc.status, exc.body
        if key and method == "POST":
            self._saved[key] = _Saved(method, path, params, status, copy.deepcopy(body))
        return status, body, False

    def _injected_failure(self, path: str) -> None:
        for failure in self._failures:
            if path.startswith(failure.path_prefix) and failure.times > 0:
                failure.times -= 1
                if failure.status == 429:
                    raise _Rejected(
                        429,
                        "Request rate limit exceeded. Learn more about rate limits here "
                        "https://stripe.com/docs/rate-limits.",
                        code="rate_limit",
                    )
                raise _Rejected(
                    failure.status,
                    "An unknown error occurred",
                    type_="api_error" if failure.status >= 500 else "invalid_request_error",
                )

    @staticmethod
    def _replay(
        saved: _Saved, method: str, path: str, params: dict[str, Any]
    ) -> tuple[int, dict[str, Any], bool]:
        if (saved.method, saved.path) != (method, path):
            raise _Rejected(
                400,
                "Keys for idempotent requests can only be used for the same endpoint they were "
                f"first used for ('{saved.method} {saved.path}' vs '{method} {path}').",
                type_="idempotency_error",
            )
        if saved.params != params:
            raise _Rejected(
                400,
                "Keys for idempotent requests can only be used with the same parameters they "
                "were first used with. Try using a key other than the one you sent if you meant "
                "to execute a different request.",
                type_="idempotency_error",
            )
        return saved.status, saved.body, True

    def _route(self, method: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
        parts = path.strip("/").split("/")
        match method, parts:
            case "POST", ["v1", "checkout", "sessions"]:
                return self._create_session(params)
            case "GET", ["v1", "checkout", "sessions", session_id]:
                return self._find(self.sessions, session_id, "checkout.session", "session")
            case "POST", ["v1", "checkout", "sessions", session_id, "expire"]:
                return self._expire_session(session_id)
            case "POST", ["v1", "refunds"]:
                return self._create_refund(params)
            case "GET", ["v1", "payment_intents", intent_id]:
                return self._find(self.payment_intents, intent_id, "payment_intent", "intent")
        raise ApiError(
            404,
            f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
            "or we can help at https://support.stripe.com/.",
        )

    @staticmethod
    def _find(objects: dict[str, Any], id_: str, name: str, param: str) -> dict[str, Any]:
        if id_ not in objects:
            raise ApiError(404, f"No such {name}: '{id_}'", code="resource_missing", param=param)
        return objects[id_]

    def _create_session(self, params: dict[str, Any]) -> dict[str, Any]:
        now = int(time.time())
        currency, amount_total = _validate_session(params, now)
        session_id = _new_id("cs_test_", 58)
        session = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": amount_total,
            "amount_total": amount_total,
            "cancel_url": params.get("cancel_url"),
            "client_reference_id": params.get("client_reference_id"),
            "created": now,
            "currency": currency,
            "customer_details": None,
            "customer_email": params.get("customer_email"),
            "expires_at": int(params.get("expires_at", now + MAX_SESSION_LIFETIME)),
            "livemode": False,
            "metadata": dict(params.get("metadata", {})),
            "mode": "payment",
            # Since API version 2022-08-01 the payment intent appears only once the customer
            # pays.
            "payment_intent": None,
            "payment_status": "unpaid" if amount_total else "no_payment_required",
            "status": "open",
            "success_url": params.get("success_url"),
            "url": f"https://checkout.stripe.com/c/pay/{session_id}",
        }
        self.sessions[session_id] = session
        self._payment_intent_data[session_id] = params.get("payment_intent_data", {})
        return session

    def _expire_session(self, session_id: str) -> dict[str, Any]:
        session = self._find(self.sessions, session_id, "checkout.session", "session")
        if session["status"] != "open":
            raise ApiError(
                400,
                'Only Checkout Sessions with a status in ["open"] can be expired. This Checkout '
                f'Session has a status of "{session["status"]}".',
            )
        session.update(status="expired", url=None)
        return session

    def _create_refund(self, params: dict[str, Any]) -> dict[str, Any]:
        intent_id = params.get("payment_intent")
        if not intent_id:
            raise _Rejected(
                400,
                "One of `charge` or `payment_intent` is required.",
                code="parameter_missing",
            )
        reason = params.get("reason")
        if reason is not None and reason not in REFUND_REASONS:
            raise _Rejected(
                400,
                "Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer",
                code="parameter_invalid_string",
                param="reason",
            )
        amount = _positive_int(params["amount"], "amount") if "amount" in params else None
        intent = self._find(self.payment_intents, intent_id, "payment_intent", "payment_intent")
        if intent["status"] != "succeeded":
            raise ApiError(
                400,
                f"This PaymentIntent ({intent_id}) does not have a successful charge to refund.",
            )
        refundable = intent["amount_received"] - self._refunded[intent_id]
        if refundable == 0:
            raise ApiError(
                400,
                f"Charge {intent['latest_charge']} has already been refunded.",
                code="charge_already_refunded",
            )
        if amount is None:
            amount = refundable
        if amount > refundable:
            raise ApiError(
                400,
                f"Refund amount ({amount}) is greater than unrefunded amount on charge ({refundable})",
                code="amount_too_large",
                param="amount",
            )
        self._refunded[intent_id] += amount
        refund_id = _new_id("re_")
        self.refunds[refund_id] = {
            "id": refund_id,
            "object": "refund",
            "amount": amount,
            "charge": intent["latest_charge"],
            "created": int(time.time()),
            "currency": intent["currency"],
            "metadata": dict(params.get("metadata", {})),
            "payment_intent": intent_id,
            "reason": reason,
            "status": self.refund_status,
        }
        return self.refunds[refund_id]


class _StubRequestHandler(BaseHTTPRequestHandler):
    stub: StripeStub

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        url = urlsplit(self.path)
        if self.command == "POST":
            length = int(self.headers.get("Content-Length") or 0)
            form = self.rfile.read(length).decode()
        else:
            form = url.query
        try:
            params: dict[str, Any] | ApiError = parse_form(form)
        except ApiError as exc:
            params = exc
        headers = {name.lower(): value for name, value in self.headers.items()}
        status, body, extra = self.stub.handle(self.command, url.path, headers, params)
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet; the stub's `requests` list is the log."""


def parse_form(form: str) -> dict[str, Any]:
    """Decode Stripe's bracket-keyed form encoding (`a[b][0][c]=v`) into nested dicts and lists.
    Values stay strings, as they arrive at Stripe."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(form, keep_blank_values=True):
        head, _, rest = key.partition("[")
        path = [head, *_KEY_PART.findall("[" + rest)] if rest else [head]
        if not head or (rest and "".join(f"[{p}]" for p in path[1:]) != "[" + rest):
            raise _Rejected(400, f"Invalid parameter name: {key}")
        node = root
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise _Rejected(400, f"Invalid hash: {key}")
        if isinstance(node.get(path[-1]), dict):
            raise _Rejected(400, f"Invalid hash: {key}")
        node[path[-1]] = value
    return _with_lists(root)


def _with_lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    items = {k: _with_lists(v) for k, v in node.items()}
    if items and all(k.isdigit() for k in items):
        if sorted(int(k) for k in items) != list(range(len(items))):
            raise _Rejected(400, "Invalid array")
        return [items[str(i)] for i in range(len(items))]
    return items


def _validate_session(params: dict[str, Any], now: int) -> tuple[str, int]:
    """Refuse a Checkout Session Stripe would refuse; return its currency and total."""
    if "mode" not in params:
        raise _Rejected(400, "Missing required param: mode.", code="parameter_missing", param="mode")
    if params["mode"] != "payment":
        raise _Rejected(
            400,
            "This stub only supports mode=payment.",
            code="parameter_invalid_string",
            param="mode",
        )
    lines = params.get("line_items")
    if not lines:
        raise _Rejected(
            400,
            "Missing required param: line_items.",
            code="parameter_missing",
            param="line_items",
        )
    if not isinstance(lines, list):
        raise _Rejected(400, "Invalid array", param="line_items")
    currencies = set()
    total = 0
    for i, line in enumerate(lines):
        where = f"line_items[{i}]"
        price_data = line.get("price_data") if isinstance(line, dict) else None
        if not isinstance(price_data, dict):
            raise _Rejected(
                400,
                f"You must specify either `price` or `price_data` in `{where}`.",
                code="parameter_missing",
                param=f"{where}[price_data]",
            )
        _require(price_data, "currency", f"{where}[price_data]")
        _require(price_data, "unit_amount", f"{where}[price_data]")
        product_data = price_data.get("product_data")
        if not isinstance(product_data, dict) or not product_data.get("name"):
            raise _Rejected(
                400,
                f"Missing required param: {where}[price_data][product_data][name].",
                code="parameter_missing",
                param=f"{where}[price_data][product_data][name]",
            )
        if "quantity" not in line:
            raise _Rejected(
                400,
                f"Quantity is required. Add `quantity` to `{where}`.",
                code="parameter_missing",
                param=f"{where}[quantity]",
            )
        unit_amount = _non_negative_int(price_data["unit_amount"], f"{where}[price_data][unit_amount]")
        quantity = _positive_int(line["quantity"], f"{where}[quantity]")
        currencies.add(price_data["currency"])
        total += unit_amount * quantity
    if len(currencies) > 1:
        raise _Rejected(400, "All line items must use the same currency.", param="line_items")
    if "expires_at" in params:
        expires_at = _non_negative_int(params["expires_at"], "expires_at")
        if expires_at < now + MIN_SESSION_LIFETIME:
            raise _Rejected(
                400,
                "The `expires_at` timestamp must be at least 30 minutes from Checkout Session creation.",
                code="parameter_invalid_integer",
                param="expires_at",
            )
        if expires_at > now + MAX_SESSION_LIFETIME:
            raise _Rejected(
                400,
                "The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.",
                code="parameter_invalid_integer",
                param="expires_at",
            )
    for url_param in ("success_url", "cancel_url"):
        if url_param in params and not re.match(r"https?://[^/\s]+", params[url_param]):
            raise _Rejected(400, "Not a valid URL", code="url_invalid", param=url_param)
    email = params.get("customer_email")
    if email is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise _Rejected(
            400,
            f"Invalid email address: {email}",
            code="email_invalid",
            param="customer_email",
        )
    return currencies.pop(), total


def _require(params: dict[str, Any], name: str, where: str) -> None:
    if name not in params:
        raise _Rejected(
            400,
            f"Missing required param: {where}[{name}].",
            code="parameter_missing",
            param=f"{where}[{name}]",
        )


def _non_negative_int(value: Any, param: str) -> int:
    if not isinstance(value, str) or not value.isdigit():
        raise _Rejected(
            400,
            f"Invalid integer: {value}",
            code="parameter_invalid_integer",
            param=param,
        )
    return int(value)


def _positive_int(value: Any, param: str) -> int:
    number = _non_negative_int(value, param)
    if number == 0:
        raise _Rejected(
            400,
            f"Invalid positive integer: {value}",
            code="parameter_invalid_integer",
            param=param,
        )
    return number


def _check_api_key(authorization: str) -> None:
    scheme, _, key = authorization.partition(" ")
    if scheme != "Bearer" or not key:
        raise _Rejected(
            401,
            "You did not provide an API key. You need to provide your API key in the "
            "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
        )
    if not key.startswith("sk_test_"):
        raise _Rejected(401, f"Invalid API Key provided: {key[:8]}***", code="api_key_invalid")


def _new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


@pytest.fixture(scope="session")
def stripe_stub_server() -> Iterator[StripeStub]:
    stub = StripeStub()
    stub.start()
    yield stub
    stub.stop()


@pytest.fixture
def stripe_stub(stripe_stub_server: StripeStub) -> StripeStub:
    """The running stub, emptied of everything earlier tests did."""
    stripe_stub_server.reset()
    return stripe_stub_server


def unused_port() -> int:
    """A local port with nothing listening on it, for testing refused connections."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
