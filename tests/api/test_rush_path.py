"""The rush path (`api.rush_path`) answers exactly as the decorated views it stands in front of.

The same generated requests (seeded: a failure replays) go to two apps built from the same
settings: one with the lean path (the default) and one with `lean_rush_path=False`, which
serves the fully decorated views alone. Each pair starts from the same Redis (the state before
the first call is put back before the second), the same clock and the same new booking id, and
must get the same status, the same headers and the same body, and leave the same Redis and send
the same jobs behind it. Tokens of every kind (expired, not yet valid, another key, `none`,
`HS512`, RS256 and an RS256 header over an HMAC, claims missing or mistyped, a signed-out
session, a refresh token, a subject that is not an account), `Authorization` headers of every
shape, bodies of every kind (fields missing, wrongly typed, unknown, a lone surrogate, over the
size limit, nested too deep, not JSON, another content type), `wait` of every kind, and
bookings queued, in a waiting room, held, waitlisted, rejected and confirmed, the customer's own
and other customers'.

Nothing is left out of the comparison. What two runs of one request would draw anew, the new
booking's id and the request id made up for a request without a well-formed `X-Request-ID`
(`core.request_ids`), is drawn the same for both runs of a pair, on the same frozen clock; so
both must echo the same `X-Request-ID`, and record it alike with the queued request. The test
client adds no `Date` (a server does, outside the app).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import random
import types
import uuid
from contextlib import ExitStack

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import g, request_finished
from jwt.utils import base64url_encode

from api import auth, create_app
from api.extensions import limiter
from api.resources import bookings as booking_views
from core import event_snapshots, request_ids, runtime, sessions
from core.models import Voucher, utcnow
from core.services import booking_updates
from core.services import bookings as booking_service
from tests.faults import app_on
from tests.integration.booking_helpers import drain
from tests.waiting_room_helpers import add_waiting_room

SEED = 20_261_207
REQUESTS = {"post": 520, "get": 400, "events": 120}
WELL_FORMED_ID = "rush-{:06d}"


# --- the two apps -------------------------------------------------------------------------------


@pytest.fixture()
def apps(settings, app):
    """(lean, decorated): two apps of the same settings, but for the switch; customers must
    have verified their address, so that the token's claims decide a 403 too."""
    with ExitStack() as stack:
        lean = create_app(dataclasses.replace(settings, require_verified_email=True))
        decorated = stack.enter_context(
            app_on(settings, app, require_verified_email=True, lean_rush_path=False)
        ).application
        assert lean.config["LEAN_RUSH_PATH"] and not decorated.config["LEAN_RUSH_PATH"]
        stack.callback(limiter.init_app, app)
        yield lean, decorated


# --- the world the requests are about ------------------------------------------------------------


@dataclasses.dataclass
class World:
    key: str
    customer: object
    other_customer: object
    organizer: object
    stranger_organizer: object
    admin: object
    events: dict
    bookings: dict
    revoked_sid: str
    rsa_key: object


def _world(settings, db, make_event, make_user, make_organization, organizer) -> World:
    customer, other = make_user(), make_user()
    open_event = make_event(organizer, quota=200, ticket_types=[
        {"name": "Standard", "price": 2500, "quota": 200},
        {"name": "Backstage", "price": 9000, "quota": 10, "hidden": True},
    ])  # fmt: skip
    events = {
        "open": open_event,
        "free": make_event(organizer, price=0, quota=50),
        "sold out": make_event(organizer, quota=0),
        "draft": make_event(organizer, status="draft"),
        "cancelled": make_event(organizer, status="cancelled"),
        "room": make_event(organizer, quota=50),
    }
    with db.unit_of_work() as uow:
        uow.session.add(Voucher(event_id=open_event.id, code="SAVE20NOW", discount_percent=20, max_redemptions=5,
                                redeemed=0, ticket_type_ids=[], unlocks_hidden=True))  # fmt: skip
        uow.commit()
    add_waiting_room(db, events["room"])

    def ask(user, event, join_waitlist=False):
        ask = booking_service.BookingAsk(
            event.id, (booking_service.Line(event.ticket_types[0].id, 1),), join_waitlist
        )
        return booking_service.request_booking(db, user.id, ask, session_id="s")["id"]

    found = {
        "held": ask(customer, open_event),
        "others held": ask(other, open_event),
        "confirmed": ask(customer, events["free"]),
        "waitlisted": ask(customer, events["sold out"], join_waitlist=True),
        "rejected": ask(other, events["sold out"]),
    }
    for event in ("open", "free", "sold out"):
        drain(events[event])
    found |= {
        "queued": ask(customer, open_event),
        "others queued": ask(other, open_event),
        "in the room": ask(customer, events["room"]),
        "unknown": uuid.uuid4(),
    }
    revoked = uuid.uuid4().hex
    sessions.revoke_session(revoked)
    return World(
        key=settings.jwt_secret_key, customer=customer, other_customer=other, organizer=organizer,
        stranger_organizer=make_user("organizer", make_organization("Elsewhere")), admin=make_user("admin"),
        events=events, bookings=found, revoked_sid=revoked,
        rsa_key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
    )  # fmt: skip


# --- generated requests -----------------------------------------------------------------------


def _claims(world: World, user, rng: random.Random) -> dict:
    now = int(dt.datetime.now(dt.UTC).timestamp())
    return {"fresh": False, "iat": now, "jti": str(uuid.uuid4()), "type": "access", "sub": str(user.id),
            "nbf": now, "exp": now + 900, "role": user.role, "sid": uuid.uuid4().hex,
            "email_verified": rng.random() < 0.9}  # fmt: skip


def _sign(world: World, claims: dict, algorithm: str = "HS256", key=None) -> str:
    return pyjwt.encode(claims, world.key if key is None else key, algorithm=algorithm)


def _hmac_under_rs256_header(world: World, claims: dict) -> str:
    """RS/HS confusion the other way round: a header naming RS256 over an HMAC made with our key."""
    segments = [
        base64url_encode(json.dumps(part).encode()) for part in ({"alg": "RS256", "typ": "JWT"}, claims)
    ]
    signing_input = b".".join(segments)
    signature = base64url_encode(hmac.new(world.key.encode(), signing_input, hashlib.sha256).digest())
    return (signing_input + b"." + signature).decode()


MISSING = ("exp", "sid", "sub", "type", "jti", "iat", "nbf", "role", "email_verified", "fresh")
MISTYPED = {
    "sub": [123, "not-an-account", str(uuid.UUID(int=7)), "", None],
    "exp": ["soon", 1.5e12, None],
    "sid": [5, "", None, ["a"]],
    "type": [5, "refresh", "id", ""],
    "iat": ["x", 4102444800],
    "nbf": ["x", None],
    "role": [7, "organizer", "admin", None],
    "email_verified": ["yes", 0, None],
    "fresh": ["no", 1],
}


def _token(world: World, rng: random.Random) -> tuple[str, str]:
    """(what it is, the token) for one request; most are a customer's own good token."""
    user = rng.choice([world.customer] * 6 + [world.other_customer, world.organizer, world.stranger_organizer,
                                              world.admin])  # fmt: skip
    claims = _claims(world, user, rng)
    kind = rng.choices(
        ["valid", "expired", "not yet valid", "other key", "none", "HS512", "RS256", "RS256 header over HMAC",
         "missing", "mistyped", "revoked", "refresh", "garbage", "tampered", "truncated"],
        weights=[40, 3, 3, 3, 2, 2, 2, 2, 8, 14, 3, 3, 2, 2, 2],
    )[0]  # fmt: skip
    if kind == "expired":
        claims["exp"] = claims["iat"] - rng.choice([1, 60, 86400])
    elif kind == "not yet valid":
        claims["nbf"] = claims["iat"] + rng.choice([30, 3600])
    elif kind == "missing":
        name = rng.choice(MISSING)
        del claims[name]
        kind = f"without {name}"
    elif kind == "mistyped":
        name = rng.choice(list(MISTYPED))
        claims[name] = rng.choice(MISTYPED[name])
        kind = f"{name}={claims[name]!r}"
    elif kind == "revoked":
        claims["sid"] = world.revoked_sid
    elif kind == "refresh":
        claims["type"] = "refresh"
    signed = {
        "other key": lambda: _sign(world, claims, key="another-secret-of-enough-length-" + "0" * 32),
        "none": lambda: _sign(world, claims, "none", key=""),
        "HS512": lambda: _sign(world, claims, "HS512"),
        "RS256": lambda: _sign(world, claims, "RS256", key=world.rsa_key),
        "RS256 header over HMAC": lambda: _hmac_under_rs256_header(world, claims),
        "garbage": lambda: rng.choice(["not.a.token", "x", "a.b.c.d", "!!!.@@@.###", "é.é.é"]),
    }.get(kind, lambda: _sign(world, claims))()
    if kind == "tampered":
        header, payload, signature = signed.split(".")
        signed = f"{header}.{payload[:-3]}AAA.{signature}"
    elif kind == "truncated":
        signed = signed[: rng.randrange(1, len(signed))]
    return f"{kind} token of {user.role}", signed


def _authorization(token: str, rng: random.Random) -> tuple[str, str | None]:
    shape = rng.choices(
        ["Bearer {}", None, "bearer {}", "Bearer", "Bearer  {}", " Bearer {}", "Bearer {},", "Bearer {}, Basic eA==",
         "Basic eA==, Bearer {}", "Bearer {} extra", "Token {}", "Bearer\t{}", "Bearer {} "],
        weights=[80, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
    )[0]  # fmt: skip
    return (shape or "no Authorization"), (None if shape is None else shape.format(token))


def _body(world: World, rng: random.Random) -> tuple[str, dict]:
    """(what it is, the test client's body arguments) of a booking request."""
    event = world.events[rng.choice(["open"] * 6 + ["free", "sold out", "draft", "cancelled", "room"] * 2)]
    standard, hidden = str(event.ticket_types[0].id), str(world.events["open"].ticket_types[1].id)
    item = {"ticket_type_id": standard, "quantity": rng.choice([1, 1, 2, 4])}
    good = {"event_id": str(event.id), "items": [item]}
    for name, value in (("join_waitlist", rng.choice([True, False])), ("accessible", False),
                        ("voucher_code", rng.choice(["SAVE20NOW", "save20now", "WRONGCODE"]))):  # fmt: skip
        if rng.random() < 0.3:
            good[name] = value
    if rng.random() < 0.2:
        item["attendees"] = [{"name": "Cleo Martin", "email": "cleo@example.test"}][: item["quantity"]]
    kind = rng.choices(
        ["valid", "missing", "mistyped", "unknown field", "surrogate", "oversized", "not json", "content type",
         "too deep", "not an object", "other ids", "empty"],
        weights=[40, 8, 12, 4, 3, 2, 5, 6, 2, 3, 6, 2],
    )[0]  # fmt: skip
    if kind == "missing":
        target, name = rng.choice(
            [(good, "event_id"), (good, "items"), (item, "ticket_type_id"), (item, "quantity")]
        )
        del target[name]
        kind = f"without {name}"
    elif kind == "mistyped":
        target, name, value = rng.choice([
            (good, "event_id", 5), (good, "event_id", "not-a-uuid"), (good, "items", {}), (good, "items", []),
            (good, "items", [item] * 21), (item, "quantity", "1"), (item, "quantity", 1.0), (item, "quantity", True),
            (item, "quantity", 0), (item, "quantity", 101), (good, "join_waitlist", "yes"), (good, "voucher_code", ""),
            (good, "voucher_code", 5), (item, "seat_ids", [str(uuid.uuid4())]), (item, "attendees", "Cleo"),
            (item, "attendees", [{"name": ""}]), (item, "ticket_type_id", hidden), (good, "accessible", None),
        ])  # fmt: skip
        target[name] = value
        kind = f"{name}={value!r}"[:60]
    elif kind == "unknown field":
        rng.choice([good, item])["price"] = 0
    elif kind == "surrogate":
        text = '{"event_id": "%s", "items": [{"ticket_type_id": "%s", "quantity": 1, "attendees": [{"name": "\\ud800"}]}]}'
        return kind, {"data": text % (event.id, standard), "content_type": "application/json"}
    elif kind == "oversized":
        good["voucher_code"] = "X" * (1024 * 1024)
    elif kind == "not json":
        data = rng.choice(['{"event_id": ', "nope", "{'event_id': 1}", b"\xff\xfe{}", "[1, 2", "{} {}"])
        return kind, {"data": data, "content_type": "application/json"}
    elif kind == "content type":
        content_type = rng.choice(["text/plain", "application/x-www-form-urlencoded", "application/vnd.api+json",
                                   "application/json; charset=latin-1", None, "APPLICATION/JSON"])  # fmt: skip
        return f"{kind} {content_type}", {"data": json.dumps(good), "content_type": content_type}
    elif kind == "too deep":  # written out: the client's encoder would give up on the deepest itself
        depth = rng.choice([31, 40, 3000])
        item["attendees"] = [{"name": "Deep", "answers": {str(uuid.uuid4()): "DEEP"}}]
        data = json.dumps(good).replace('"DEEP"', "[" * depth + "1" + "]" * depth)
        return f"{kind} {depth}", {"data": data, "content_type": "application/json"}
    elif kind == "not an object":
        return kind, {"json": rng.choice([[], [good], "text", 1, None, True])}
    elif kind == "other ids":
        rng.choice([good, item])[rng.choice(["event_id", "ticket_type_id"])] = str(uuid.uuid4())
    elif kind == "empty":
        return kind, {"data": b"", "content_type": "application/json"}
    if rng.random() < 0.05:  # the same body, its length unsaid: read as the body stream ends
        return f"{kind}, chunked", {"data": json.dumps(good), "content_type": "application/json",
                                    "headers": {"Transfer-Encoding": "chunked"}}  # fmt: skip
    return kind, {"json": good}


def _query(rng: random.Random) -> str:
    return rng.choices(
        ["", "?wait=0", "?wait=1", "?wait=5", "?wait=60", "?wait=61", "?wait=-1", "?wait=1.5", "?wait=1.0",
         "?wait=abc", "?wait=", "?wait=1e3", "?wait=%201", "?wait=%EF%BC%91", "?wait=0x10", "?wait=1&wait=2",
         "?wait=70&wait=1", "?other=1", "?wait=1&other=x", "?wait=%00", "?wait=%FF", "?wait=99999999999999999999",
         "?WAIT=1", "?wait=true"],
        weights=[40, 6, 6, 4, 3, 3, 3, 3, 2, 3, 2, 2, 2, 2, 2, 3, 2, 2, 2, 2, 2, 2, 2, 2],
    )[0]  # fmt: skip


def _path(world: World, rng: random.Random) -> tuple[str, str]:
    name = rng.choice(list(world.bookings))
    return name, f"/api/v1/bookings/{world.bookings[name]}"


# --- sending a pair ---------------------------------------------------------------------------


def _redis_state(client) -> dict:
    keys = sorted(client.keys("*"))
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.dump(key)
        pipe.pttl(key)
    answers = pipe.execute()
    return {key: (answers[2 * i], answers[2 * i + 1]) for i, key in enumerate(keys)}


def _put_back(client, state: dict) -> None:
    """Redis as it was, and this process's copies of events forgotten (each run reads them
    alike). A key that expires keeps a minute at least, so none runs out in one run of a pair
    and not in the other: a run's length is not what is compared."""
    with event_snapshots._local_lock:
        event_snapshots._local.clear()
    pipe = client.pipeline(transaction=True)
    pipe.flushdb()
    for key, (dumped, ttl) in state.items():
        if dumped is not None:
            pipe.restore(key, max(ttl, 60_000) if ttl >= 0 else 0, dumped)
    pipe.execute()


def _answer(app, method: str, path: str, stream: bool, **kwargs) -> dict:
    response = app.test_client().open(path, method=method, buffered=not stream, **kwargs)
    try:
        if stream and response.status_code == 200:  # a live stream: its first event is what it says now
            body = next(iter(response.response))
        else:
            body = response.get_data()
    finally:
        response.close()
    return {"status": response.status_code, "headers": list(response.headers.items()), "body": body}


class Pairs:
    """Sends each request to both apps from the same state and compares what comes back."""

    def __init__(self, lean, decorated, redis, monkeypatch):
        self.lean, self.decorated, self.redis = lean, decorated, redis
        self.jobs: list = []
        self.clock = utcnow()
        self.booking_id = self.request_id = uuid.uuid4()
        self.served: list[bool] = []
        monkeypatch.setattr(booking_service, "utcnow", lambda: self.clock)
        monkeypatch.setattr(booking_views, "utcnow", lambda: self.clock)
        monkeypatch.setattr(booking_service, "new_id", lambda: self.booking_id)
        monkeypatch.setattr(request_ids, "uuid", types.SimpleNamespace(uuid4=lambda: self.request_id))
        # A long poll answers at once with the booking as it is: its waiting is not the path's.
        monkeypatch.setattr(booking_updates, "MAX_WAIT_SECONDS", 0)
        monkeypatch.setattr(runtime, "_dispatcher", lambda job, kwargs: self.jobs.append((job, kwargs)))
        request_finished.connect(self._finished, lean)

    def _finished(self, _sender, **_extra):
        self.served.append(g.get(auth.LEAN_CLAIMS) is not None)

    def send(self, label: str, method: str, path: str, stream: bool = False, **kwargs) -> dict:
        self.clock = utcnow()
        self.booking_id, self.request_id = uuid.uuid4(), uuid.uuid4()
        before = _redis_state(self.redis)
        answers, states, jobs = [], [], []
        for app in (self.lean, self.decorated):
            _put_back(self.redis, before)
            self.jobs = []
            answers.append(_answer(app, method, path, stream, **kwargs))
            states.append(_redis_state(self.redis))
            jobs.append(self.jobs)
        lean, decorated = answers
        assert lean == decorated, f"{label}: {method} {path}"
        assert _comparable(states[0]) == _comparable(states[1]), f"{label}: Redis differs"
        assert jobs[0] == jobs[1], f"{label}: jobs differ"
        return lean


def _comparable(state: dict) -> dict:
    """The keys, their values, and whether they expire (not the milliseconds left)."""
    return {key: (dumped, ttl > 0) for key, (dumped, ttl) in state.items()}


def _headers(rng: random.Random, authorization: str | None, n: int) -> dict:
    headers = {} if authorization is None else {"Authorization": authorization}
    request_id = rng.choices([WELL_FORMED_ID.format(n), None, "short", "bad id with spaces"], [85, 9, 3, 3])[
        0
    ]
    if request_id is not None:
        headers[request_ids.HEADER] = request_id
    return headers


@pytest.fixture()
def pairs(world, apps, redis_client, monkeypatch):
    """Built after the world: its bookings were made with ids and clocks of their own."""
    return Pairs(*apps, redis_client, monkeypatch)


@pytest.fixture()
def world(settings, db, make_event, make_user, make_organization, organizer):
    return _world(settings, db, make_event, make_user, make_organization, organizer)


def _spread(answers: list[dict]) -> dict[int, int]:
    spread = {}
    for answer in answers:
        spread[answer["status"]] = spread.get(answer["status"], 0) + 1
    return spread


# --- the tests ----------------------------------------------------------------------------------


def test_booking_requests_are_answered_alike_by_both_paths(pairs, world):
    rng = random.Random(SEED)
    answers = []
    for n in range(REQUESTS["post"]):
        token_kind, token = _token(world, rng)
        shape, authorization = _authorization(token, rng)
        body_kind, body = _body(world, rng)
        headers = {**_headers(rng, authorization, n), **body.pop("headers", {})}
        if rng.random() < 0.1:
            headers["Idempotency-Key"] = rng.choice(["retry-1", "retry-2", "bad key é", "x" * 201])
        label = f"#{n} {token_kind} ({shape}), body {body_kind}"
        answers.append(pairs.send(label, "POST", "/api/v1/bookings", headers=headers, **body))
    spread = _spread(answers)
    # The generator reaches every kind of answer, and both paths were taken in earnest.
    assert {202, 400, 401, 403, 409, 413, 415, 422} <= set(spread) and 500 not in spread, spread
    assert pairs.served.count(True) >= 100 and pairs.served.count(False) >= 100, spread


def test_polls_and_long_polls_are_answered_alike_by_both_paths(pairs, world):
    rng = random.Random(SEED + 1)
    answers = []
    for n in range(REQUESTS["get"]):
        token_kind, token = _token(world, rng)
        shape, authorization = _authorization(token, rng)
        booking, path = _path(world, rng)
        query = _query(rng)
        label = f"#{n} {token_kind} ({shape}), {booking} booking, query {query!r}"
        answers.append(pairs.send(label, "GET", path + query, headers=_headers(rng, authorization, n)))
    spread = _spread(answers)
    assert {200, 401, 404, 422} <= set(spread) and 500 not in spread, spread
    statuses = {json.loads(a["body"])["status"] for a in answers if a["status"] == 200}
    assert statuses >= {"queued", "held", "waitlisted", "rejected", "confirmed"}, statuses
    assert any(json.loads(a["body"]).get("waiting_room") for a in answers if a["status"] == 200)
    assert pairs.served.count(True) >= 100 and pairs.served.count(False) >= 100, spread


def test_status_streams_are_answered_alike_by_both_paths(pairs, world):
    rng = random.Random(SEED + 2)
    answers = []
    for n in range(REQUESTS["events"]):
        token_kind, token = _token(world, rng)
        shape, authorization = _authorization(token, rng)
        booking, path = _path(world, rng)
        label = f"#{n} {token_kind} ({shape}), {booking} booking"
        answers.append(
            pairs.send(label, "GET", f"{path}/events", stream=True, headers=_headers(rng, authorization, n))
        )
    spread = _spread(answers)
    assert {200, 401, 404} <= set(spread) and 500 not in spread, spread
    assert any(a["body"].startswith(b"event: status\ndata: ") for a in answers)
    assert pairs.served.count(True) >= 30 and pairs.served.count(False) >= 20, spread


def test_an_outage_during_the_lean_check_is_the_decorated_paths_503(pairs, world, monkeypatch):
    """Redis failing the revocation check: a 503 from the lean path at once, as the decorated
    path answers it (not a fallback that would wait for Redis a second time)."""
    import redis

    def unreachable(_session_id):
        raise redis.ConnectionError("Redis is down")

    monkeypatch.setattr(sessions, "is_revoked", unreachable)
    rng = random.Random(SEED + 3)
    token = _sign(world, _claims(world, world.customer, rng))
    answer = pairs.send("outage", "GET", f"/api/v1/bookings/{world.bookings['queued']}/events", stream=True,
                        headers={"Authorization": f"Bearer {token}", request_ids.HEADER: "outage-0001"})  # fmt: skip
    assert answer["status"] == 503 and ("Retry-After", "5") in answer["headers"]
    assert pairs.served == [False]


def test_an_outage_during_the_polls_folded_check_is_the_same_503(pairs, world, monkeypatch):
    """The poll's revocation check rides with its pointer's read (`read_booking`): Redis failing
    it is the same 503 on the lean path, which served the request, as on the decorated one."""
    import redis

    def unreachable(_session_id):
        raise redis.ConnectionError("Redis is down")

    monkeypatch.setattr(sessions, "revocation_key", unreachable)
    rng = random.Random(SEED + 4)
    token = _sign(world, _claims(world, world.customer, rng))
    answer = pairs.send("poll outage", "GET", f"/api/v1/bookings/{world.bookings['queued']}",
                        headers={"Authorization": f"Bearer {token}", request_ids.HEADER: "outage-0002"})  # fmt: skip
    assert answer["status"] == 503 and ("Retry-After", "5") in answer["headers"]
    assert pairs.served == [True]
