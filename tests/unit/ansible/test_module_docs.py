"""Every module's docs as community.docker users expect them: RETURN values with
samples, EXAMPLES that exist and name only options the module documents.

(container's comparison sentences and its EXAMPLES' values are checked more
closely by test_container_docs.py.)
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
import yaml

MODULES = sorted(p.stem for p in (Path(__file__).resolve().parents[3] / "plugins" / "modules").glob("*.py")
                 if p.stem != "__init__")
PACKAGE = "ansible_collections.berth.engine.plugins"


def _module(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.modules.{name}")


def _fragment_options(reference: str) -> dict[str, Any]:
    """The options a doc fragment such as ``berth.engine.engine`` (or ``...attributes.converge``) adds."""
    fragment, _dot, variant = reference.removeprefix("berth.engine.").partition(".")
    holder = importlib.import_module(f"{PACKAGE}.doc_fragments.{fragment}").ModuleDocFragment
    return (yaml.safe_load(getattr(holder, variant.upper() or "DOCUMENTATION")) or {}).get("options") or {}


def _accepted_names(name: str) -> set[str]:
    """The option names (and aliases) a task of this module may give."""
    documentation = yaml.safe_load(_module(name).DOCUMENTATION)
    options = dict(documentation["options"])
    for reference in documentation.get("extends_documentation_fragment") or []:
        options.update(_fragment_options(reference))
    return {alias for option, spec in options.items() for alias in (option, *(spec.get("aliases") or []))}


def _unsampled(values: dict[str, Any], path: str = "") -> list[str]:
    """Return values with no sample of their own and, when they contain others, some of those without one."""
    missing = []
    for key, spec in values.items():
        where = f"{path}{key}"
        if "sample" in spec:
            continue
        inner = _unsampled(spec["contains"], f"{where}.") if "contains" in spec else [where]
        missing.extend(inner)
    return missing


@pytest.mark.parametrize("name", MODULES)
def test_every_return_value_has_a_sample(name: str) -> None:
    assert _unsampled(yaml.safe_load(_module(name).RETURN) or {}) == []


@pytest.mark.parametrize("name", MODULES)
def test_examples_cover_more_than_one_case_and_use_documented_options(name: str) -> None:
    tasks = [task for task in yaml.safe_load(_module(name).EXAMPLES) if f"berth.engine.{name}" in task]
    assert len(tasks) >= 2, f"{name}: EXAMPLES should show its common cases"
    accepted = _accepted_names(name)
    for task in tasks:
        given = set(task[f"berth.engine.{name}"] or {})
        assert given <= accepted, f"{name}: example {task.get('name')!r} gives unknown {sorted(given - accepted)}"
