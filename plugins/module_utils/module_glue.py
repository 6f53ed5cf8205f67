"""The one place where Ansible meets the engine.

Builds argument specs from shared pieces, validates parameters into pydantic
models (a ValidationError becomes InvalidInput naming the option), and maps
the engine's error taxonomy onto ``fail_json`` — no module formats errors
itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from .errors import BerthError, InvalidInput
from .layout import DEFAULT_RUN_ROOT, DEFAULT_STATE_ROOT
from .pydantic_compat import PYDANTIC_IMPORT_ERROR, ValidationError

M = TypeVar("M")

ENGINE_ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "state_root": {"type": "path", "default": str(DEFAULT_STATE_ROOT)},
    "run_root": {"type": "path", "default": str(DEFAULT_RUN_ROOT)},
}


def argument_spec(**own: dict[str, Any]) -> dict[str, dict[str, Any]]:
    spec = dict(ENGINE_ARGUMENT_SPEC)
    spec.update(own)
    return spec


def require_deps(module: Any) -> None:
    """Fail with the install command when the engine's Python deps are missing."""
    if PYDANTIC_IMPORT_ERROR is not None:
        from ansible.module_utils.basic import missing_required_lib

        module.fail_json(msg=missing_required_lib("pydantic>=2 (install the berth.engine.host role, "
                                                  "or pip install -r requirements.txt)"),
                         exception=PYDANTIC_IMPORT_ERROR)


def validate(model: type[M], data: dict[str, Any]) -> M:
    """Build ``model`` from ``data``; pydantic errors become InvalidInput."""
    try:
        return model.model_validate(data)  # type: ignore[attr-defined]
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or None
        raise InvalidInput(first.get("msg", str(exc)), field=where, hint=_input_hint(first)) from None


def _input_hint(error: dict[str, Any]) -> str | None:
    value = error.get("input")
    if value is None or isinstance(value, dict):
        return None
    return f"got {value!r}"


def run_module(module: Any, action: Callable[[], dict[str, Any]]) -> None:
    """Run ``action`` and exit the module with its result, or fail with the
    engine error's message, kind and field."""
    require_deps(module)
    try:
        result = action()
    except BerthError as err:
        info = err.as_dict()
        module.fail_json(msg=str(err), error=info)
    for warning in result.pop("warnings", None) or []:
        module.warn(warning)   # (exit_json's `warnings` is deprecated in ansible-core 2.19)
    module.exit_json(**result)
