"""The one place where Ansible meets the engine.

Validates parameters into pydantic
models (a ValidationError becomes InvalidInput naming the option), runs one
task's plan (check mode over a read-only view, apply over the writable
engine) and maps the engine's error taxonomy onto ``fail_json`` — no module
formats errors itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ..engine import Engine
from ..errors import BerthError, InvalidInput
from .pydantic_compat import PYDANTIC_IMPORT_ERROR, ValidationError

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from ..plan import Plan
    from .models import EngineOptions

M = TypeVar("M")
R = TypeVar("R")


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


def validate_params(model: type[M], params: dict[str, Any]) -> M:
    """Build a module's request model from its flat Ansible parameters.

    A model field named like an option takes the option's value (unset
    options, None, are left to the model's default, which the contract test
    holds equal to the documented one); a field that is itself a model and
    not an option (``engine``, ``registry``, ``resources``) is a group of
    options, filled the same way from the same parameters."""
    return validate(model, _request_data(model, params))


def _request_data(model: Any, params: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name in params:
            if params[name] is not None:
                data[name] = params[name]
        elif option_group(info.annotation):
            data[name] = _request_data(info.annotation, params)
    return data


def option_group(annotation: Any) -> bool:
    """Whether a model field is a group of flat options (a nested model that is not itself an option)."""
    return isinstance(annotation, type) and hasattr(annotation, "model_fields")


def open_view(options: EngineOptions) -> Engine:
    """The read-only engine check mode and the info modules work on: it cannot write."""
    return Engine.view(options.state_root, options.run_root)


def open_engine(options: EngineOptions) -> Engine:
    """The writable engine an applying task works on (skeleton made, crash recovery done)."""
    from ..containers.removal import register_recovery

    register_recovery()   # a volume, network or image task's engine removes half-made containers too
    return Engine.open(options.state_root, options.run_root)


def _no_lock(_engine: Engine) -> AbstractContextManager[Any]:
    return contextlib.nullcontext()


def plan_and_apply(request: R, *, check_mode: bool, plan: Callable[[Engine, R], Plan],
                   lock: Callable[[Engine], AbstractContextManager[Any]] = _no_lock,
                   context: Callable[[Engine], Any] | None = None,
                   report: Callable[[Engine, R, Plan, bool], dict[str, Any]] | None = None) -> dict[str, Any]:
    """One converging task (shared/ANCHORS.md #1).

    Check mode plans over ``open_view`` and returns the plan: it holds no
    writable engine, so it cannot write. Otherwise the engine is opened, the
    domain's ``lock`` taken, the task planned again over the writable engine
    (the state may have moved since a check run) and the plan executed
    against ``context(engine)`` (the engine itself by default): the actions
    the result lists are the plan's, in both modes. ``report`` adds the
    domain's facts (``volume``, ``image``, ...); its last argument says
    whether the plan was applied."""
    if check_mode:
        view = open_view(request.engine)  # type: ignore[attr-defined]
        planned = plan(view, request)
        return planned.result(**(report(view, request, planned, False) if report else {}))
    engine = open_engine(request.engine)  # type: ignore[attr-defined]
    with lock(engine):
        planned = plan(engine, request)
        planned.execute(context(engine) if context else engine)
    return planned.result(**(report(engine, request, planned, True) if report else {}))


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
