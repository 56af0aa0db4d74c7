import base64
import json
import random
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from core.ticket_signing import (
    CODE_ALPHABET,
    InvalidTicketPayload,
    TicketClaims,
    TicketSigner,
    format_ticket_code,
    load_public_key,
    new_ticket_code,
    parse_code_or_payload,
    verify_ticket_payload,
)

SEED = bytes(range(32))
BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@pytest.fixture
def signer():
    return TicketSigner.from_seed(SEED)


@pytest.fixture
def claims():
    return TicketClaims(
        code="7KQ2M9XZC4HT0VBN",
        event_id="0190a3f2-6c1e-7d4b-9a51-2f1c3e5d7b90",
        ticket_id="0190a3f2-6c1f-7e2a-8b3c-4d5e6f708192",
        issued_at=1_800_000_000,
    )


@pytest.fixture
def payload(signer, claims):
    return signer.sign(claims)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made_payload(private_key: Ed25519PrivateKey, claims_json: bytes) -> str:
    """Build a payload from the module docstring alone, as a scanner vendor would."""
    signed = f"BX1.{b64(claims_json)}"
    return f"{signed}.{b64(private_key.sign(signed.encode()))}"


def test_new_ticket_codes_are_16_unambiguous_capitals_and_digits():
    codes = {new_ticket_code() for _ in range(10_000)}
    assert len(codes) == 10_000
    for code in codes:
        assert len(code) == 16
        assert set(code) <= set(CODE_ALPHABET)
    assert not set("ILOU") & set(CODE_ALPHABET)


def test_codes_use_the_whole_alphabet():
    seen = set("".join(new_ticket_code() for _ in range(200)))
    assert seen == set(CODE_ALPHABET)


def test_format_ticket_code_groups_in_fours():
    assert format_ticket_code("7KQ2M9XZC4HT0VBN") == "7KQ2-M9XZ-C4HT-0VBN"


def test_signed_payload_verifies_to_the_same_claims(signer, claims, payload):
    assert payload.startswith("BX1.")
    assert payload.isascii()
    assert verify_ticket_payload(payload, signer.public_key) == claims


def test_payload_is_short_enough_for_a_paper_qr_code(payload):
    assert len(payload) <= 280


def test_payload_can_be_verified_with_the_published_keys(signer, claims, payload):
    assert verify_ticket_payload(payload, load_public_key(signer.public_key_pem())) == claims
    assert verify_ticket_payload(payload, load_public_key(signer.public_key_b64())) == claims


def test_published_raw_key_is_32_bytes_of_unpadded_base64url(signer):
    raw = signer.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert signer.public_key_b64() == b64(raw)
    assert load_public_key(signer.public_key_b64() + "=").public_bytes(Encoding.Raw, PublicFormat.Raw) == raw


def test_documented_format_is_what_the_signer_produces(claims, payload):
    key = Ed25519PrivateKey.from_private_bytes(SEED)
    claims_json = json.dumps(
        {
            "c": claims.code,
            "e": claims.event_id,
            "t": claims.ticket_id,
            "iat": claims.issued_at,
        },
        separators=(",", ":"),
    ).encode()
    assert hand_made_payload(key, claims_json) == payload


def test_same_secret_derives_the_same_key_and_others_differ():
    first = TicketSigner.from_secret("development secret")
    assert first.public_key_b64() == TicketSigner.from_secret("development secret").public_key_b64()
    assert first.public_key_b64() != TicketSigner.from_secret("development secret!").public_key_b64()


def test_secret_derived_key_is_not_the_secret_itself():
    secret = "x" * 32
    assert TicketSigner.from_secret(secret).public_key_b64() != (
        TicketSigner.from_seed(secret.encode()).public_key_b64()
    )


@pytest.mark.parametrize("seed", [b"", bytes(31), bytes(33), "0" * 32])
def test_seed_must_be_32_bytes(seed):
    with pytest.raises(ValueError, match="32 bytes"):
        TicketSigner.from_seed(seed)


def test_empty_secret_is_refused():
    with pytest.raises(ValueError, match="empty secret"):
        TicketSigner.from_secret("")


def test_payload_signed_with_another_key_is_refused(claims, payload):
    other = TicketSigner.from_seed(bytes(32))
    with pytest.raises(InvalidTicketPayload, match="signature does not match"):
        verify_ticket_payload(other.sign(claims), TicketSigner.from_seed(SEED).public_key)
    with pytest.raises(InvalidTicketPayload, match="signature does not match"):
        verify_ticket_payload(payload, other.public_key)


def test_changing_any_single_character_is_detected(signer, payload):
    for index, char in enumerate(payload):
        if char == ".":
            continue
        replacement = BASE64URL[(BASE64URL.index(char) + 1) % 64] if char in BASE64URL else "A"
        tampered = payload[:index] + replacement + payload[index + 1 :]
        with pytest.raises(InvalidTicketPayload):
            verify_ticket_payload(tampered, signer.public_key)


def test_claims_swapped_from_another_ticket_are_refused(signer, claims, payload):
    other = signer.sign(
        TicketClaims("ABCDEFGHJKMNPQRS", claims.event_id, str(uuid.uuid4()), claims.issued_at)
    )
    prefix, _, signature = payload.split(".")
    spliced = ".".join([prefix, other.split(".")[1], signature])
    with pytest.raises(InvalidTicketPayload, match="signature does not match"):
        verify_ticket_payload(spliced, signer.public_key)


def test_edited_claims_are_refused(signer, claims, payload):
    forged_claims = json.dumps(
        {
            "c": "ABCDEFGHJKMNPQRS",
            "e": claims.event_id,
            "t": claims.ticket_id,
            "iat": claims.issued_at,
        },
        separators=(",", ":"),
    ).encode()
    prefix, _, signature = payload.split(".")
    with pytest.raises(InvalidTicketPayload, match="signature does not match"):
        verify_ticket_payload(f"{prefix}.{b64(forged_claims)}.{signature}", signer.public_key)


def test_truncated_payloads_are_refused(signer, payload):
    for end in range(len(payload)):
        with pytest.raises(InvalidTicketPayload):
            verify_ticket_payload(payload[:end], signer.public_key)


def test_surrounding_whitespace_from_a_scanner_is_tolerated(signer, claims, payload):
    assert verify_ticket_payload(f"  {payload}\r\n", signer.public_key) == claims


@pytest.mark.parametrize(
    ("garbage", "message"),
    [
        ("", "not a ticket payload"),
        ("   ", "not a ticket payload"),
        ("BX1", "not a ticket payload"),
        ("BX1.", "not a ticket payload"),
        ("BX1..", "not valid unpadded base64url"),
        ("BX1.a.b", "not valid unpadded base64url"),
        ("BX1.eyJ9.", "not valid unpadded base64url"),
        ("BX1.eyJ9.AAAA.AAAA", "not a ticket payload"),
        ("BX1.e+J9.AAAA", "not valid unpadded base64url"),
        ("BX1.eyJ9.AAAA=", "not valid unpadded base64url"),
        ("BX1.éé.AAAA", "not valid unpadded base64url"),
        ("BX1.eyJ9\x00.AAAA", "not valid unpadded base64url"),
        ("BX1.eyJ9.AA", "signature does not match"),
        ("BX1.eyJ9." + "A" * 86, "signature does not match"),
        ("BX1." + "A" * 2000 + ".AAAA", "too long"),
        ("https://example.org/t/7KQ2M9XZC4HT0VBN", "not a ticket payload"),
        ("7KQ2M9XZC4HT0VBN", "not a ticket payload"),
        ("bx1.eyJ9.AAAA", "not a ticket payload"),
        (None, "is text"),
        (b"BX1.eyJ9.AAAA", "is text"),
        (12345, "is text"),
    ],
)
def test_garbage_raises_invalid_ticket_payload(signer, garbage, message):
    with pytest.raises(InvalidTicketPayload, match=message):
        verify_ticket_payload(garbage, signer.public_key)


def test_non_canonical_base64_of_the_signature_is_refused(signer, payload):
    # The last character of 64 bytes in base64 carries 2 spare bits: setting them must
    # not yield a second accepted spelling of the same ticket.
    last = payload[-1]
    sibling = BASE64URL[BASE64URL.index(last) ^ 1]
    with pytest.raises(InvalidTicketPayload, match="base64url"):
        verify_ticket_payload(payload[:-1] + sibling, signer.public_key)


def test_random_junk_never_raises_anything_else(signer, payload):
    rng = random.Random(20270314)
    alphabet = BASE64URL + ".=+/ \n\x00é€\U0001f39f"
    for _ in range(2_000):
        length = rng.randrange(0, 300)
        junk = "".join(rng.choice(alphabet) for _ in range(length))
        if rng.random() < 0.5:
            junk = "BX1." + junk
        with pytest.raises(InvalidTicketPayload):
            verify_ticket_payload(junk, signer.public_key)


VALID_CLAIMS = {
    "c": "7KQ2M9XZC4HT0VBN",
    "e": "0190a3f2-6c1e-7d4b-9a51-2f1c3e5d7b90",
    "t": "0190a3f2-6c1f-7e2a-8b3c-4d5e6f708192",
    "iat": 1,
}


def claims_with(**changes) -> bytes:
    """VALID_CLAIMS as compact JSON, with changes; a value of ... drops the key."""
    merged = {**VALID_CLAIMS, **changes}
    body = {key: value for key, value in merged.items() if value is not ...}
    return json.dumps(body, separators=(",", ":")).encode()


@pytest.mark.parametrize(
    "claims_json",
    [
        b"not json",
        b"\xff\xfe",
        b"[]",
        b"{}",
        b"null",
        claims_with(t=...),
        claims_with(admin=True),
        claims_with(e="x"),
        claims_with(c="short"),
        claims_with(c=12345),
        claims_with(iat="1"),
        claims_with(iat=True),
        claims_with(iat=None),
    ],
)
def test_well_signed_but_malformed_claims_are_refused(claims_json):
    key = Ed25519PrivateKey.from_private_bytes(SEED)
    with pytest.raises(InvalidTicketPayload, match="signed ticket claims"):
        verify_ticket_payload(hand_made_payload(key, claims_json), key.public_key())


def test_hand_made_payload_with_valid_claims_is_accepted():
    # Guards the test above: its refusals are about the claims, not the construction.
    key = Ed25519PrivateKey.from_private_bytes(SEED)
    claims = verify_ticket_payload(hand_made_payload(key, claims_with()), key.public_key())
    assert claims.code == VALID_CLAIMS["c"]


@pytest.mark.parametrize(
    "changes",
    [
        {"code": "7kq2m9xzc4ht0vbn"},
        {"code": "7KQ2M9XZC4HT0VBNX"},
        {"code": "OKQ2M9XZC4HT0VBN"},
        {"event_id": "0190A3F2-6C1E-7D4B-9A51-2F1C3E5D7B90"},
        {"ticket_id": "not-a-uuid"},
        {"issued_at": -1},
        {"issued_at": 1.5},
    ],
)
def test_claims_refuse_values_a_scanner_could_not_trust(claims, changes):
    fields = {**claims.__dict__, **changes}
    with pytest.raises(ValueError):
        TicketClaims(**fields)


def test_check_in_accepts_a_scanned_payload(signer, claims, payload):
    assert parse_code_or_payload(payload, signer.public_key) == claims.code


@pytest.mark.parametrize(
    "typed",
    [
        "7KQ2M9XZC4HT0VBN",
        "7kq2-m9xz-c4ht-0vbn",
        " 7KQ2 M9XZ C4HT OVBN ",
        "7KQ2M9XZC4HTovbn",
    ],
)
def test_check_in_accepts_a_typed_code_however_it_was_typed(signer, typed):
    assert parse_code_or_payload(typed, signer.public_key) == "7KQ2M9XZC4HT0VBN"


def test_typed_i_and_l_read_as_one(signer):
    assert parse_code_or_payload("IL11AAAAAAAAAAAA", signer.public_key) == "1111AAAAAAAAAAAA"


def test_check_in_refuses_a_forged_payload(claims, signer):
    forged = TicketSigner.from_seed(bytes(32)).sign(claims)
    with pytest.raises(InvalidTicketPayload, match="signature does not match"):
        parse_code_or_payload(forged, signer.public_key)


@pytest.mark.parametrize("text", ["", "7KQ2", "7KQ2M9XZC4HT0VBNN", "7KQ2M9XZC4HT0VBU", "BX1.x.y", None])
def test_check_in_refuses_text_that_is_no_code(signer, text):
    with pytest.raises(InvalidTicketPayload):
        parse_code_or_payload(text, signer.public_key)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not a key",
        b64(bytes(31)),
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
        generate_private_key(SECP256R1())
        .public_key()
        .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        .decode(),
    ],
)
def test_load_public_key_refuses_what_is_not_an_ed25519_key(text):
    with pytest.raises(ValueError):
        load_public_key(text)


def test_a_reserved_seat_is_signed_in_the_claims_and_read_back(signer, claims):
    seated = TicketClaims(
        claims.code, claims.event_id, claims.ticket_id, claims.issued_at, seat="Stalls, Row B, Seat 2"
    )
    payload = signer.sign(seated)
    assert verify_ticket_payload(payload, signer.public_key) == seated
    body = json.loads(base64.urlsafe_b64decode(payload.split(".")[1] + "=="))
    assert body["s"] == "Stalls, Row B, Seat 2"
    assert len(payload) < 1024


def test_claims_with_an_unknown_field_beside_the_seat_are_refused(claims):
    key = Ed25519PrivateKey.from_private_bytes(SEED)
    body = {"c": claims.code, "e": claims.event_id, "t": claims.ticket_id, "iat": claims.issued_at,
            "s": "Stalls, Row B, Seat 2", "x": 1}  # fmt: skip
    payload = hand_made_payload(key, json.dumps(body, separators=(",", ":")).encode())
    with pytest.raises(InvalidTicketPayload, match="expected fields"):
        verify_ticket_payload(payload, TicketSigner.from_seed(SEED).public_key)


@pytest.mark.parametrize("seat", ["", "x" * 121, 12])
def test_a_seat_claim_must_be_short_text(claims, seat):
    with pytest.raises(ValueError, match="seat"):
        TicketClaims(claims.code, claims.event_id, claims.ticket_id, claims.issued_at, seat=seat)
