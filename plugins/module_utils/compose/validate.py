"""Strict validation of a Compose file against the spec's keys and types.

Runs on each file after interpolation (so ``${PORT}`` in an integer field is
checked as its value). An unknown key or a wrong type is an ``InvalidInput``
whose field is the key's path (``services.web.portz``) and whose message
starts with the file's name.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from ..errors import InvalidInput
from .schema_keys import ANY, BOOL, INT, NULL, NUM, STR, TOP, Obj, One, Scalar, Seq

_BOOL_TEXT = frozenset({"true", "false", "yes", "no", "on", "off", "y", "n", "1", "0"})
_INT_TEXT = re.compile(r"[+-]?[0-9]+")
_NUM_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_KIND_NAMES = {STR: "a string", INT: "an integer", NUM: "a number", BOOL: "a boolean", NULL: "null"}


def validate_file(data: Any, source: str) -> None:
    """Raise InvalidInput naming the first bad key of ``data`` (a whole file)."""
    if not isinstance(data, dict):
        raise InvalidInput(f"{source}: the top level must be a mapping, not {_describe(data)}", field="(top level)",
                           hint="a compose file is a mapping with services:, networks:, volumes:, ...")
    _check(TOP, data, "", source)


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _check(schema: Any, value: Any, path: str, source: str) -> None:
    if isinstance(schema, Obj):
        _check_obj(schema, value, path, source)
    elif isinstance(schema, Seq):
        if not isinstance(value, list):
            _wrong(source, path, value, "a list")
        for i, item in enumerate(value):
            _check(schema.item, item, f"{path}[{i}]", source)
    elif isinstance(schema, One):
        _check(_pick(schema, value), value, path, source)
    else:
        _check_scalar(schema, value, path, source)


def _check_obj(schema: Obj, value: Any, path: str, source: str) -> None:
    if not isinstance(value, dict):
        _wrong(source, path, value, "a mapping")
    for key, item in value.items():
        if not isinstance(key, str):
            raise InvalidInput(f"{source}: key {key!r} is not a string", field=_join(path, key),
                               hint="quote the key")
        if schema.ext and key.startswith("x-"):
            continue
        sub = schema.props.get(key, schema.extra)
        if sub is None:
            where = f"in {path}" if path else "at the top level"
            raise InvalidInput(f"{source}: unknown key {key!r} {where}", field=_join(path, key),
                               hint=_known_hint(schema, key))
        _check(sub, item, _join(path, key), source)
    for key in schema.required:
        if key not in value:
            raise InvalidInput(f"{source}: {key!r} is required in {path}", field=_join(path, key))


def _known_hint(schema: Obj, key: str) -> str:
    keys = sorted(schema.props)
    close = difflib.get_close_matches(key, keys, n=1)
    if close:
        return f"did you mean {close[0]!r}?"
    shown = ", ".join(keys[:12]) + (", ..." if len(keys) > 12 else "")
    return f"known keys: {shown}" if keys else "remove it"


def _pick(schema: One, value: Any) -> Any:
    """The alternative matching the value's shape (so the error is the deepest one)."""
    for alt in schema.alts:
        if isinstance(alt, Obj) and isinstance(value, dict):
            return alt
        if isinstance(alt, Seq) and isinstance(value, list):
            return alt
        if isinstance(alt, Scalar) and _scalar_ok(alt, value):
            return alt
    return _Expected(schema)


class _Expected(Scalar):
    """No alternative fits: the error lists what would."""

    def __init__(self, schema: One) -> None:
        super().__init__(())
        self.schema = schema


def _scalar_ok(schema: Scalar, value: Any) -> bool:
    for kind in schema.kinds:
        if kind == ANY:
            return True
        if kind == NULL and value is None:
            return True
        if kind == STR and isinstance(value, str):
            return True
        if kind == BOOL and (isinstance(value, bool) or (isinstance(value, str) and value.lower() in _BOOL_TEXT)):
            return True
        if isinstance(value, bool):
            continue
        if kind == INT and isinstance(value, int):
            return True
        if kind == NUM and isinstance(value, int | float):
            return True
    # a string holding a number is fine where the schema says number-or-string
    return False


def _check_scalar(schema: Scalar, value: Any, path: str, source: str) -> None:
    if isinstance(schema, _Expected):
        wanted = " or ".join(_alt_name(a) for a in schema.schema.alts)
        _wrong(source, path, value, wanted)
    if not _scalar_ok(schema, value):
        _wrong(source, path, value, " or ".join(_KIND_NAMES.get(k, k) for k in schema.kinds))


def _alt_name(alt: Any) -> str:
    if isinstance(alt, Obj):
        return "a mapping"
    if isinstance(alt, Seq):
        return "a list"
    if isinstance(alt, Scalar):
        return " or ".join(_KIND_NAMES.get(k, k) for k in alt.kinds)
    return "something else"


def _wrong(source: str, path: str, value: Any, wanted: str) -> None:
    raise InvalidInput(f"{source}: {path or 'the file'} must be {wanted}, not {_describe(value)}",
                       field=path or "(top level)")


def is_int_text(text: str) -> bool:
    return bool(_INT_TEXT.fullmatch(text.strip()))


def is_num_text(text: str) -> bool:
    return bool(_NUM_TEXT.fullmatch(text.strip()))
