"""Healthchecks (Docker's semantics): the probe's command, its timing, and the
status a probe result leads to. Pure functions; the monitor runs the probes.

status: starting → healthy after a passing probe; unhealthy after ``retries``
consecutive failures (failures inside ``start_period`` do not count).
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import InvalidInput
from ..strict import brief, parse_uint

DEFAULTS = {"interval": 30.0, "timeout": 30.0, "retries": 3, "start_period": 0.0}
LOG_KEEP = 5
OUTPUT_KEEP = 4096
OPTION_KEYS = ("test", "interval", "timeout", "start_period", "retries")
# Go's time.Duration, which Docker parses durations into: ASCII digits, an
# optional fraction, then a unit, repeated ("1m30s"); "0" alone is zero.
_DURATION = re.compile(r"([0-9]{1,20}(?:\.[0-9]{1,20})?)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)", re.ASCII)
_UNITS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "\u03bcs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
MAX_DURATION = (2**63 - 1) / 1e9  # seconds: time.Duration's limit (about 292 years)
MIN_DURATION = 1e-3  # Docker: a healthcheck duration, if not zero, is at least 1ms
MAX_RETRIES = 2**31 - 1
DURATION_HINT = "use e.g. 30s, 1m30s, 500ms, or a number of seconds"


def parse_duration(value: Any, field: str) -> float:
    """'1m30s', '500ms', 30 (seconds) -> seconds, 0 up to time.Duration's limit."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidInput(f"{brief(value)} is not a duration", field=field, hint=DURATION_HINT)
    if isinstance(value, int) and abs(value) > MAX_DURATION:  # before float(), which overflows on huge ints
        raise InvalidInput(f"{brief(value)} seconds is too long", field=field, hint="give at most 292 years")
    seconds = _duration_text(value, field) if isinstance(value, str) else float(value)
    if not 0 <= seconds <= MAX_DURATION:  # false for nan too
        raise InvalidInput(f"{brief(value)} is not a duration from 0 to 292 years", field=field, hint=DURATION_HINT)
    return seconds


def _duration_text(value: str, field: str) -> float:
    text = value.strip(" \t")
    if text == "0":
        return 0.0
    parts = _DURATION.findall(text) if len(text) <= 200 else []
    if not parts or "".join(n + u for n, u in parts) != text:
        raise InvalidInput(f"{brief(value)} is not a duration", field=field, hint=DURATION_HINT)
    return sum(float(number) * _UNITS[unit] for number, unit in parts)


def from_option(option: dict[str, Any] | None) -> dict[str, Any] | None:
    """The module's / CLI's healthcheck (community.docker's shape); None = none given.
    Docker's rules: a zero interval or timeout (and zero retries) mean the
    default; a non-zero duration is at least 1ms."""
    if not option:
        return None
    if not isinstance(option, dict):
        raise InvalidInput(f"{brief(option)} is not a healthcheck", field="healthcheck",
                           hint=f"give a dict with {', '.join(OPTION_KEYS)}")
    unknown = sorted(str(k) for k in option if k not in OPTION_KEYS)
    if unknown:
        raise InvalidInput(f"unknown keys {unknown}", field="healthcheck",
                           hint=f"a healthcheck takes {', '.join(OPTION_KEYS)}")
    config: dict[str, Any] = {"test": _test(option.get("test"))}
    for key in ("interval", "timeout", "start_period"):
        seconds = parse_duration(option[key], f"healthcheck.{key}") if option.get(key) is not None else 0.0
        if 0 < seconds < MIN_DURATION:
            raise InvalidInput(f"{brief(option[key])} is shorter than 1ms", field=f"healthcheck.{key}",
                               hint="give at least 1ms, or 0 for the default")
        config[key] = seconds or DEFAULTS[key]
    retries = option.get("retries")
    config["retries"] = parse_uint(retries, field="healthcheck.retries", what="retries", maximum=MAX_RETRIES) \
        if retries is not None else 0
    config["retries"] = config["retries"] or DEFAULTS["retries"]
    return config


def _test(test: Any) -> list[str]:
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    hint = 'give ["CMD", "prog", "arg"], ["CMD-SHELL", "cmd"], a string, or ["NONE"]'
    if not isinstance(test, list) or not test or not all(isinstance(t, str) for t in test) \
            or test[0] not in ("CMD", "CMD-SHELL", "NONE"):
        raise InvalidInput(f"{brief(test)} is not a healthcheck test", field="healthcheck.test", hint=hint)
    if test[0] != "NONE" and not any(t.strip() for t in test[1:]):
        raise InvalidInput(f"{brief(test)} has no command", field="healthcheck.test", hint=hint)
    if any("\0" in t for t in test):
        raise InvalidInput(f"{brief(test)} contains a NUL byte", field="healthcheck.test", hint=hint)
    return list(test)


def from_image(image_config: dict[str, Any]) -> dict[str, Any] | None:
    """The image's HEALTHCHECK (durations in nanoseconds, 0 = default); an
    image is untrusted input, so a malformed one is refused, naming the key."""
    check = image_config.get("Healthcheck") or {}
    if not isinstance(check, dict) or not check.get("Test"):
        return None
    test = check["Test"]
    if not isinstance(test, list) or not all(isinstance(t, str) for t in test):
        raise InvalidInput(f"the image's Healthcheck.Test {brief(test)} is not a list of strings",
                           field="image.config.Healthcheck.Test", hint="rebuild the image with a valid HEALTHCHECK")
    config: dict[str, Any] = {"test": list(test)}
    for key, name in (("interval", "Interval"), ("timeout", "Timeout"), ("start_period", "StartPeriod")):
        nanos = _image_number(check, name)
        config[key] = nanos / 1e9 if nanos else DEFAULTS[key]
    config["retries"] = _image_number(check, "Retries") or DEFAULTS["retries"]
    return config


def _image_number(check: dict[str, Any], name: str) -> int:
    value = check.get(name)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2**63 - 1:
        raise InvalidInput(f"the image's Healthcheck.{name} {brief(value)} is not a whole number",
                           field=f"image.config.Healthcheck.{name}", hint="rebuild the image with a valid HEALTHCHECK")
    return value


def probe_argv(config: dict[str, Any] | None) -> list[str] | None:
    if not config or config["test"][0] == "NONE":
        return None
    if config["test"][0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(config["test"][1:])]
    return config["test"][1:]


def after_probe(health: dict[str, Any], config: dict[str, Any], *, passed: bool, exit_code: int, output: str,
                start: str, end: str, in_start_period: bool) -> dict[str, Any]:
    """The container's health after one probe."""
    log = [*health.get("log", []), {"start": start, "end": end, "exit_code": exit_code,
                                    "output": output[-OUTPUT_KEEP:]}][-LOG_KEEP:]
    if passed:
        return {"status": "healthy", "failing_streak": 0, "log": log}
    if in_start_period:
        return {**health, "log": log}
    streak = health.get("failing_streak", 0) + 1
    status = "unhealthy" if streak >= config["retries"] else health.get("status", "starting")
    return {"status": status, "failing_streak": streak, "log": log}
