import pytest

from core.money import currency_exponent, format_money, format_price


@pytest.mark.parametrize(
    ("minor", "currency", "expected"),
    [
        (2500, "EUR", "EUR 25.00"),
        (5, "EUR", "EUR 0.05"),
        (0, "USD", "USD 0.00"),
        (123456789, "GBP", "GBP 1,234,567.89"),
        (12000, "JPY", "JPY 12,000"),
        (500, "KRW", "KRW 500"),
        (1500, "KWD", "KWD 1.500"),
        (1, "BHD", "BHD 0.001"),
        (10000, "CLF", "CLF 1.0000"),
        (-2500, "EUR", "EUR -25.00"),
        (-7, "JPY", "JPY -7"),
        (2500, "eur", "EUR 25.00"),
        (999, "CHF", "CHF 9.99"),
    ],
)
def test_format_money(minor, currency, expected):
    assert format_money(minor, currency) == expected


@pytest.mark.parametrize(
    ("currency", "exponent"),
    [
        ("EUR", 2),
        ("USD", 2),
        ("JPY", 0),
        ("ISK", 0),
        ("XOF", 0),
        ("TND", 3),
        ("MAD", 2),
    ],
)
def test_currency_exponent_follows_iso_4217(currency, exponent):
    assert currency_exponent(currency) == exponent


def test_a_price_of_nothing_is_free():
    assert format_price(0, "EUR") == "Free"
    assert format_price(0, "JPY") == "Free"


def test_a_price_of_something_is_money():
    assert format_price(1, "EUR") == "EUR 0.01"


@pytest.mark.parametrize("currency", ["", "EU", "EURO", "E1R", "€", None, 978])
def test_currency_must_be_an_iso_code(currency):
    with pytest.raises(ValueError, match="ISO 4217"):
        format_money(100, currency)
    with pytest.raises(ValueError, match="ISO 4217"):
        format_price(0, currency)


@pytest.mark.parametrize("minor", [25.0, "2500", True, None])
def test_amounts_must_be_integer_minor_units(minor):
    with pytest.raises(TypeError, match="minor units"):
        format_money(minor, "EUR")
