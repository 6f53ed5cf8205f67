"""The container module's DOCUMENTATION states every option's default
comparison and update mode exactly as the option table has them."""

from __future__ import annotations

import ast
from pathlib import Path

import yaml

from ansible_collections.berth.engine.plugins.module_utils.containers import options

MODULE = Path(__file__).resolve().parents[3] / "plugins" / "modules" / "container.py"


def _documented_options() -> dict[str, dict]:
    tree = ast.parse(MODULE.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "DOCUMENTATION":
            return yaml.safe_load(node.value.value)["options"]  # type: ignore[attr-defined]
    raise AssertionError("no DOCUMENTATION")


def test_every_row_documents_its_comparison_and_update_mode() -> None:
    documented = _documented_options()
    for option in options.OPTIONS:
        lines = documented[option.name]["description"]
        text = " ".join(lines if isinstance(lines, list) else [lines])
        assert f"Compared C({option.comparison}) by default" in text, option.name
        update = "applied in place" if option.update == "in_place" else "recreates the container"
        assert update in text, option.name


def test_the_argument_spec_is_the_tables() -> None:
    documented = _documented_options()
    for name, spec in options.argument_spec().items():
        assert name in documented, f"{name} is not documented"
        assert documented[name].get("type", "str") == spec.get("type", "str"), name
