"""Ticket codes and signed QR payloads: a scanner accepts ours and nothing else."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.ticket_signing import (
    CODE_ALPHABET,
    CODE_LENGTH,
    InvalidTicketPayload,
    TicketClaims,
    TicketSigner,
    format_ticket_code,
    load_public_key,
    new_ticket_code,
    parse_code_or_payload,
    verify_ticket_payload,
)

SIGNER = TicketSigner.from_seed(bytes(range(32)))


def claims(**overrides) -> TicketClaims:
    values = {"code": new_ticket_code(), "event_id": str(uuid.uuid4()), "ticket_id": str(uuid.uuid4()),
              "issued_at": 1_900_000_000, **overrides}  # fmt: skip
    return TicketClaims(**values)


def test_a_signed_payload_verifies_to_its_claims():
    original = claims()
    payload = SIGNER.sign(original)
    assert payload.startswith("BX1.") and payload.isascii() and len(payload) < 300
    assert verify_ticket_payload(payload, SIGNER.public_key) == original


@pytest.mark.parametrize("part", [1, 2])
def test_any_altered_part_is_refused(part):
    payload = SIGNER.sign(claims())
    pieces = payload.split(".")
    flipped = "A" if pieces[part][5] != "A" else "B"
    pieces[part] = pieces[part][:5] + flipped + pieces[part][6:]
    with pytest.raises(InvalidTicketPayload):
        verify_ticket_payload(".".join(pieces), SIGNER.public_key)


def test_claims_swapped_from_another_ticket_are_refused():
    first, second = SIGNER.sign(claims()).split("."), SIGNER.sign(claims()).split(".")
    with pytest.raises(InvalidTicketPayload):
        verify_ticket_payload(".".join([first[0], second[1], first[2]]), SIGNER.public_key)


def test_another_key_is_refused():
    other = TicketSigner.from_secret("someone else's secret")
    with pytest.raises(InvalidTicketPayload):
        verify_ticket_payload(other.sign(claims()), SIGNER.public_key)


@pytest.mark.parametrize(
    "garbage",
    ["", "BX1", "BX1..", "BX2.abc.def", "BX1.!!!.???", "BX1.e30.e30", "x" * 5000, "BX1.a.b.c", "\x00", "🎟️"],
)
def test_garbage_is_refused_with_our_error(garbage):
    with pytest.raises(InvalidTicketPayload):
        verify_ticket_payload(garbage, SIGNER.public_key)


@given(st.text(max_size=400))
def test_no_text_raises_anything_but_our_error(text):
    with pytest.raises(InvalidTicketPayload):
        verify_ticket_payload(text, SIGNER.public_key)


def test_codes_are_unique_readable_and_forgiving_to_type():
    codes = {new_ticket_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(len(code) == CODE_LENGTH and set(code) <= set(CODE_ALPHABET) for code in codes)
    code = next(iter(codes))
    typed = format_ticket_code(code).lower().replace("0", "o").replace("1", "l")
    assert parse_code_or_payload(typed, SIGNER.public_key) == code
    with pytest.raises(InvalidTicketPayload):
        parse_code_or_payload("not a code", SIGNER.public_key)


def test_a_payload_given_at_the_door_yields_its_code_once_verified():
    ticket = claims()
    assert parse_code_or_payload(f"  {SIGNER.sign(ticket)}\n", SIGNER.public_key) == ticket.code


def test_the_development_key_is_derived_deterministically_from_the_secret():
    assert TicketSigner.from_secret("s").public_key_b64() == TicketSigner.from_secret("s").public_key_b64()
    assert TicketSigner.from_secret("s").public_key_b64() != TicketSigner.from_secret("t").public_key_b64()


def test_published_keys_load_in_both_forms():
    payload = SIGNER.sign(claims())
    for published in (SIGNER.public_key_pem(), SIGNER.public_key_b64()):
        verify_ticket_payload(payload, load_public_key(published))
    with pytest.raises(ValueError):
        load_public_key("not a key")
