"""Ticket codes and the signed QR payloads a door scanner can verify offline with Ed25519.

Payload format, version 1 (plain ASCII, so it fits a QR code in byte mode)::

    BX1.<claims>.<signature>

- ``BX1`` is the literal prefix and format version.
- ``<claims>`` is unpadded base64url (RFC 4648 section 5) of compact UTF-8 JSON with exactly
  these keys: ``"c"`` ticket code (16 characters of Crockford base32), ``"e"`` event id and
  ``"t"`` ticket id (lowercase hyphenated UUIDs), ``"iat"`` issue time (integer unix seconds),
  and, for a reserved seat only, ``"s"`` the seat in words (``"Stalls, Row B, Seat 2"``, at most
  120 characters), so the door reads the seat from the signed payload itself.
- ``<signature>`` is unpadded base64url of the 64-byte Ed25519 signature of the ASCII bytes
  ``BX1.<claims>``, that is, everything before the second dot.

A scanner verifies the signature over the text as received, then decodes the claims; it
needs only the 32-byte public key (published as unpadded base64url or PEM).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import uuid
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PAYLOAD_PREFIX = "BX1"

# Crockford's base32: digits and capitals without I, L, O and U, so a code read aloud or
# typed from paper cannot be mistaken for another one.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 16  # 16 symbols of 5 bits: 80 bits, far beyond guessing at a door.

_CODE_RE = re.compile(f"[{CODE_ALPHABET}]{{{CODE_LENGTH}}}")
_BASE64URL_RE = re.compile(r"[A-Za-z0-9_-]+")
# Readers a person types into: forgive the letters Crockford maps to digits, and separators.
_TYPED_CODE_FIXES = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None})
# A real payload is about 250 characters; refusing far longer input early keeps a
# check-in endpoint from doing work for junk.
_MAX_PAYLOAD_CHARS = 1024
_SEED_BYTES = 32
_MAX_SEAT_CHARS = 120
_HKDF_INFO = b"boxoffice ticket signing"


class InvalidTicketPayload(ValueError):
    """The text is not a genuine ticket code or payload signed by our key."""


@dataclass(frozen=True)
class TicketClaims:
    """What a ticket's QR payload asserts, and what a scanner learns from it."""

    code: str
    event_id: str
    ticket_id: str
    issued_at: int
    # A reserved seat, in words (`core.seating.assigned.seat_words`); None for general admission.
    seat: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.code, str) or not _CODE_RE.fullmatch(self.code):
            raise ValueError(f"ticket code must be {CODE_LENGTH} Crockford base32 characters")
        _require_canonical_uuid("event_id", self.event_id)
        _require_canonical_uuid("ticket_id", self.ticket_id)
        # bool is an int subclass; True as a timestamp is a bug, not a time.
        if type(self.issued_at) is not int or self.issued_at < 0:
            raise ValueError("issued_at must be a non-negative integer of unix seconds")
        if self.seat is not None and not (
            isinstance(self.seat, str) and 0 < len(self.seat) <= _MAX_SEAT_CHARS
        ):
            raise ValueError(f"seat must be text of 1 to {_MAX_SEAT_CHARS} characters")


def _require_canonical_uuid(name: str, value: object) -> None:
    try:
        canonical = str(uuid.UUID(value)) if isinstance(value, str) else None
    except ValueError:
        canonical = None
    if canonical != value:
        raise ValueError(f"{name} must be a lowercase hyphenated UUID string")


def new_ticket_code() -> str:
    """Return a fresh random ticket code, e.g. ``7KQ2M9XZC4HT0VBN``."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def format_ticket_code(code: str) -> str:
    """Group a code in fours for people to read and type: ``7KQ2-M9XZ-C4HT-0VBN``."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


class TicketSigner:
    """Signs ticket claims with the organization-wide Ed25519 ticket key."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        self.public_key: Ed25519PublicKey = private_key.public_key()

    @classmethod
    def from_seed(cls, seed: bytes) -> TicketSigner:
        """Build from the 32 raw bytes of an Ed25519 private key."""
        if not isinstance(seed, bytes) or len(seed) != _SEED_BYTES:
            raise ValueError(f"an Ed25519 seed is exactly {_SEED_BYTES} bytes")
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def from_secret(cls, secret: str) -> TicketSigner:
        """Derive the key from an application secret, for development without a key."""
        if not secret:
            raise ValueError("cannot derive a ticket signing key from an empty secret")
        hkdf = HKDF(algorithm=hashes.SHA256(), length=_SEED_BYTES, salt=None, info=_HKDF_INFO)
        return cls.from_seed(hkdf.derive(secret.encode("utf-8")))

    def sign(self, claims: TicketClaims) -> str:
        """Return the QR payload for these claims."""
        body = {
            "c": claims.code,
            "e": claims.event_id,
            "t": claims.ticket_id,
            "iat": claims.issued_at,
            **({"s": claims.seat} if claims.seat is not None else {}),
        }
        claims_json = json.dumps(body, separators=(",", ":"), ensure_ascii=True)
        signed_part = f"{PAYLOAD_PREFIX}.{_b64encode(claims_json.encode('ascii'))}"
        signature = self._private_key.sign(signed_part.encode("ascii"))
        return f"{signed_part}.{_b64encode(signature)}"

    def public_key_pem(self) -> str:
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")

    def public_key_b64(self) -> str:
        """The raw 32-byte public key as unpadded base64url, for scanner configuration."""
        raw = self.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return _b64encode(raw)


def load_public_key(pem_or_b64: str) -> Ed25519PublicKey:
    """Load a public key given as PEM or as raw base64url (padded or not)."""
    text = pem_or_b64.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(text.encode("ascii"))
        except (ValueError, UnicodeEncodeError) as exc:
            raise ValueError("not a readable PEM public key") from exc
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("the PEM public key is not an Ed25519 key")
        return key
    raw = _b64decode(text.rstrip("="))
    if raw is None or len(raw) != _SEED_BYTES:
        raise ValueError("an Ed25519 public key is 32 bytes in base64url or a PEM block")
    return Ed25519PublicKey.from_public_bytes(raw)


def verify_ticket_payload(payload: str, public_key: Ed25519PublicKey) -> TicketClaims:
    """Return the claims of a genuine payload; raise InvalidTicketPayload for anything else."""
    if not isinstance(payload, str):
        raise InvalidTicketPayload("a ticket payload is text")
    payload = payload.strip()
    if len(payload) > _MAX_PAYLOAD_CHARS:
        raise InvalidTicketPayload("too long to be a ticket payload")
    parts = payload.split(".")
    if len(parts) != 3 or parts[0] != PAYLOAD_PREFIX:
        raise InvalidTicketPayload(f"not a ticket payload (expected {PAYLOAD_PREFIX}.<claims>.<signature>)")
    _, claims_b64, signature_b64 = parts
    claims_bytes = _b64decode(claims_b64)
    signature = _b64decode(signature_b64)
    if claims_bytes is None or signature is None:
        raise InvalidTicketPayload("the ticket payload is not valid unpadded base64url")
    try:
        public_key.verify(signature, f"{PAYLOAD_PREFIX}.{claims_b64}".encode("ascii"))
    except InvalidSignature:
        raise InvalidTicketPayload(
            "the ticket signature does not match: forged, altered or signed with another key"
        ) from None
    return _claims_from_json(claims_bytes)


def _claims_from_json(claims_bytes: bytes) -> TicketClaims:
    # Reached only with a valid signature, so a failure here means our own key signed
    # something that is not version 1 claims: still refuse it rather than guess.
    try:
        body = json.loads(claims_bytes.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise InvalidTicketPayload("the signed ticket claims are not JSON") from None
    if not isinstance(body, dict) or set(body) - {"s"} != {"c", "e", "t", "iat"}:
        raise InvalidTicketPayload("the signed ticket claims do not have the expected fields")
    try:
        return TicketClaims(
            code=body["c"],
            event_id=body["e"],
            ticket_id=body["t"],
            issued_at=body["iat"],
            seat=body.get("s"),
        )
    except ValueError as exc:
        raise InvalidTicketPayload(f"the signed ticket claims are malformed: {exc}") from None


def parse_code_or_payload(text: str, public_key: Ed25519PublicKey) -> str:
    """Return the ticket code from a typed code or a scanned payload (which is verified).

    A typed code may be lowercase, grouped with hyphens or spaces, and use O, I or L for
    0, 1 and 1. Whether the code exists is for the caller to look up.
    """
    if not isinstance(text, str):
        raise InvalidTicketPayload("a ticket code is text")
    stripped = text.strip()
    if stripped.startswith(f"{PAYLOAD_PREFIX}."):
        return verify_ticket_payload(stripped, public_key).code
    code = stripped.upper().translate(_TYPED_CODE_FIXES)
    if not _CODE_RE.fullmatch(code):
        raise InvalidTicketPayload(
            f"not a ticket code ({CODE_LENGTH} letters and digits) nor a ticket QR payload"
        )
    return code


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes | None:
    """Decode strict unpadded base64url, or return None.

    Only the canonical spelling is accepted (re-encoding must give the same text) so that
    one ticket has exactly one payload string.
    """
    if not _BASE64URL_RE.fullmatch(text):
        return None
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    return data if _b64encode(data) == text else None
