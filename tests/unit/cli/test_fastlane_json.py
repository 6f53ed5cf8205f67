"""The fast lane's JSON (protocol.dumps and protocol.loads: json's C
accelerator without the json package) is json's: the same text out, the
same values in, the same errors, on generated values and lines."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.berth.engine.plugins.module_utils.containers import protocol

FUZZ = settings(max_examples=600, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])
LEAVES = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(min_value=-2**200, max_value=2**200),
                   st.floats(), st.text())
VALUES = st.recursive(LEAVES, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(st.text(max_size=6), inner, max_size=4)),
                      max_leaves=20)
KEYS = st.one_of(st.text(max_size=6), st.integers(), st.floats(), st.booleans(), st.none())


def outcome(call: Any, *args: Any) -> tuple[str, Any]:
    """What a call gives: its value (as JSON text, so NaN equals NaN), or its error's type and text."""
    try:
        return "value", json.dumps(call(*args), sort_keys=False)
    except Exception as err:
        return type(err).__name__, str(err)


@FUZZ
@given(value=st.dictionaries(KEYS, VALUES, max_size=5))
def test_dumps_writes_what_json_writes(value: dict[Any, Any]) -> None:
    assert outcome(protocol.dumps, value) == outcome(lambda v: json.dumps(v, separators=(",", ":")), value)


@FUZZ
@given(value=VALUES)
def test_loads_reads_what_json_reads(value: Any) -> None:
    text = json.dumps(value)
    for line in (text, text.encode(), f" \t{text}\r\n".encode(), text + " x", text[:-1]):
        assert outcome(protocol.loads, line) == outcome(json.loads, line)


@FUZZ
@given(line=st.one_of(st.binary(max_size=12), st.text(max_size=12),
                      st.sampled_from(["", " ", "{", "[1,]", "NaN", "-Infinity", "1e999", '"\\ud800"', '{"a":1}{',
                                       "\ufeff{}", "nul", "01", '"\x01"'])))
def test_anything_else_fails_as_json_fails(line: bytes | str) -> None:
    assert outcome(protocol.loads, line) == outcome(json.loads, line)


ENCODINGS = ("utf-8-sig", "utf-16", "utf-16-le", "utf-32", "utf-32-be")


@pytest.mark.parametrize("line", ['{"a": 1}'.encode(enc) for enc in ENCODINGS])
def test_other_encodings_are_read_as_json_reads_them(line: bytes) -> None:
    assert protocol.loads(line) == json.loads(line) == {"a": 1}


def test_unserialisable_and_circular_values_raise_json_errors() -> None:
    circular: dict[str, Any] = {}
    circular["self"] = circular
    for value in ({"a": object()}, circular, {"a": {1, 2}}):
        assert outcome(protocol.dumps, value) == outcome(lambda v: json.dumps(v, separators=(",", ":")), value)
    assert protocol.dumps({"ok": [1.5, math.inf]}) == '{"ok":[1.5,Infinity]}'
