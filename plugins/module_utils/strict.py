"""Strict number parsing for user-facing options.

Python's ``int()`` takes any Unicode decimal digit (``int("١٢")`` is 12),
surrounding whitespace, ``_`` separators and a sign, and ``str.isdigit()``
is true for ``"²"`` which ``int()`` then refuses with a bare ValueError.
Every parser of a user-facing number goes through here instead: ASCII digits
only, nothing else, and a length cap so a 5,000-digit string never reaches
``int()`` (which raises past 4,300 digits).
"""

from __future__ import annotations

from .errors import InvalidInput

INT64_MAX = 2**63 - 1
UINT32_MAX = 2**32 - 1
_MAX_DIGITS = 40  # far beyond any bound we check, far below int()'s 4,300-digit limit


def brief(value: object, limit: int = 60) -> str:
    """``repr(value)``, cut short: error messages echo user input, which may be huge."""
    text = repr(value) if not isinstance(value, int) or abs(value).bit_length() <= 128 else "(a huge number)"
    return text if len(text) <= limit else f"{text[:limit]}...'"


def is_ascii_digits(text: object) -> bool:
    """``text`` is a non-empty string of the ASCII digits 0-9 only."""
    return isinstance(text, str) and text != "" and text.isascii() and text.isdigit()


def parse_uint(text: object, *, field: str, what: str, maximum: int = INT64_MAX, minimum: int = 0,
               hint: str | None = None) -> int:
    """A whole number written in ASCII digits, ``minimum..maximum``.

    An ``int`` (not a bool) is taken as is, within the same bounds."""
    if isinstance(text, bool):
        raise InvalidInput(f"{what} {text!r} is a boolean, not a number", field=field, hint=hint or "give a number")
    if isinstance(text, int):
        value = text
    elif not is_ascii_digits(text):
        raise InvalidInput(f"{what} {brief(text)} is not a whole number", field=field,
                           hint=hint or "write it with the digits 0-9 only")
    else:
        digits = text.lstrip("0") or "0"  # type: ignore[union-attr]
        value = maximum + 1 if len(digits) > _MAX_DIGITS else int(digits)
    if not minimum <= value <= maximum:
        raise InvalidInput(f"{what} {brief(value)} is out of range", field=field,
                           hint=hint or f"use {minimum}..{maximum}")
    return value
