"""The one place where Ansible meets the engine.

Validates parameters into pydantic
models (a ValidationError becomes InvalidInput naming the option), runs one
task's plan (check mode over a read-only view, apply over the writable
engine) and maps the engine's error taxonomy onto ``fail_json`` — no module
formats errors itself. An error outside the taxonomy (a raw ``OSError`` from
the kernel or the disk) fails the task too, its message naming the operation
and its object, the traceback only in ``exception`` (``-vvv``).
"""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ..engine import Engine
from ..errors import BerthError, InvalidInput
from ..failures import error_text, failed_step, failure_details, operation_on
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


def run_module(module: Any, action: Callable[[], dict[str, Any]], *, task: str = "module",
               params: dict[str, Any] | None = None) -> None:
    """Run ``action`` and exit the module with its result, or fail with the
    engine error's message, kind and field (any other exception: ``task_failure``)."""
    require_deps(module)
    try:
        result = action()
    except Exception as exc:   # every error reaches the user as a failed task
        module.fail_json(**task_failure(exc, task, params or {}))
    for warning in result.pop("warnings", None) or []:
        module.warn(warning)   # (exit_json's `warnings` is deprecated in ansible-core 2.19)
    module.exit_json(**result)


# The option naming a task's object, and what the object is called in a message, per task
# (tasks without one, such as prune and host_info, are named by the task alone).
_SUBJECTS: dict[str, tuple[str, str]] = {
    "cgroup": ("path", "cgroup"), "compose": ("project_name", "compose project"),
    "container": ("name", "container"), "container_exec": ("container", "container"),
    "container_info": ("name", "container"), "container_copy_into": ("container", "container"),
    "image": ("name", "image"), "image_info": ("name", "image"), "login": ("registry", "registry"),
    "network": ("name", "network"), "network_info": ("name", "network"),
    "volume": ("name", "volume"), "volume_info": ("name", "volume"),
}


def task_subject(task: str, params: dict[str, Any]) -> str | None:
    """The object a task works on, as a message names it ("container web"), when its options say."""
    option, noun = _SUBJECTS.get(task, ("name", task))
    value = params.get(option)
    if isinstance(value, list):   # e.g. container_info's names
        value = ", ".join(str(v) for v in value)
    return f"{noun} {value}" if value not in (None, "", []) else None


def task_failure(exc: BaseException, task: str, params: dict[str, Any]) -> dict[str, Any]:
    """fail_json's arguments for what a task raised. An engine error is its own message; anything
    else is "could not <the plan step it broke, or the task> <its object>: <path>: [Errno N] ...",
    what was done before it, and the traceback as ``exception`` (shown with -vvv), never in ``msg``."""
    if isinstance(exc, BerthError):
        return {"msg": str(exc), "error": exc.as_dict()}
    step, done = failed_step(exc)
    operation = operation_on(step or f"run the {task} task", task_subject(task, params))
    msg = f"could not {operation}: {error_text(exc)}"
    if done:
        msg += f" (done before it: {'; '.join(done)})"
    return {"msg": msg, "error": failure_details(exc, operation, done),
            "exception": "".join(traceback.format_exception(exc))}
