"""Healthchecks (Docker's semantics): the probe's command, its timing, and the
status a probe result leads to. Pure functions; the monitor runs the probes.

status: starting → healthy after a passing probe; unhealthy after ``retries``
consecutive failures (failures inside ``start_period`` do not count).
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import InvalidInput

DEFAULTS = {"interval": 30.0, "timeout": 30.0, "retries": 3, "start_period": 0.0}
LOG_KEEP = 5
OUTPUT_KEEP = 4096
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: Any, field: str) -> float:
    """'1m30s', '500ms', 30 (seconds) -> seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise InvalidInput(f"{field}: {value!r} is not a duration", field=field, hint="use e.g. 30s, 1m30s, 500ms")
    return sum(float(number) * _UNITS[unit] for number, unit in parts)


def from_option(option: dict[str, Any] | None) -> dict[str, Any] | None:
    """The module's / CLI's healthcheck (community.docker's shape); None = none given."""
    if not option:
        return None
    test = option.get("test")
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    if not test or not isinstance(test, list) or test[0] not in ("CMD", "CMD-SHELL", "NONE"):
        raise InvalidInput(f"healthcheck.test {test!r} is not valid", field="healthcheck.test",
                           hint='give ["CMD", "prog", "arg"], ["CMD-SHELL", "cmd"], a string, or ["NONE"]')
    config = {"test": [str(t) for t in test]}
    for key in ("interval", "timeout", "start_period"):
        config[key] = parse_duration(option[key], f"healthcheck.{key}") if option.get(key) is not None \
            else DEFAULTS[key]
    config["retries"] = int(option.get("retries") or DEFAULTS["retries"])
    return config


def from_image(image_config: dict[str, Any]) -> dict[str, Any] | None:
    """The image's HEALTHCHECK (durations in nanoseconds, 0 = default)."""
    check = image_config.get("Healthcheck") or {}
    if not check.get("Test"):
        return None
    config = {"test": list(check["Test"])}
    for key, name in (("interval", "Interval"), ("timeout", "Timeout"), ("start_period", "StartPeriod")):
        config[key] = check.get(name) / 1e9 if check.get(name) else DEFAULTS[key]
    config["retries"] = check.get("Retries") or DEFAULTS["retries"]
    return config


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
