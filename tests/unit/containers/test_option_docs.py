"""The container module's DOCUMENTATION states every option's default
comparison and update mode exactly as the option table has them (with its
doc fragments merged, as ansible-doc reads it)."""

from __future__ import annotations

from ansible_collections.berth.engine.plugins.module_utils.containers import options
from ansible_collections.berth.engine.plugins.modules import container
from tests.unit.test_module_contract import documentation_of


def _documented_options() -> dict[str, dict]:
    """The module's options with its doc fragments merged in (the table's rows are documented in
    plugins/doc_fragments/container_options.py), as ansible-doc shows them."""
    return documentation_of(container)["options"]


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
