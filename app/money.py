"""Amounts of money: integers in the currency's smallest unit (cents, yen, fils), never floats.

The practice's currency (an ISO 4217 code, `PracticeSettings.currency`) says how many digits follow
the decimal point, from CLDR through Babel: USD 2 (15000 is $150.00), JPY 0 (15000 is ¥15,000),
KWD 3 (15000 is KWD 15.000). Text a person typed becomes an amount with `parse_amount`, which refuses
anything it would have to guess at (more decimals than the currency has, grouping in the wrong
place); an amount becomes text with `format_amount` (for reading) or `input_value` (to put back into
a form field). None is "no amount" (a service without a price), never 0.

Services use it for prices; payments reuse the setting and these helpers.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from functools import lru_cache

from babel.core import get_global
from babel.numbers import format_currency, get_currency_name, get_currency_precision, get_territory_currencies

DEFAULT_CURRENCY = "USD"
LOCALE = "en"  # how amounts are written; one locale for now
NO_PRICE = "no price"
MAX_DIGITS = 12  # the most digits an amount may have in its smallest unit (overflow guard)

# "1234", "1234.5", "1,234", "1,234.56": grouping commas only in threes, one decimal point.
_AMOUNT = re.compile(r"^(?P<whole>\d+|\d{1,3}(?:,\d{3})+)(?:\.(?P<fraction>\d+))?$")


class AmountError(ValueError):
    """Text that is not an amount in the currency, with a message fit to show."""


@lru_cache(maxsize=1)
def currencies() -> tuple[str, ...]:
    """ISO 4217 codes of the currencies in use today as legal tender somewhere, sorted."""
    today = date.today()
    codes: set[str] = set()
    for territory in get_global("territory_currencies"):
        codes.update(get_territory_currencies(territory, start_date=today, tender=True))
    return tuple(sorted(codes))


def is_currency(code: str | None) -> bool:
    return code in currencies()


def currency_name(code: str) -> str:
    return get_currency_name(code, locale=LOCALE)


def currency_choices() -> list[tuple[str, str]]:
    """(code, "USD: US Dollar") for a select list."""
    return [(code, f"{code}: {currency_name(code)}") for code in currencies()]


def minor_digits(currency: str) -> int:
    """Digits after the decimal point in `currency` (USD 2, JPY 0, KWD 3)."""
    return get_currency_precision(currency)


def example(currency: str) -> str:
    """How an amount is typed in `currency`: "120 or 120.50", "1200", "120 or 120.500"."""
    digits = minor_digits(currency)
    return "1200" if digits == 0 else f"120 or 120.{'5'.ljust(digits, '0')}"


def parse_amount(text: str | None, currency: str, noun: str = "amount") -> int | None:
    """What a person typed -> the amount in the currency's smallest unit; blank -> None.

    Raises AmountError (its message names `noun`) for anything else: letters, signs, grouping
    that is not in threes, or more decimals than the currency has ("1.234" is not a thousand).
    """
    text = (text or "").strip().replace("\u00a0", "").replace(" ", "")
    if not text:
        return None
    digits = minor_digits(currency)
    match = _AMOUNT.match(text)
    if match is None:
        raise AmountError(f"Enter a {noun} like {example(currency)}.")
    whole, fraction = match.group("whole").replace(",", ""), match.group("fraction") or ""
    if len(fraction) > digits:
        if digits == 0:
            raise AmountError(
                f"Amounts in {currency} have no decimal places: enter a whole number like 1200 or 1,200."
            )
        hint = " For a thousand, write 1000 or 1,000." if len(fraction) == 3 else ""
        raise AmountError(
            f"Amounts in {currency} have at most {digits} decimal places, so {text} cannot be read.{hint}"
        )
    amount = int(whole + fraction.ljust(digits, "0")) if digits else int(whole)
    if len(str(amount)) > MAX_DIGITS:
        raise AmountError(f"That {noun} is too large.")
    return amount


def _major(amount: int, currency: str) -> Decimal:
    return Decimal(amount).scaleb(-minor_digits(currency))


def format_amount(amount: int | None, currency: str, locale: str = LOCALE) -> str:
    """An amount for reading, in `locale`: "$1,234.56", "¥1,500", "KWD 1.500"; None -> "no price"."""
    if amount is None:
        return NO_PRICE
    return format_currency(_major(amount, currency), currency, locale=locale, currency_digits=True)


def input_value(amount: int | None, currency: str) -> str:
    """An amount as a form field holds it (parses back to the same amount): "1234.56", "1500", ""."""
    if amount is None:
        return ""
    digits = minor_digits(currency)
    return f"{_major(amount, currency):.{digits}f}"
