"""Vouchers: codes an event's organizers hand out for a discount or access to hidden ticket types.

Organizers create, list, edit and disable them here. Whether a code is valid is checked by the
API against terms cached in Redis (`load_voucher_terms`: the booking path stays off
PostgreSQL); whether a redemption is left is decided by the drainer, in queue order, under the
event's inventory lock (`core.booking_rules.decide`, `core.inventory`). Every change drops the
cached terms once it commits.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Select, select

from core import runtime
from core.booking_rules import voucher_usable
from core.csv_export import csv_chunks
from core.db import Database, UnitOfWork
from core.errors import Conflict, Invalid, InvalidVoucher, NotFound
from core.inventory import lock_inventory
from core.models import Booking, Event, User, Voucher, utcnow
from core.redis_cluster import event_key
from core.services import audit
from core.services.audit import AuditAction
from core.services.events import get_event_for_organizers

# At least 6 characters: a short code is guessed in a few thousand tries, limits or not.
MIN_CODE_LENGTH = 6
CODE = re.compile(rf"[A-Z0-9][A-Z0-9_-]{{{MIN_CODE_LENGTH - 1},63}}")
# No 0/O or 1/I/L: a generated code is read off paper and typed in.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
RANDOM_PART = 10
MAX_GENERATED = 10_000
TERMS_TTL = 30
EXPORT_BATCH = 1000
EDITABLE = ("max_redemptions", "valid_from", "valid_until", "ticket_type_ids", "unlocks_hidden")
CSV_HEADER = ("code", "discount_percent", "discount_amount", "currency", "max_redemptions", "redeemed",
              "remaining", "valid_from", "valid_until", "unlocks_hidden", "disabled", "created_at")  # fmt: skip


def normalize_code(code: str) -> str:
    return code.strip().upper()


# --- organizers: create, list, edit, disable ----------------------------------------------------


def create_vouchers(uow: UnitOfWork, actor: User, event_id: uuid.UUID, data: dict) -> list[Voucher]:
    """One voucher with the given `code`, or `generate` of them with random codes after `prefix`."""
    event = get_event_for_organizers(uow, actor, event_id)
    terms = _terms(event, data)
    if data.get("generate"):
        codes = _new_codes(uow, event.id, normalize_code(data.get("prefix") or ""), data["generate"])
    elif data.get("code"):
        codes = [_checked_code(data["code"])]
        if _existing_codes(uow, event.id, codes):
            raise Conflict("This event already has a voucher with this code.", name="duplicate_voucher_code")
    else:
        raise Invalid("Give a code, or how many codes to generate.", name="code_required")
    vouchers = [Voucher(event_id=event.id, code=code, redeemed=0, **terms) for code in codes]
    uow.session.add_all(vouchers)
    uow.session.flush()
    changes = {"codes": codes if len(codes) <= 20 else len(codes), **terms}
    audit.record(uow, actor, AuditAction.VOUCHER_CREATE, "event", event.id, event.organization_id, changes)
    _forget_after_commit(uow, event.id)
    uow.commit()
    return vouchers


def update_voucher(
    uow: UnitOfWork, actor: User, event_id: uuid.UUID, voucher_id: uuid.UUID, changes: dict
) -> Voucher:
    """Edit a voucher's terms; its redemptions are read under the lock the drainer takes, so a
    new `max_redemptions` is never below what is already held or confirmed."""
    event = get_event_for_organizers(uow, actor, event_id)
    inventory = lock_inventory(uow, event.id)
    voucher = inventory.voucher(voucher_id)
    if voucher is None:
        raise NotFound("No such voucher for this event.")
    values = {name: changes[name] for name in EDITABLE if name in changes}
    if "discount" in changes:
        values.update(_discount(event, changes["discount"]))
    if "ticket_type_ids" in values:
        values["ticket_type_ids"] = checked_ticket_type_ids(event, values["ticket_type_ids"])
    if "disabled" in changes:
        values["disabled_at"] = (voucher.disabled_at or utcnow()) if changes["disabled"] else None
    audit.record(uow, actor, AuditAction.VOUCHER_UPDATE, "voucher", voucher.id, event.organization_id,
                 {"code": voucher.code, **audit.diff(voucher, values, values)})  # fmt: skip
    for name, value in values.items():
        setattr(voucher, name, value)
    _check_window(voucher.valid_from, voucher.valid_until)
    if voucher.max_redemptions is not None and voucher.max_redemptions < voucher.redeemed:
        raise Conflict(
            f"max_redemptions cannot go below the {voucher.redeemed} bookings already using this code.",
            name="max_redemptions_below_redeemed",
        )
    _forget_after_commit(uow, event.id)
    uow.commit()
    return voucher


def delete_voucher(uow: UnitOfWork, actor: User, event_id: uuid.UUID, voucher_id: uuid.UUID) -> None:
    """Delete a voucher nobody used; one a booking carries is disabled instead (kept for the record)."""
    event = get_event_for_organizers(uow, actor, event_id)
    voucher = lock_inventory(uow, event.id).voucher(voucher_id)
    if voucher is None:
        raise NotFound("No such voucher for this event.")
    used = uow.session.scalar(select(Booking.id).where(Booking.voucher_id == voucher.id).limit(1))
    if used is None:
        uow.session.delete(voucher)
    elif voucher.disabled_at is None:
        voucher.disabled_at = utcnow()
    audit.record(uow, actor, AuditAction.VOUCHER_DELETE, "voucher", voucher.id, event.organization_id,
                 {"code": voucher.code, "kept_disabled": used is not None})  # fmt: skip
    _forget_after_commit(uow, event.id)
    uow.commit()


def vouchers_query(event_id: uuid.UUID) -> Select:
    return select(Voucher).where(Voucher.event_id == event_id).order_by(Voucher.created_at, Voucher.id)


def voucher_view(voucher: Voucher, currency: str) -> dict:
    limit = voucher.max_redemptions
    discount = (
        {"percent": voucher.discount_percent}
        if voucher.discount_percent is not None
        else {"amount": voucher.discount_amount, "currency": currency}
    )
    return {
        "id": voucher.id,
        "code": voucher.code,
        "discount": discount,
        "max_redemptions": limit,
        "redeemed": voucher.redeemed,
        "remaining": None if limit is None else limit - voucher.redeemed,
        "valid_from": voucher.valid_from,
        "valid_until": voucher.valid_until,
        "ticket_type_ids": [uuid.UUID(tt) for tt in voucher.ticket_type_ids],
        "unlocks_hidden": voucher.unlocks_hidden,
        "disabled": voucher.disabled_at is not None,
        "created_at": voucher.created_at,
    }


def event_currency(event: Event) -> str:
    return event.ticket_types[0].currency


def export_vouchers(db: Database, uow: UnitOfWork, actor: User, event_id: uuid.UUID) -> Iterator[bytes]:
    """The event's codes as CSV chunks: the reader is checked in `uow`, the rows streamed from a
    unit of work of its own on `db` (nothing is written)."""
    event = get_event_for_organizers(uow, actor, event_id)
    currency = event_currency(event)

    def row(voucher: Voucher) -> list:
        view = voucher_view(voucher, currency)
        return [view["code"], voucher.discount_percent, voucher.discount_amount, currency,
                view["max_redemptions"], view["redeemed"], view["remaining"], view["valid_from"],
                view["valid_until"], view["unlocks_hidden"], view["disabled"], view["created_at"]]  # fmt: skip

    def batches():
        # Its own unit of work: the request's has ended by the time a streamed body is sent.
        with db.unit_of_work() as export:
            query = vouchers_query(event.id).execution_options(yield_per=EXPORT_BATCH)
            for partition in export.session.scalars(query).partitions():
                yield [row(voucher) for voucher in partition]

    return csv_chunks(CSV_HEADER, batches())


def _terms(event: Event, data: dict) -> dict:
    if "discount" not in data:
        raise Invalid("Say what the code takes off: a percent or an amount.", name="discount_required")
    terms = {
        **_discount(event, data["discount"]),
        "max_redemptions": data.get("max_redemptions"),
        "valid_from": data.get("valid_from"),
        "valid_until": data.get("valid_until"),
        "ticket_type_ids": checked_ticket_type_ids(event, data.get("ticket_type_ids") or []),
        "unlocks_hidden": bool(data.get("unlocks_hidden")),
    }
    _check_window(terms["valid_from"], terms["valid_until"])
    return terms


def _discount(event: Event, discount: dict) -> dict:
    """`{percent}` (0 to 100) or `{amount, currency}` in the event's currency."""
    percent, amount = discount.get("percent"), discount.get("amount")
    if (percent is None) == (amount is None):
        raise Invalid("Give the discount as a percent or as an amount, not both.", name="invalid_discount")
    if percent is not None:
        if not 0 <= percent <= 100:
            raise Invalid("A percent discount is between 0 and 100.", name="invalid_discount")
        return {"discount_percent": percent, "discount_amount": None}
    currency = (discount.get("currency") or "").upper()
    if currency != event_currency(event):
        raise Invalid(
            f"This event sells in {event_currency(event)}: give the amount in that currency.",
            name="currency_mismatch",
        )
    if amount < 0:
        raise Invalid("A discount amount cannot be negative.", name="invalid_discount")
    return {"discount_percent": None, "discount_amount": amount}


def checked_ticket_type_ids(event: Event, ticket_type_ids) -> list[str]:
    known = {tt.id for tt in event.ticket_types}
    unknown = [str(tt) for tt in ticket_type_ids if tt not in known]
    if unknown:
        raise Invalid("These ticket types are not sold for this event.", name="unknown_ticket_type",
                      details={"ticket_type_ids": unknown})  # fmt: skip
    return sorted({str(tt) for tt in ticket_type_ids})


def _check_window(valid_from: dt.datetime | None, valid_until: dt.datetime | None) -> None:
    if valid_from and valid_until and valid_until <= valid_from:
        raise Invalid("valid_until must be after valid_from.", name="voucher_window_invalid")


def _checked_code(code: str) -> str:
    code = normalize_code(code)
    if not CODE.fullmatch(code):
        raise Invalid(
            f"A code is {MIN_CODE_LENGTH} to 64 letters, digits, '-' or '_', starting with a letter or "
            "digit: a shorter one is too easily guessed.",
            name="invalid_code",
        )
    return code


def _existing_codes(uow: UnitOfWork, event_id: uuid.UUID, codes: list[str]) -> set[str]:
    return set(
        uow.session.scalars(select(Voucher.code).where(Voucher.event_id == event_id, Voucher.code.in_(codes)))
    )


def _new_codes(uow: UnitOfWork, event_id: uuid.UUID, prefix: str, count: int) -> list[str]:
    if not 1 <= count <= MAX_GENERATED:
        raise Invalid(f"Generate between 1 and {MAX_GENERATED} codes at a time.", name="invalid_generate")
    if prefix:
        _checked_code(prefix + "X" * RANDOM_PART)
    codes: set[str] = set()
    while len(codes) < count:
        fresh = {prefix + "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_PART))
                 for _ in range(count - len(codes))}  # fmt: skip
        codes |= fresh - _existing_codes(uow, event_id, list(fresh))
    return sorted(codes)


# --- the booking path: is this code valid? (Redis only) -----------------------------------------


@dataclass(frozen=True)
class CachedVoucher:
    """A voucher's terms as the API checks them (and prices a request with them)."""

    id: uuid.UUID
    event_id: uuid.UUID
    valid_from: dt.datetime | None
    valid_until: dt.datetime | None
    disabled_at: dt.datetime | None
    ticket_type_ids: tuple[str, ...]
    unlocks_hidden: bool

    @classmethod
    def of(cls, voucher: Voucher) -> CachedVoucher:
        return cls(voucher.id, voucher.event_id, voucher.valid_from, voucher.valid_until, voucher.disabled_at,
                   tuple(voucher.ticket_type_ids), voucher.unlocks_hidden)  # fmt: skip

    def to_json(self) -> str:
        return json.dumps([str(self.id), str(self.event_id), _iso(self.valid_from), _iso(self.valid_until),
                           _iso(self.disabled_at), list(self.ticket_type_ids), self.unlocks_hidden])  # fmt: skip

    @classmethod
    def from_json(cls, raw: str) -> CachedVoucher:
        id_, event_id, valid_from, valid_until, disabled_at, ticket_type_ids, unlocks_hidden = json.loads(raw)
        return cls(uuid.UUID(id_), uuid.UUID(event_id), _datetime(valid_from), _datetime(valid_until),
                   _datetime(disabled_at), tuple(ticket_type_ids), unlocks_hidden)  # fmt: skip


# The hash's marker field: present once the hash holds every code of the event.
_BUILT = "*"


def _terms_key(event_id) -> str:
    return event_key("event", event_id, "vouchers")


def load_voucher_terms(db: Database, event_id: uuid.UUID, code: str) -> CachedVoucher | None:
    """The terms of the event's voucher with this code, or None: one Redis round trip (the
    event's codes are read from `db`, in a unit of work of its own, only when the hash was
    dropped or ran out)."""
    redis = runtime.redis_client()
    raw, built = redis.hmget(_terms_key(event_id), [normalize_code(code), _BUILT])
    if built is None:
        with db.unit_of_work() as uow:
            vouchers = uow.session.scalars(select(Voucher).where(Voucher.event_id == event_id)).all()
            mapping = {voucher.code: CachedVoucher.of(voucher).to_json() for voucher in vouchers}
        pipe = redis.pipeline()
        pipe.hset(_terms_key(event_id), mapping={**mapping, _BUILT: "1"})
        pipe.expire(_terms_key(event_id), TERMS_TTL)
        pipe.execute()
        raw = mapping.get(normalize_code(code))
    return CachedVoucher.from_json(raw) if raw else None


def check_voucher_code(
    db: Database, event_id: uuid.UUID, code: str, ticket_type_ids, at: dt.datetime
) -> CachedVoucher:
    """The voucher behind a code a customer typed, if it can be used for these ticket types now."""
    voucher = load_voucher_terms(db, event_id, code)
    if not voucher_usable(voucher, event_id, at, ticket_type_ids):
        raise InvalidVoucher()
    return voucher


def forget_voucher_terms(event_id: uuid.UUID) -> None:
    runtime.redis_client().delete(_terms_key(event_id))


def _forget_after_commit(uow: UnitOfWork, event_id: uuid.UUID) -> None:
    uow.after_commit(lambda: forget_voucher_terms(event_id))


def find_voucher(uow: UnitOfWork, event_id: uuid.UUID, code: str) -> Voucher | None:
    return uow.session.scalar(
        select(Voucher).where(Voucher.event_id == event_id, Voucher.code == normalize_code(code))
    )


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _datetime(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None
