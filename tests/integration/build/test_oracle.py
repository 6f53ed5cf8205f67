"""The Dockerfile corpus built by berth and by `buildah bud`, compared.

Each directory of corpus/ is a build context with a Dockerfile, and
optionally:

* case.json — how to build it: ``dockerfile``, ``build_args``, ``target``,
  ``parent`` ({"dockerfile", "tag"}: an image both builders make first, for
  FROM), ``run`` ([{"args", "stdout"}]: the built image run by berth);
* expect.json — where buildah (the classic builder's semantics) and BuildKit
  differ: ``note`` (which and why), ``buildah_dockerfile`` (buildah builds
  this equivalent instead; with ``buildah_fails`` buildah is also shown to
  refuse the original), ``files`` ({path: facts, or null for absent}) and
  ``config`` ({field: value}) — BuildKit's documented result, which berth must
  give and buildah must *not* (so the note stays true).

Everything else must agree: each path's type, mode, owner, content digest
and link target (tests/support/buildtree.py; runtime artefacts left out) and
the config fields, history's empty_layer flags included.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.integration.build.conftest import CORPUS, BerthBuilder
from tests.support.buildah import Buildah
from tests.support.buildtree import Entry, config_facts, diff_configs, diff_trees, tree

CASES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir())


@dataclass
class Case:
    name: str
    dir: Path
    options: dict[str, Any] = field(default_factory=dict)
    expect: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, name: str) -> Case:
        directory = CORPUS / name
        return cls(name, directory, _read_json(directory / "case.json"), _read_json(directory / "expect.json"))

    @property
    def tag(self) -> str:
        return f"oracle/{self.name.replace('_', '-')}"

    def build_options(self, dockerfile: str | None = None) -> dict[str, Any]:
        return {"dockerfile": dockerfile or self.options.get("dockerfile"),
                "build_args": self.options.get("build_args"), "target": self.options.get("target")}


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {}


@dataclass
class Built:
    tree: dict[str, Entry]
    config: dict[str, Any]
    parent_config: dict[str, Any] | None


class Oracle:
    """buildah's result per case, built once per test process."""

    def __init__(self, buildah: Buildah) -> None:
        self.buildah = buildah
        self.results: dict[str, Built] = {}

    def result(self, case: Case) -> Built:
        if case.name not in self.results:
            self.results[case.name] = self._build(case)
        return self.results[case.name]

    def _build(self, case: Case) -> Built:
        parent = case.options.get("parent")
        parent_config = None
        if parent:
            self.buildah.build(case.dir, parent["tag"], dockerfile=parent["dockerfile"])
            parent_config = config_facts(self.buildah.config(parent["tag"]))
        dockerfile = case.expect.get("buildah_dockerfile")
        self.buildah.build(case.dir, case.tag, **case.build_options(dockerfile))
        return Built(tree(self.buildah.rootfs(case.tag)), config_facts(self.buildah.config(case.tag)), parent_config)


@pytest.fixture(scope="session")
def oracle(buildah: Buildah) -> Oracle:
    return Oracle(buildah)


def _expected_facts(spec: dict[str, Any]) -> dict[str, Any]:
    facts = {k: v for k, v in spec.items() if k != "content"}
    if "content" in spec:
        facts["digest"] = hashlib.sha256(spec["content"].encode()).hexdigest()
    return facts


def _facts_of(entries: dict[str, Entry], path: str, wanted: dict[str, Any]) -> dict[str, Any] | None:
    found = entries.get(path)
    if found is None:
        return None
    facts = found.facts()
    return {k: facts.get(k) for k in wanted}


def _override_mismatches(built: Built, expect: dict[str, Any]) -> list[str]:
    """Where ``built`` differs from expect.json's BuildKit result."""
    lines = []
    for path, spec in (expect.get("files") or {}).items():
        wanted = _expected_facts(spec) if spec is not None else None
        got = _facts_of(built.tree, path, wanted) if wanted is not None else built.tree.get(path)
        if got != wanted:
            lines.append(f"{path}: want {wanted!r}, got {got!r}")
    for name, value in (expect.get("config") or {}).items():
        if built.config.get(name) != value:
            lines.append(f"config {name}: want {value!r}, got {built.config.get(name)!r}")
    for name, value in (expect.get("parent_config") or {}).items():
        got = (built.parent_config or {}).get(name)
        if got != value:
            lines.append(f"parent config {name}: want {value!r}, got {got!r}")
    return lines


@pytest.mark.parametrize("name", CASES)
def test_buildah_still_differs_where_the_notes_say(name: str, oracle: Oracle) -> None:
    """The oracle builds every case, and each written-down difference is real."""
    case = Case.load(name)
    built = oracle.result(case)
    assert built.tree and built.config["layers"] >= 1
    if case.expect.get("buildah_fails"):
        refused = oracle.buildah.bud(case.dir, f"{case.tag}-original", **case.build_options())
        oracle.buildah.remove_containers()
        assert refused.returncode != 0, f"buildah now builds {name}'s Dockerfile: drop buildah_dockerfile"
    for path, spec in (case.expect.get("files") or {}).items():
        wanted = _expected_facts(spec) if spec is not None else None
        got = _facts_of(built.tree, path, wanted) if wanted is not None else built.tree.get(path)
        assert got != wanted, f"{name}: buildah now gives BuildKit's {path}; the note in expect.json is stale"
    for key, value in (case.expect.get("config") or {}).items():
        assert built.config.get(key) != value, f"{name}: buildah now gives BuildKit's {key}; expect.json is stale"


def berth_result(berth: BerthBuilder, case: Case) -> Built:
    parent = case.options.get("parent")
    parent_config = None
    if parent:
        berth.build(case.dir, parent["tag"], dockerfile=parent["dockerfile"])
        parent_config = config_facts(berth.config(parent["tag"]))
    berth.build(case.dir, case.tag, **case.build_options())
    with berth.rootfs(case.tag) as root:
        entries = tree(root)
    return Built(entries, config_facts(berth.config(case.tag)), parent_config)


@pytest.mark.parametrize("name", CASES)
def test_berth_builds_what_the_oracle_builds(name: str, oracle: Oracle, berth_session: BerthBuilder) -> None:
    case = Case.load(name)
    expected = oracle.result(case)
    built = berth_result(berth_session, case)
    paths = frozenset(case.expect.get("files") or {})
    fields = frozenset(case.expect.get("config") or {})
    problems = diff_trees(expected.tree, built.tree, skip=paths)
    problems += diff_configs(expected.config, built.config, skip=fields)
    if expected.parent_config is not None:
        problems += [f"parent {line}" for line in diff_configs(
            expected.parent_config, built.parent_config or {}, skip=frozenset(case.expect.get("parent_config") or {}))]
    problems += [f"BuildKit: {line}" for line in _override_mismatches(built, case.expect)]
    assert not problems, f"{name}:\n" + "\n".join(problems)


RUN_CASES = [name for name in CASES if Case.load(name).options.get("run")]


@pytest.mark.parametrize("name", RUN_CASES)
def test_berth_built_image_runs(name: str, berth_session: BerthBuilder) -> None:
    case = Case.load(name)
    if not _built(berth_session, case.tag):
        berth_result(berth_session, case)
    for check in case.options["run"]:
        result = berth_session("run", "--rm", "--network", "none", case.tag, *check["args"], check=False)
        assert (result.returncode, result.stdout) == (0, check["stdout"]), f"{name} {check['args']}: {result.stderr}"


def _built(berth: BerthBuilder, tag: str) -> bool:
    return berth.store().find(tag) is not None
