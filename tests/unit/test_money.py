"""Money for people to read, from integer minor units."""

from __future__ import annotations

import pytest

from core.money import currency_exponent, format_money, format_price


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [(2500, "EUR", "EUR 25.00"), (123456, "eur", "EUR 1,234.56"), (5, "USD", "USD 0.05"), (2500, "JPY", "JPY 2,500"),
     (1234, "KWD", "KWD 1.234"), (-150, "GBP", "GBP -1.50"), (0, "EUR", "EUR 0.00")],
)  # fmt: skip
def test_amounts_read_in_their_currency(minor, currency, text):
    assert format_money(minor, currency) == text


def test_a_price_of_nothing_is_free():
    assert format_price(0, "EUR") == "Free"
    assert format_price(100, "EUR") == "EUR 1.00"


def test_exponents_follow_iso_4217():
    assert [currency_exponent(c) for c in ("EUR", "JPY", "BHD")] == [2, 0, 3]


@pytest.mark.parametrize("currency", ["EURO", "", "12A", None])
def test_a_bad_currency_code_is_refused(currency):
    with pytest.raises(ValueError):
        format_money(100, currency)


def test_amounts_are_integers():
    with pytest.raises(TypeError):
        format_money(25.0, "EUR")
