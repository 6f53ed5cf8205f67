"""Every case under corpus/valid/ loads to its hand-written config.json,
compared field by field (each service's keys, each top-level resource)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.compose.loader import load_project

CORPUS = Path(__file__).parent / "corpus" / "valid"
CASES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir())


def _expected(case: Path) -> dict[str, Any]:
    text = (case / "config.json").read_text()
    text = text.replace("@DIR@", str(case)).replace("@HOME@", os.path.expanduser("~"))
    return json.loads(text)


def _load(case: Path) -> dict[str, Any]:
    args = json.loads((case / "args.json").read_text()) if (case / "args.json").exists() else {}
    files = [str(case / f) for f in args.pop("files", [])]
    environ = args.pop("environ", {})
    return load_project(files, project_dir=str(case), environ=environ, **args).to_config()


def test_corpus_has_cases() -> None:
    assert len(CASES) >= 10


@pytest.mark.parametrize("name", CASES)
def test_config_field_by_field(name: str) -> None:
    case = CORPUS / name
    got, want = _load(case), _expected(case)
    assert got["name"] == want["name"]
    assert sorted(got["services"]) == sorted(want["services"])
    for service, spec in want["services"].items():
        have = got["services"][service]
        assert sorted(have) == sorted(spec), f"services.{service}: keys differ"
        for key, value in spec.items():
            assert have[key] == value, f"services.{service}.{key}"
    for kind in ("networks", "volumes", "configs", "secrets"):
        assert got.get(kind, {}) == want.get(kind, {}), kind
    extras = {k for k in want if k.startswith("x-")}
    assert {k for k in got if k.startswith("x-")} == extras
    for key in extras:
        assert got[key] == want[key]


def test_config_is_json_serialisable() -> None:
    for name in CASES:
        json.dumps(_load(CORPUS / name))
