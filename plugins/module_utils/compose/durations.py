"""Compose durations (``1m30s``, ``500ms``, ``2h``) printed as Go prints them."""

from __future__ import annotations

import re

from ..errors import InvalidInput

_UNITS = {"ns": 1, "us": 10**3, "µs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9,
          "d": 86400 * 10**9, "w": 7 * 86400 * 10**9}
_PART = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|µs|ms|s|m|h|d|w)")
HINT = "write a duration such as 30s, 1m30s, 500ms or 2h"


def parse_duration(value: object, field: str, source: str) -> int:
    """Nanoseconds; a bare number counts as seconds (compose accepts ``10``)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidInput(f"{source}: {value!r} is not a duration", field=field, hint=HINT)
    if isinstance(value, int | float):
        return int(value * 10**9)
    text = value.strip()
    if re.fullmatch(r"[0-9]+", text):
        return int(text) * 10**9
    pos, total = 0, 0
    sign = -1 if text.startswith("-") else 1
    text = text.lstrip("+-")
    while pos < len(text):
        match = _PART.match(text, pos)
        if match is None:
            raise InvalidInput(f"{source}: {value!r} is not a duration", field=field, hint=HINT)
        total += int(float(match[1]) * _UNITS[match[2]])
        pos = match.end()
    if not text:
        raise InvalidInput(f"{source}: {value!r} is not a duration", field=field, hint=HINT)
    return sign * total


def go_duration(ns: int) -> str:
    """Go's time.Duration.String(): 1m30s, 1h0m0s, 500ms, 1.5s, 0s."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 10**9:
        for unit, size in (("ms", 10**6), ("µs", 10**3), ("ns", 1)):
            if ns >= size:
                return sign + _frac(ns, size) + unit
    hours, rest = divmod(ns, 3600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    seconds = _frac(rest, 10**9) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}"
    if minutes:
        return f"{sign}{minutes}m{seconds}"
    return sign + seconds


def _frac(value: int, unit: int) -> str:
    whole, frac = divmod(value, unit)
    if not frac:
        return str(whole)
    digits = str(frac).rjust(len(str(unit)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"


def normalize_duration(value: object, field: str, source: str) -> str:
    return go_duration(parse_duration(value, field, source))
