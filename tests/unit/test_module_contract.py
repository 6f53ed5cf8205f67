"""Every module's three descriptions of its options agree, and its docs are complete.

For each module in plugins/modules, the argument spec (captured by running
``main()`` against a stand-in ``AnsibleModule``), DOCUMENTATION (with its doc
fragments merged the way Ansible merges them) and the pydantic model the
module validates through (``tasks.model_of``) must name the same options, with the
same type, default, choices, elements, required flag and suboptions;
aliases and ``no_log`` must agree between the spec and the docs, and a
secret must be ``no_log`` in the spec and hidden from the model's repr.
A model field that is itself a model and not an option (``engine``,
``registry``, ``resources``) is a group of flat options, as
``module_glue.validate_params`` fills it. DOCUMENTATION must carry the
``check_mode``, ``diff_mode`` and ``platform`` attributes, and every value
in RETURN a sample.

Checks that fail today are listed in ``AWAITING`` (module, check, who
changes it); they are strict xfails, so a fix shows up as a failure until
its entry is dropped.
"""

from __future__ import annotations

import importlib
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
MODULES = sorted(p.stem for p in (REPO / "plugins" / "modules").glob("*.py") if not p.stem.startswith("_"))
PACKAGE = "ansible_collections.berth.engine.plugins"
SECRETS = ("password", "token", "secret", "passphrase")
ANSIBLE_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,), "path": (Path, str), "bool": (bool,), "int": (int,), "float": (float, int),
    "dict": (dict,), "list": (list, tuple), "raw": (object,),
}
AWAITING: dict[tuple[str, str], str] = {}


@dataclass
class Captured(Exception):
    kwargs: dict[str, Any]


class CaptureModule:
    """Stands in for AnsibleModule: records what main() builds it with, then stops main()."""

    def __init__(self, **kwargs: Any) -> None:
        raise Captured(kwargs)


@pytest.fixture(scope="module")
def loaded() -> dict[str, types.ModuleType]:
    return {name: importlib.import_module(f"{PACKAGE}.modules.{name}") for name in MODULES}


def argspec_of(module: types.ModuleType) -> dict[str, Any]:
    saved = module.AnsibleModule
    module.AnsibleModule = CaptureModule
    try:
        module.main()
    except Captured as done:
        return done.kwargs["argument_spec"]
    finally:
        module.AnsibleModule = saved
    raise AssertionError(f"{module.__name__}.main() did not build an AnsibleModule")


def documentation_of(module: types.ModuleType) -> dict[str, Any]:
    """DOCUMENTATION with its fragments merged as ansible-doc does: the
    module's own options and attribute keys win over a fragment's."""
    doc = yaml.safe_load(module.DOCUMENTATION)
    for slug in doc.pop("extends_documentation_fragment", []):
        namespace, collection, name, *var = slug.split(".")
        assert (namespace, collection) == ("berth", "engine"), f"fragment {slug} is not this collection's"
        fragment_class = importlib.import_module(f"{PACKAGE}.doc_fragments.{name}").ModuleDocFragment
        fragment = yaml.safe_load(getattr(fragment_class, var[0].upper() if var else "DOCUMENTATION"))
        for key in ("options", "attributes"):
            for entry, value in (fragment.pop(key, None) or {}).items():
                doc.setdefault(key, {})[entry] = {**value, **doc.get(key, {}).get(entry, {})}
        for key, value in fragment.items():
            doc[key] = sorted({*doc.get(key, []), *value}) if isinstance(value, list) else value
    return doc


# -- argspec vs DOCUMENTATION -----------------------------------------------------------------------------------
def spec_differences(spec: dict[str, Any], docs: dict[str, Any], where: str = "") -> list[str]:
    found = []
    for name in sorted(set(spec) | set(docs)):
        path = f"{where}{name}"
        if name not in docs:
            found.append(f"{path}: in the argument spec, not in DOCUMENTATION")
            continue
        if name not in spec:
            found.append(f"{path}: in DOCUMENTATION, not in the argument spec")
            continue
        arg, doc = spec[name], docs[name]
        for key, empty in (("type", "str"), ("default", None), ("choices", None), ("elements", None),
                           ("required", False), ("aliases", [])):
            mine, theirs = _norm(key, arg.get(key, empty)), _norm(key, doc.get(key, empty))
            if mine != theirs:
                found.append(f"{path}: {key} is {mine!r} in the argument spec, {theirs!r} in DOCUMENTATION")
        if any(word in name for word in SECRETS) and not arg.get("no_log"):
            found.append(f"{path}: a secret without no_log in the argument spec")
        found += spec_differences(arg.get("options") or {}, doc.get("suboptions") or {}, f"{path}.")
    return found


def _norm(key: str, value: Any) -> Any:
    if key == "aliases":
        return sorted(value or [])
    if key == "default" and isinstance(value, Path):
        return str(value)
    return value


# -- argspec vs the model -----------------------------------------------------------------------------------------
def model_differences(spec: dict[str, Any], model: Any, where: str = "") -> list[str]:
    """What differs between the options ``spec`` and ``model``'s fields (groups expanded)."""
    found = []
    fields = dict(model.model_fields)
    for name, info in list(fields.items()):
        if name not in spec and _is_model(info.annotation):   # a group of flat options
            del fields[name]
            group = info.annotation.model_fields
            found += model_differences({k: v for k, v in spec.items() if k in group}, info.annotation, where)
            spec = {k: v for k, v in spec.items() if k not in group}
    for name in sorted(set(spec) | set(fields)):
        path = f"{where}{name}"
        if name not in fields:
            found.append(f"{path}: an option the model {model.__name__} has no field for")
            continue
        if name not in spec:
            found.append(f"{path}: a field of {model.__name__} that is no option")
            continue
        found += _field_differences(path, spec[name], model, fields[name])
    return found


def _field_differences(path: str, arg: dict[str, Any], model: Any, info: Any) -> list[str]:
    found = []
    required = bool(arg.get("required"))
    if info.is_required() != required:
        found.append(f"{path}: required is {required} in the argument spec, {info.is_required()} in the model")
    if not info.is_required():
        mine, theirs = _effective_default(arg), _dumped(info.get_default(call_default_factory=True))
        if mine != theirs:
            found.append(f"{path}: default is {mine!r} in the argument spec, {theirs!r} in the model")
    base, inner = _unwrap(info.annotation)
    converted = _converted_before(model, path.rsplit(".", 1)[-1])
    choices = list(typing.get_args(base)) if typing.get_origin(base) is typing.Literal else None
    if arg.get("choices") is not None and choices != arg["choices"]:
        found.append(f"{path}: choices are {arg['choices']!r} in the argument spec, {choices!r} in the model")
    kind = arg.get("type", "str")
    if not converted and not _accepts(kind, base):
        found.append(f"{path}: type {kind!r} in the argument spec, {info.annotation!r} in the model")
    if kind == "list" and arg.get("elements") and inner is not None and not converted:
        element, _none = _unwrap(inner)
        if not _accepts(arg["elements"], element):
            found.append(f"{path}: elements {arg['elements']!r} in the argument spec, {inner!r} in the model")
    if any(word in path for word in SECRETS) and info.repr:
        found.append(f"{path}: a secret shown in the model's repr (use Field(repr=False))")
    sub_model = base if _is_model(base) else (inner if _is_model(inner) else None)
    if arg.get("options"):
        if sub_model is None:
            found.append(f"{path}: suboptions in the argument spec, no model for them")
        else:
            found += model_differences(arg["options"], sub_model, f"{path}.")
    return found


def _unwrap(annotation: Any) -> tuple[Any, Any]:
    """(the annotation without None, the element type of a list)."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
        annotation = args[0]
    origin = typing.get_origin(annotation)
    if origin in (list, tuple):
        element = typing.get_args(annotation)[0] if typing.get_args(annotation) else Any
        return annotation, element
    return annotation, None


def _accepts(kind: str, annotation: Any) -> bool:
    if annotation is Any or kind == "raw":
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return all(isinstance(v, ANSIBLE_TYPES[kind]) for v in typing.get_args(annotation))
    if _is_model(annotation):
        return kind == "dict"
    python = origin or annotation
    return isinstance(python, type) and issubclass(python, ANSIBLE_TYPES[kind]) and not (
        kind in ("int", "float") and python is bool)


def _converted_before(model: Any, name: str) -> bool:
    """Whether a ``mode="before"`` validator converts the Ansible value (units such as ``512m``)."""
    for decorator in model.__pydantic_decorators__.field_validators.values():
        if name in decorator.info.fields and decorator.info.mode == "before":
            return True
    return False


def _effective_default(arg: dict[str, Any]) -> Any:
    """What Ansible hands the module when the option is left out: a dict
    with suboptions gets their defaults filled in."""
    default = arg.get("default")
    if arg.get("type") == "dict" and arg.get("options") and isinstance(default, dict):
        return {**{k: _effective_default(v) for k, v in arg["options"].items()}, **default}
    return str(default) if arg.get("type") == "path" and default is not None else default


def _dumped(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump()
    if isinstance(value, Path):
        return str(value)
    return value


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and hasattr(annotation, "model_fields")


# -- the cases -----------------------------------------------------------------------------------------------------
CHECKS = ("argspec_is_documented", "model_matches_argspec", "attributes", "return_samples")


def _case(module: str, check: str) -> Any:
    who = AWAITING.get((module, check))
    marks = [pytest.mark.xfail(strict=True, reason=f"awaiting {who}")] if who else []
    return pytest.param(module, check, id=f"{module}-{check}", marks=marks)


@pytest.mark.parametrize(("name", "check"), [_case(m, c) for m in MODULES for c in CHECKS])
def test_module_contract(loaded: dict[str, types.ModuleType], name: str, check: str) -> None:
    module = loaded[name]
    problems = globals()[f"_{check}"](module)
    assert not problems, f"{name}:\n  " + "\n  ".join(problems)


def _argspec_is_documented(module: types.ModuleType) -> list[str]:
    return spec_differences(argspec_of(module), documentation_of(module).get("options") or {})


def _model_matches_argspec(module: types.ModuleType) -> list[str]:
    from ansible_collections.berth.engine.plugins.module_utils.ansible import tasks

    model = getattr(module, "MODEL", None) or tasks.model_of(module.__name__.rsplit(".", 1)[-1])
    if model is None:
        return ["no MODEL: the module does not validate its parameters through a pydantic model"]
    return model_differences(argspec_of(module), model)


def _attributes(module: types.ModuleType) -> list[str]:
    attributes = documentation_of(module).get("attributes") or {}
    found = [f"attribute {name} is missing" for name in ("check_mode", "diff_mode", "platform")
             if name not in attributes]
    found += [f"attribute {name} has no support level" for name, value in attributes.items()
              if value.get("support") not in ("full", "partial", "none", "N/A")]
    if "platform" in attributes and not attributes["platform"].get("platforms"):
        found.append("attribute platform names no platforms")
    return found


def _return_samples(module: types.ModuleType) -> list[str]:
    values = yaml.safe_load(module.RETURN) or {}
    return [f"RETURN {name} has no sample" for name, value in values.items() if not _sampled(value)]


def _sampled(value: dict[str, Any]) -> bool:
    if "sample" in value:
        return True
    contains = value.get("contains") or {}
    return bool(contains) and all(_sampled(entry) for entry in contains.values())


def test_every_awaited_check_names_a_module_a_check_and_who() -> None:
    assert all(module in MODULES and check in CHECKS and who for (module, check), who in AWAITING.items())
