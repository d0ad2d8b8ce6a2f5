"""Colours and their contrast, the WCAG 2 way: relative luminance and the contrast ratio of two
colours, for the practice's accent colour.

The accent is a button's background behind white text, and the colour of links on the page, so it
must reach AA for normal text (4.5:1) against both before it is accepted.
"""

from __future__ import annotations

import math
import re

from blueprints.notifications.look import DEFAULT_ACCENT  # noqa: F401  (one default for pages and emails)

AA_NORMAL_TEXT = 4.5
WHITE = "#ffffff"
# The page's background behind links. Keep in step with the site CSS (`body` background).
PAGE_BACKGROUND = "#ffffff"

_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")


def parse_hex(value: str | None) -> str | None:
    """`value` as "#rrggbb" (lower case), or None when it is not six hex digits (with or without #)."""
    match = _HEX.match((value or "").strip())
    return f"#{match.group(1).lower()}" if match else None


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(colour: str) -> float:
    """Relative luminance of "#rrggbb" (0 for black, 1 for white)."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(a: str, b: str) -> float:
    """The contrast ratio of two "#rrggbb" colours, from 1 (the same) to 21 (black on white)."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def shown(ratio: float) -> str:
    """A ratio as people read it ("3.95:1"), rounded down so that a failing ratio never reads 4.50."""
    return f"{math.floor(ratio * 100) / 100:.2f}:1"


def accent_problem(colour: str, page_background: str = PAGE_BACKGROUND) -> str | None:
    """Why `colour` cannot be the accent (which contrast fails, and its ratio), or None."""
    failures = []
    on_accent = contrast(colour, WHITE)
    if on_accent < AA_NORMAL_TEXT:
        failures.append(f"white text on {colour} has a contrast of {shown(on_accent)}")
    on_page = contrast(colour, page_background)
    if on_page < AA_NORMAL_TEXT:
        failures.append(f"{colour} links on the page background ({page_background}) have {shown(on_page)}")
    if not failures:
        return None
    sentence = " and ".join(failures)
    return (
        f"This colour is too light to read: {sentence}. WCAG AA needs at least 4.5:1 for normal text; "
        "choose a darker colour."
    )


def darker(colour: str, amount: float = 0.15) -> str:
    """`colour` with each channel reduced by `amount` (a hover shade; darker keeps its contrast)."""
    channels = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return "#" + "".join(f"{round(c * (1 - amount)):02x}" for c in channels)
