"""Interpolation as compose-go's template package does it (own table)."""

from __future__ import annotations

import pytest

from ansible_collections.berth.engine.plugins.module_utils.compose.interpolate import (
    TemplateError,
    interpolate_tree,
    substitute,
)
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput

ENV = {"NAME": "berth", "EMPTY": "", "PORT": "8080", "JSON": '{"a":1}'}

CASES = [
    ("plain text", "plain text"),
    ("$NAME", "berth"),
    ("${NAME}", "berth"),
    ("$NAME-x", "berth-x"),               # a named variable stops at the first non-name character
    ("$NAME_x", ""),                      # ... and NAME_x is a different (unset) name
    ("${NAME}_x", "berth_x"),
    ("$$NAME", "$NAME"),
    ("$${NAME}", "${NAME}"),
    ("cost: $5", "cost: $5"),             # not a name: left alone
    ("end$", "end$"),
    ("$}", "$}"),
    ("${UNSET}", ""),
    ("${EMPTY}", ""),
    ("${UNSET:-d}", "d"),
    ("${UNSET-d}", "d"),
    ("${EMPTY:-d}", "d"),
    ("${EMPTY-d}", ""),
    ("${NAME:-d}", "berth"),
    ("${UNSET:+a}", ""),
    ("${UNSET+a}", ""),
    ("${EMPTY:+a}", ""),
    ("${EMPTY+a}", "a"),
    ("${NAME:+a}", "a"),
    ("${NAME?e}", "berth"),
    ("${EMPTY?e}", ""),
    ("${UNSET:-${NAME}}", "berth"),
    ("${UNSET:-${ALSO:-${NAME}-deep}}", "berth-deep"),
    ("${UNSET:-$NAME and ${PORT}}", "berth and 8080"),
    ("${EMPTY+$NAME ${PORT:+on}}", "berth on"),
    ("${UNSET:-a:-b}", "a:-b"),
    ("${UNSET:-x} then ${NAME}", "x then berth"),   # text after a default is interpolated too
    ("-${UNSET:-d}-${EMPTY:-e}-", "-d-e-"),
    ("${name}", ""),                                 # names are case-sensitive
    ("${JSON}", '{"a":1}'),
    ("http://${NAME}:${PORT}/", "http://berth:8080/"),
]


@pytest.mark.parametrize(("template", "expected"), CASES)
def test_substitute(template: str, expected: str) -> None:
    assert substitute(template, ENV.get) == expected


@pytest.mark.parametrize("template", ["${", "${}", "${ NAME}", "${NAME }", "${NAME!}", "${1A}", "x ${A"])
def test_invalid_templates(template: str) -> None:
    with pytest.raises(TemplateError, match="Invalid template"):
        substitute(template, ENV.get)


@pytest.mark.parametrize(("template", "message"), [
    ("${UNSET:?tell me}", "required variable UNSET is missing a value: tell me"),
    ("${EMPTY:?empty too}", "required variable EMPTY is missing a value: empty too"),
    ("${UNSET?}", "required variable UNSET is missing a value"),
    ("${UNSET:?}", "required variable UNSET is missing a value"),
    ("${UNSET?needs ${NAME}}", "required variable UNSET is missing a value: needs berth"),
])
def test_required(template: str, message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        substitute(template, ENV.get)
    assert str(caught.value) == message


def test_lazy_branches_are_not_evaluated() -> None:
    # the unused branch may hold a required variable without failing
    assert substitute("${NAME:-${UNSET:?boom}}", ENV.get) == "berth"
    assert substitute("${UNSET:+${UNSET:?boom}}", ENV.get) == ""


def test_tree_interpolates_values_not_keys() -> None:
    tree = {"$NAME": ["${PORT}", 3, None, {"k": "$$x"}]}
    assert interpolate_tree(tree, ENV.get, path="", source="f.yml") == {"$NAME": ["8080", 3, None, {"k": "$x"}]}


def test_tree_error_names_path_and_file() -> None:
    with pytest.raises(InvalidInput) as caught:
        interpolate_tree({"services": {"web": {"ports": ["${P:?no port}"]}}}, ENV.get, path="", source="c.yml")
    assert caught.value.field == "services.web.ports[0]"
    assert caught.value.message.startswith("c.yml: required variable P")
