"""The thin argument specs (plugins/module_utils/ansible/argspecs.py) are the engine's own.

The block of container options in argspecs.py is generated from the option
table; this test fails when it is stale. Regenerate with
``PYTHONPATH=.build/collections python -m tests.unit.ansible.test_argspecs``.
"""

from __future__ import annotations

import ast
import pprint
import re
import sys
from pathlib import Path

from ansible_collections.berth.engine.plugins.module_utils.ansible import argspecs
from ansible_collections.berth.engine.plugins.module_utils.containers.options import argument_spec as option_spec
from ansible_collections.berth.engine.plugins.module_utils.layout import DEFAULT_RUN_ROOT, DEFAULT_STATE_ROOT

REPO = Path(__file__).resolve().parents[3]
ARGSPECS = REPO / "plugins" / "module_utils" / "ansible" / "argspecs.py"
_BLOCK = re.compile(r"(# BEGIN GENERATED[^\n]*\n)(.*?)(# END GENERATED)", re.S)
_OUR_PREFIX = "ansible_collections.berth.engine.plugins.module_utils"


def generated_block() -> str:
    lines = ["CONTAINER_OPTIONS: dict[str, dict[str, Any]] = {"]
    for name, arg in option_spec().items():
        head = f"    {name!r}: "
        body = pprint.pformat(arg, width=118 - len(head), sort_dicts=False).splitlines()
        lines.append(head + body[0])
        lines += [" " * len(head) + line for line in body[1:]]
        lines[-1] += ","
    return "\n".join([*lines, "}"]) + "\n"


def write() -> None:
    text = ARGSPECS.read_text()
    ARGSPECS.write_text(_BLOCK.sub(lambda m: m.group(1) + generated_block() + m.group(3), text))


def test_container_options_are_the_option_tables() -> None:
    assert option_spec() == argspecs.CONTAINER_OPTIONS, (
        "argspecs.py is stale: run PYTHONPATH=.build/collections python -m tests.unit.ansible.test_argspecs")


def test_engine_defaults_are_the_layouts() -> None:
    assert argspecs.ENGINE_ARGUMENT_SPEC["state_root"]["default"] == str(DEFAULT_STATE_ROOT)
    assert argspecs.ENGINE_ARGUMENT_SPEC["run_root"]["default"] == str(DEFAULT_RUN_ROOT)


def test_thin_module_utils_import_only_the_standard_library() -> None:
    """What AnsiballZ ships with a module (argspecs, remote) imports nothing of the engine or pydantic."""
    for name in ("argspecs.py", "remote.py"):
        tree = ast.parse((ARGSPECS.parent / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert node.level == 0 and not (node.module or "").startswith(_OUR_PREFIX), (name, node.module)
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for dotted in names:
                top = dotted.split(".")[0]
                assert top == "__future__" or top in sys.stdlib_module_names, (name, dotted)


def test_every_module_imports_only_thin_module_utils() -> None:
    thin = {"argspecs", "remote"}
    for path in sorted((REPO / "plugins" / "modules").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(_OUR_PREFIX):
                assert node.module.rsplit(".", 1)[-1] in thin, (path.name, node.module)


if __name__ == "__main__":
    write()
