"""Email addresses as accounts know them: one spelling per address, and no look-alikes.

Two addresses that read the same must not be two accounts (`ａdmin@` beside `admin@` in a list
of users is an impostor). So:

- Every address is NFKC-normalized, then lower-cased, wherever one is stored or looked up
  (`normalize_email`): the full-width `ａdmin@example.com` *is* `admin@example.com`, and signs
  in, registers and is reset as that one.
- An address is refused when one of its parts (the local part, each label of the domain) mixes
  scripts beyond what Unicode's "highly restrictive" level allows (UTS #39, section 5.2): one
  script, or Latin with Han and Japanese kana, with Han and Bopomofo, or with Han and Hangul;
  characters common to all scripts (digits, `.`, `-`, `+`) and combining marks do not count.
  `аdmin@` (a Cyrillic `а` among Latin letters) is refused; `müller@`, `иван@` and `日本語abc@`
  are not. The rule judges the address alone, so the refusal says nothing about whether a
  look-alike account exists. The script of each character comes from confusable-homoglyphs,
  which carries Unicode's script data.
"""

from __future__ import annotations

import unicodedata

from confusable_homoglyphs.categories import unique_aliases

from core.errors import Invalid

# Characters of these belong to every script, or to the one they are attached to.
_NEUTRAL = frozenset({"COMMON", "INHERITED"})
# UTS #39 "highly restrictive": the script sets an identifier may use besides a single script.
_ALLOWED_MIXES = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)


def normalize_email(email: str) -> str:
    """The one spelling of an address: NFKC (compatibility forms folded), trimmed, lower-cased."""
    return unicodedata.normalize("NFKC", email).strip().lower()


def mixes_scripts(text: str) -> bool:
    """Whether `text` mixes scripts beyond UTS #39's "highly restrictive" level."""
    scripts = unique_aliases(text) - _NEUTRAL
    return len(scripts) > 1 and not any(scripts <= allowed for allowed in _ALLOWED_MIXES)


def check_no_lookalike(email: str) -> None:
    """Refuse (422 `email_mixed_scripts`) an address whose local part or a domain label mixes scripts."""
    local, _, domain = normalize_email(email).rpartition("@")
    if any(mixes_scripts(part) for part in (local, *domain.split("."))):
        raise Invalid(
            "This address mixes alphabets (such as a Cyrillic letter among Latin ones) the way "
            "look-alikes of other addresses do: use the address as your mail provider spells it.",
            name="email_mixed_scripts",
        )
