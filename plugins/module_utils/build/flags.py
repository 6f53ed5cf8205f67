"""Instruction flags (BuildKit ``bflag.go``), RUN --mount specs and Go-style durations.

Everything here raises ``FlagError`` (a ValueError with a hint); ``instructions.typed``
turns it into a located DockerfileError.
"""

from __future__ import annotations

import csv
import posixpath
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInput
from ..units import parse_bytes

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

MOUNT_TYPES = ("bind", "cache", "tmpfs", "secret", "ssh")
SHARING = ("shared", "private", "locked")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "\u03bcs": 1e-6, "ms": 1e-3, "s": 1.0,
                   "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"(\d*(?:\.\d*)?)([^\d.]*)")
_MOUNT_KEYS = ("type", "from", "source", "target", "readonly", "id", "sharing", "required", "size", "mode",
               "uid", "gid", "src", "dst", "destination", "ro", "rw", "readwrite", "env")


class InstructionProblem(Exception):
    """An instruction-level problem; ``instructions.typed`` adds the path and the line."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class FlagError(ValueError):
    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class Flags:
    """Parses ``--name[=value]`` items against ``spec`` (name → bool, str or list)."""

    def __init__(self, keyword: str, raw: Iterable[str], spec: dict[str, type]) -> None:
        self.keyword = keyword
        self.raw = tuple(raw)
        self.spec = spec
        self.values: dict[str, object] = {}

    def parse(self) -> Flags:
        for item in self.raw:
            self._one(item)
        return self

    def get(self, name: str) -> Any:
        return self.values.get(name)

    def _one(self, item: str) -> None:
        if not item.startswith("--"):
            raise FlagError(f"arg should start with -- : {item}")
        name, sep, value = item[2:].partition("=")
        kind = self.spec.get(name)
        if kind is None:
            valid = ", ".join(f"--{n}" for n in self.spec) or "none"
            raise FlagError(f"unknown flag: --{name}", f"{self.keyword} accepts: {valid}")
        if kind is list:
            if not sep:
                raise FlagError(f"missing a value on flag: --{name}", f"write --{name}=<value>")
            self.values.setdefault(name, []).append(value)  # type: ignore[union-attr]
            return
        if name in self.values:
            raise FlagError(f"duplicate flag specified: --{name}", f"give --{name} once")
        if kind is bool:
            self.values[name] = _flag_bool(name, value, bool(sep))
        elif not sep:
            raise FlagError(f"missing a value on flag: --{name}", f"write --{name}=<value>")
        else:
            self.values[name] = value


def _flag_bool(name: str, value: str, has_value: bool) -> bool:
    if not has_value:
        return True
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise FlagError(f"expecting boolean value for flag --{name}, not: {value}", f"write --{name} or --{name}=false")


def parse_duration(text: str) -> float:
    """Go's time.ParseDuration ("1m30s", "500ms", "1.5h") in float seconds."""
    body = text
    sign = 1.0
    if body[:1] in "+-" and body:
        sign, body = (-1.0 if body[0] == "-" else 1.0), body[1:]
    if body == "0":
        return 0.0
    if not body:
        raise FlagError(f'time: invalid duration "{text}"', "write a duration such as 30s, 1m30s or 500ms")
    total, pos = 0.0, 0
    while pos < len(body):
        match = _DURATION_PART.match(body, pos)
        number = match.group(1) if match else ""
        if not match or number in ("", "."):
            raise FlagError(f'time: invalid duration "{text}"', "write a duration such as 30s, 1m30s or 500ms")
        unit = match.group(2)
        if not unit:
            raise FlagError(f'time: missing unit in duration "{text}"', "write a duration such as 30s or 1m30s")
        if unit not in _DURATION_UNITS:
            raise FlagError(f'time: unknown unit "{unit}" in duration "{text}"', "units: ns us ms s m h")
        total += float(number) * _DURATION_UNITS[unit]
        pos = match.end()
    return sign * total


def parse_size(text: str) -> int:
    """A tmpfs size ("64m", "1g", "100"; binary multiples, as docker/go-units RAMInBytes)."""
    try:
        return parse_bytes(text, "size")
    except InvalidInput as err:
        raise FlagError(f"invalid value for size: {text}", err.hint) from None


@dataclass(frozen=True)
class RunMount:
    type: str
    target: str
    source: str | None = None
    from_: str | None = None
    readonly: bool = False
    id: str | None = None
    sharing: str | None = None
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    size: int | None = None
    required: bool = False
    env: str | None = None


def _csv_fields(spec: str) -> list[str]:
    try:
        rows = list(csv.reader([spec], strict=True))
    except csv.Error as err:
        raise FlagError(f"failed to parse csv mounts: {err}") from None
    return rows[0] if rows else []


def _parse_bool(key: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "t", "true"):
        return True
    if lowered in ("0", "f", "false"):
        return False
    raise FlagError(f"invalid value for {key}: {value}")


def _uint(key: str, value: str, base: int) -> int:
    try:
        number = int(value, base)
    except ValueError:
        raise FlagError(f"invalid value {value} for {key}") from None
    if number < 0 or number >= 2 ** 32:
        raise FlagError(f"invalid value {value} for {key}")
    return number


class _MountBuilder:
    def __init__(self) -> None:
        self.fields: dict[str, object] = {"type": "bind"}
        self.ro_auto = True

    def flag_only(self, key: str, field: str) -> None:
        if key in ("readonly", "ro", "readwrite", "rw"):
            self.fields["readonly"] = key in ("readonly", "ro")
            self.ro_auto = False
        elif key == "required" and self.fields["type"] in ("secret", "ssh"):
            self.fields["required"] = True
        elif key == "required":
            raise FlagError(f"unexpected key '{key}' for mount type '{self.fields['type']}'")
        else:
            raise FlagError(f"invalid field '{field}' must be a key=value pair")

    def keyed(self, key: str, value: str, field: str) -> None:
        typ = self.fields["type"]
        if key == "type":
            if value.lower() not in MOUNT_TYPES:
                raise FlagError(f"unsupported mount type {value!r}", "types: " + ", ".join(MOUNT_TYPES))
            self.fields["type"] = value.lower()
        elif key in ("from", "id", "env"):
            self.fields[{"from": "from_"}.get(key, key)] = value
        elif key in ("source", "src"):
            self.fields["source"] = value
        elif key in ("target", "dst", "destination"):
            self.fields["target"] = value
        elif key in ("readonly", "ro", "readwrite", "rw"):
            flag = _parse_bool(key, value)
            self.fields["readonly"] = flag if key in ("readonly", "ro") else not flag
            self.ro_auto = False
        elif key == "required" and typ in ("secret", "ssh"):
            self.fields["required"] = _parse_bool(key, value)
        elif key == "size" and typ == "tmpfs":
            self.fields["size"] = parse_size(value)
        elif key in ("required", "size"):
            raise FlagError(f"unexpected key '{key}' for mount type '{typ}'")
        elif key == "sharing":
            if value.lower() not in SHARING:
                raise FlagError(f"unsupported sharing value {value!r}", "sharing: shared, private or locked")
            self.fields["sharing"] = value.lower()
        elif key in ("mode", "uid", "gid"):
            self.fields[key] = _uint(key, value, 8 if key == "mode" else 10)
        else:
            raise FlagError(f"unexpected key '{key}' in '{field}'", "keys: " + ", ".join(_MOUNT_KEYS))

    def build(self) -> RunMount:
        f = self.fields
        typ = f["type"]
        if typ not in ("secret", "ssh", "cache"):
            for key in ("mode", "uid", "gid"):
                if f.get(key) is not None:
                    raise FlagError(f"{key} not allowed for {typ!r} type mounts")
        if self.ro_auto:
            f["readonly"] = typ not in ("cache", "tmpfs")
        if typ == "secret":
            _check_secret(f)
        if f.get("sharing") and typ != "cache":
            raise FlagError(f"invalid cache sharing set for {typ} mount")
        if not f.get("target") and typ not in ("secret", "ssh"):
            raise FlagError(f"mount type {typ} requires a target", "add target=/path")
        if typ == "cache":
            f.setdefault("sharing", "shared")
            f.setdefault("id", f.get("target"))
        f.setdefault("target", "")
        return RunMount(**f)  # type: ignore[arg-type]


def _check_secret(f: dict[str, object]) -> None:
    if f.get("from_"):
        raise FlagError("secret mount should not have a from")
    if f.get("sharing"):
        raise FlagError("secret mount should not define sharing")
    if not (f.get("source") or f.get("target") or f.get("id")):
        raise FlagError("invalid secret mount. one of source, target required")
    if f.get("source") and f.get("id"):
        raise FlagError("both source and id can't be set")


def parse_mount(spec: str, expand: Callable[[str], str] | None) -> RunMount:
    """One ``--mount=`` value. Without ``expand`` (parse time) values holding "$" are not
    checked yet — they are read again once the step's ARG/ENV are known."""
    builder = _MountBuilder()
    for field in _csv_fields(spec):
        key, sep, value = field.partition("=")
        key = key.lower()
        if not sep:
            builder.flag_only(key, field)
            continue
        if expand is not None:
            value = expand(value)
        elif "$" in value:
            if key == "from" and value.index("$") != len(value) - 1:
                raise FlagError("'from' doesn't support variable expansion, define alias stage instead")
            builder.keyed(key, _placeholder(key, value), field)
            continue
        builder.keyed(key, value, field)
    return builder.build()


def _placeholder(key: str, value: str) -> str:
    """A stand-in for a not-yet-expanded value that passes the checks for ``key``."""
    return {"type": "bind", "mode": "0", "uid": "0", "gid": "0", "size": "0", "sharing": "shared",
            "readonly": "true", "ro": "true", "rw": "true", "readwrite": "true",
            "required": "true"}.get(key, value or "/")


def clean_target(target: str) -> str:
    """posix-clean a mount target (relative targets are joined to WORKDIR by the executor)."""
    return posixpath.normpath(target) if target else target


def parse_interval(flags: Flags, name: str) -> float | None:
    """HEALTHCHECK's --interval/--timeout/--start-period/--start-interval: seconds, at least 1 ms."""
    text = flags.get(name)
    if not text:
        return None
    seconds = parse_duration(text)
    if seconds != 0 and seconds < 0.001:
        raise InstructionProblem(f"Interval {name!r} cannot be less than 1ms", f"give --{name} as e.g. 30s or 1m30s")
    return seconds


def parse_retries(flags: Flags) -> int | None:
    """HEALTHCHECK's --retries: a whole number, not negative."""
    text = flags.get("retries")
    if not text:
        return None
    if not re.fullmatch(r"[+-]?\d+", text):
        raise InstructionProblem(f"invalid --retries value {text!r}", "give --retries as a whole number")
    if int(text) < 0:
        raise InstructionProblem(f"--retries cannot be negative ({int(text)})")
    return int(text)
