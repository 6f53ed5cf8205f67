"""Validation details (extensions, hints, types) and merge details (tags, unicity, anchors)."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.compose.merge import merge, parse_yaml, strip_tags
from ansible_collections.berth.engine.plugins.module_utils.compose.validate import validate_file
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput


def test_extensions_allowed_where_compose_allows_them() -> None:
    validate_file({
        "x-top": {"anything": [1]},
        "services": {"web": {"image": "x", "x-svc": 1, "deploy": {"x-d": 1, "resources": {"x-r": 1}},
                             "healthcheck": {"x-h": 1}, "logging": {"x-l": 1}}},
        "networks": {"n": {"x-n": 1, "ipam": {"x-i": 1}}},
        "volumes": {"v": {"x-v": 1}},
    }, "f.yml")


@pytest.mark.parametrize(("data", "field"), [
    ({"services": {"web": {"image": "x", "environment": {"A": [1]}}}}, "services.web.environment.A"),
    ({"services": {"web": {"image": "x", "cap_add": "NET_ADMIN"}}}, "services.web.cap_add"),
    ({"services": {"web": {"image": "x", "depends_on": {"db": {"condition": "x", "wat": 1}}}}},
     "services.web.depends_on.db.wat"),
    ({"services": {"web": {"image": "x", "networks": {"n": {"alias": ["a"]}}}}}, "services.web.networks.n.alias"),
    ({"services": {"web": {"image": "x", "build": {"contxt": "."}}}}, "services.web.build.contxt"),
    ({"services": {"web": {"image": "x", "volumes": [{"source": "a", "target": "/a"}]}}},
     "services.web.volumes[0].type"),
    ({"volumes": {"v": {"externel": True}}}, "volumes.v.externel"),
    ({"secrets": {"s": {"fiel": "x"}}}, "secrets.s.fiel"),
    ({"services": {"web": {"image": "x", "env_file": [{"required": True}]}}}, "services.web.env_file[0].path"),
])
def test_bad_keys_and_types(data: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_file(data, "f.yml")
    assert caught.value.field == field
    assert caught.value.message.startswith("f.yml: ")


def test_unknown_key_suggests_the_near_one() -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_file({"services": {"web": {"image": "x", "enviroment": {}}}}, "f.yml")
    assert caught.value.hint == "did you mean 'environment'?"


def test_tags_and_merge_keys() -> None:
    doc = parse_yaml("base: &b {a: 1, b: 2}\nuse:\n  <<: *b\n  b: 3\nr: !reset null\no: !override [1]\n", "f")
    plain, resets, overrides = strip_tags(doc)
    assert plain["use"] == {"a": 1, "b": 3}
    assert resets == {("r",)} and overrides == {("o",)}
    assert "r" not in plain


def test_reset_removes_from_base_and_override_replaces() -> None:
    base = {"services": {"web": {"ports": [{"target": 1}], "environment": {"A": "1"}, "labels": {"x": "1"}}}}
    other = {"services": {"web": {"environment": {"B": "2"}}}}
    merged = merge(base, other, (), frozenset({("services", "web", "ports")}),
                   frozenset({("services", "web", "environment")}))
    assert merged == {"services": {"web": {"environment": {"B": "2"}, "labels": {"x": "1"}}}}


def test_duplicate_keys_refused_but_merge_keys_may_repeat_them() -> None:
    parse_yaml("a: &a {k: 1}\nb:\n  <<: *a\n  k: 2\n", "f")
    with pytest.raises(InvalidInput, match="duplicate key 'k'"):
        parse_yaml("b:\n  k: 1\n  k: 2\n", "f")


def test_non_string_keys_become_strings() -> None:
    assert parse_yaml("a: {80: x, true: y, 1.5: z}", "f") == {"a": {"80": "x", "true": "y", "1.5": "z"}}
