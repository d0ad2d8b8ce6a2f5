"""Amounts in the currency's smallest unit: parsing what a person types and formatting for reading,
for a two-decimal (USD), a zero-decimal (JPY) and a three-decimal (KWD) currency."""

from __future__ import annotations

import pytest

from app.money import (
    NO_PRICE,
    AmountError,
    currencies,
    currency_choices,
    format_amount,
    input_value,
    is_currency,
    minor_digits,
    parse_amount,
)


def test_minor_digits_come_from_the_currency():
    assert [minor_digits(code) for code in ("USD", "JPY", "KWD", "EUR")] == [2, 0, 3, 2]


@pytest.mark.parametrize(
    "typed, currency, amount",
    [
        ("1,234.56", "USD", 123456),
        ("1234", "USD", 123400),
        ("1.5", "USD", 150),
        ("0.05", "USD", 5),
        ("0", "USD", 0),
        (" 120.50 ", "USD", 12050),
        ("1,234,567", "USD", 123456700),
        ("1234", "JPY", 1234),
        ("1,500", "JPY", 1500),
        ("1.5", "KWD", 1500),
        ("1,234.567", "KWD", 1234567),
        ("12", "KWD", 12000),
    ],
)
def test_parsing(typed, currency, amount):
    assert parse_amount(typed, currency) == amount


@pytest.mark.parametrize("blank", [None, "", "   "])
def test_blank_is_no_amount_not_zero(blank):
    assert parse_amount(blank, "USD") is None


@pytest.mark.parametrize(
    "typed, currency, message",
    [
        ("1.234", "USD", "Amounts in USD have at most 2 decimal places, so 1.234 cannot be read."),
        ("1.234", "USD", "For a thousand, write 1000 or 1,000."),
        ("1.5", "JPY", "Amounts in JPY have no decimal places: enter a whole number"),
        ("1.2345", "KWD", "Amounts in KWD have at most 3 decimal places"),
        ("abc", "USD", "Enter a price like 120 or 120.50."),
        ("12,34", "USD", "Enter a price like 120 or 120.50."),
        ("-5", "USD", "Enter a price like 120 or 120.50."),
        ("1.2.3", "USD", "Enter a price like 120 or 120.50."),
        ("$5", "USD", "Enter a price like 120 or 120.50."),
        ("abc", "JPY", "Enter a price like 1200."),
        ("abc", "KWD", "Enter a price like 120 or 120.500."),
        ("9" * 13, "JPY", "That price is too large."),
    ],
)
def test_refusals_say_what_is_wrong(typed, currency, message):
    with pytest.raises(AmountError) as refused:
        parse_amount(typed, currency, noun="price")
    assert message in str(refused.value)


def test_formatting_for_reading():
    assert format_amount(123456, "USD") == "$1,234.56"
    assert format_amount(15000, "USD") == "$150.00"
    assert format_amount(1500, "JPY") == "¥1,500"
    assert format_amount(1500, "KWD").replace("\xa0", " ") in ("KWD1.500", "KWD 1.500")
    assert format_amount(0, "USD") == "$0.00"
    assert format_amount(None, "USD") == NO_PRICE == "no price"


@pytest.mark.parametrize(
    "amount, currency, shown", [(123456, "USD", "1234.56"), (1500, "JPY", "1500"), (1500, "KWD", "1.500")]
)
def test_form_values_parse_back_to_the_same_amount(amount, currency, shown):
    assert input_value(amount, currency) == shown
    assert parse_amount(shown, currency) == amount
    assert input_value(None, currency) == ""


def test_the_currency_list_is_iso_4217_codes_in_use():
    codes = currencies()
    assert {"USD", "EUR", "GBP", "JPY", "KWD", "CHF", "CAD", "AUD"} <= set(codes)
    assert all(len(code) == 3 and code.isupper() for code in codes)
    assert not is_currency("DEM") and not is_currency("usd") and not is_currency("XYZ")
    assert ("USD", "USD: US Dollar") in currency_choices()
