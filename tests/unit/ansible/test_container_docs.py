"""container's docs: the comparison defaults are the option table's, the EXAMPLES valid tasks.

Each option in the table (plugins/module_utils/containers/options.py) states in
its description how it is compared by default and whether a change recreates
the container or is applied in place; this test reads container.py's
DOCUMENTATION merged with its doc fragments (the table's options are documented in
plugins/doc_fragments/container_options.py) and fails when a sentence drifts from the table's row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.berth.engine.plugins.module_utils.ansible.argspecs import CONTAINER_REQUIRED_IF
from ansible_collections.berth.engine.plugins.module_utils.containers.options import (
    BY_NAME,
    Option,
    build_spec,
    comparisons,
    stated,
)
from ansible_collections.berth.engine.plugins.modules import container
from tests.unit.test_module_contract import documentation_of

DOCUMENTED: dict[str, Any] = documentation_of(container)["options"]   # the fragments' options merged in
SENTENCE_START = "Compared C("
EFFECT = {"recreate": "a change recreates the container", "in_place": "a change is applied in place"}


def comparison_sentence(option: Option) -> str:
    """The sentence the table's row implies."""
    return f"Compared C({option.comparison}) by default (see O(comparisons)); {EFFECT[option.update]}."


def description_lines(name: str) -> list[str]:
    description = DOCUMENTED[name]["description"]
    return [description] if isinstance(description, str) else list(description)


def test_every_table_option_is_documented() -> None:
    assert sorted(set(BY_NAME) - set(DOCUMENTED)) == []


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_description_states_the_tables_comparison(name: str) -> None:
    stated = [line for line in description_lines(name) if SENTENCE_START in line]
    assert stated == [comparison_sentence(BY_NAME[name])], \
        f"option {name}: fix its description (plugins/doc_fragments/container_options.py)"


@pytest.mark.parametrize("name", sorted(set(DOCUMENTED) - set(BY_NAME)))
def test_options_outside_the_table_claim_no_comparison(name: str) -> None:
    # options such as state, pull or comparisons are not compared with the container's spec
    assert not any(SENTENCE_START in line for line in description_lines(name))


def test_the_table_has_only_known_effects() -> None:
    assert {option.update for option in BY_NAME.values()} <= set(EFFECT)


def _example_tasks() -> list[tuple[str, dict[str, Any]]]:
    return [(task["name"], task["berth.engine.container"]) for task in yaml.safe_load(container.EXAMPLES)]


@pytest.mark.parametrize(("title", "args"), _example_tasks(), ids=[task[0] for task in _example_tasks()])
def test_examples_are_valid_tasks(title: str, args: dict[str, Any], tmp_path: Path) -> None:
    """Each EXAMPLES task passes the module's argument spec and builds a spec (bind sources, which must
    exist on the host, are pointed at a directory that does)."""
    validated = ArgumentSpecValidator(container.ARGS, required_if=CONTAINER_REQUIRED_IF).validate(args)
    assert validated.error_messages == []
    params = dict(validated.validated_parameters)
    params.pop("env_file")   # read from the host at run time
    params["mounts"] = [{**m, "source": str(tmp_path)} if m["type"] == "bind" else m for m in params["mounts"] or []]
    comparisons(params["comparisons"])
    if params["image"]:
        build_spec(params["image"], stated(params))
