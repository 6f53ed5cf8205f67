"""The container modules' pydantic models, generated from their argument
specs (the container one from the option table), so the argspec, the model
and — through tests/unit/test_module_contract.py and
tests/unit/containers/test_option_docs.py — DOCUMENTATION cannot drift.

A surface module: the engine below it (containers/) stays standard library
only; the model only validates the parameters at the module boundary.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from .argspecs import CONTAINER_EXEC_SPEC, CONTAINER_INFO_SPEC, ENGINE_ARGUMENT_SPEC, container_argument_spec
from .models import StrictModel
from .pydantic_compat import create_model

_TYPES: dict[str, Any] = {"str": str, "bool": bool, "int": int, "float": float, "dict": dict, "raw": Any,
                          "path": str}


def model_from_argspec(name: str, spec: dict[str, dict[str, Any]]) -> Any:
    """A strict pydantic model with one field per option: its type (choices as
    a Literal, list elements, suboptions as a nested model), its default,
    and required where the spec requires it."""
    fields: dict[str, Any] = {}
    for option, arg in spec.items():
        annotation = _annotation(f"{name}_{option}", arg)
        if arg.get("required"):
            fields[option] = (annotation, ...)
        else:
            fields[option] = (Optional[annotation], arg.get("default"))  # noqa: UP045 - a runtime annotation
    return create_model(name, __base__=StrictModel, **fields)


def _annotation(name: str, arg: dict[str, Any]) -> Any:
    kind = arg.get("type", "str")
    if kind == "list":
        if arg.get("options"):
            return list[model_from_argspec(name.title().replace("_", ""), arg["options"])]  # type: ignore[misc]
        return list[_TYPES[arg.get("elements", "str")]]  # type: ignore[misc]
    if arg.get("options"):
        return model_from_argspec(name.title().replace("_", ""), arg["options"])
    if arg.get("choices"):
        return Literal[tuple(arg["choices"])]  # type: ignore[valid-type]
    return _TYPES[kind]


CONTAINER_MODEL = model_from_argspec("ContainerParams", {**ENGINE_ARGUMENT_SPEC, **container_argument_spec()})
# AnsibleModule hands an option given by an alias on under both names; the models know the option's own
ALIASES = frozenset(alias for spec in (container_argument_spec(), CONTAINER_EXEC_SPEC, CONTAINER_INFO_SPEC)
                    for arg in spec.values() for alias in arg.get("aliases") or ())


def without_aliases(params: dict[str, Any]) -> dict[str, Any]:
    """The parameters under the options' own names only (AnsibleModule already copied an alias's value over)."""
    return {name: value for name, value in params.items() if name not in ALIASES}


CONTAINER_INFO_MODEL = model_from_argspec("ContainerInfoParams", {**ENGINE_ARGUMENT_SPEC, **CONTAINER_INFO_SPEC})
CONTAINER_EXEC_MODEL = model_from_argspec("ContainerExecParams", {**ENGINE_ARGUMENT_SPEC, **CONTAINER_EXEC_SPEC})
