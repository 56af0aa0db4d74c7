"""Money for people to read: minor units and an ISO 4217 code become "EUR 25.00"."""

from __future__ import annotations

import re

# ISO 4217 currencies whose minor unit is not 1/100. Every other code has two decimals,
# so this short table is complete, not a list of the currencies we happen to sell in.
_EXPONENT_EXCEPTIONS = {
    # No minor unit.
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
    "PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0,
    "XPF": 0,
    # Thousandths.
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    # Ten-thousandths (units of account).
    "CLF": 4, "UYW": 4,
}  # fmt: skip
_CURRENCY_RE = re.compile(r"[A-Z]{3}")


def currency_exponent(currency: str) -> int:
    """How many decimal places the currency's minor unit has (2 for EUR, 0 for JPY)."""
    return _EXPONENT_EXCEPTIONS.get(_normalize_currency(currency), 2)


def format_money(minor: int, currency: str) -> str:
    """Format minor units: ``format_money(123456, "EUR") == "EUR 1,234.56"``."""
    if type(minor) is not int:
        raise TypeError("money amounts are integers in minor units")
    code = _normalize_currency(currency)
    exponent = _EXPONENT_EXCEPTIONS.get(code, 2)
    sign = "-" if minor < 0 else ""
    major, fraction = divmod(abs(minor), 10**exponent)
    decimals = f".{fraction:0{exponent}d}" if exponent else ""
    return f"{code} {sign}{major:,}{decimals}"


def format_price(minor: int, currency: str) -> str:
    """Like format_money, but a price of nothing reads "Free"."""
    formatted = format_money(minor, currency)
    return "Free" if minor == 0 else formatted


def _normalize_currency(currency: str) -> str:
    # Payment providers spell codes in lowercase ("eur"); people and ISO in capitals.
    code = currency.upper() if isinstance(currency, str) else ""
    if not _CURRENCY_RE.fullmatch(code):
        raise ValueError(f"not an ISO 4217 currency code: {currency!r}")
    return code
