"""The container_copy_into module's task."""

from __future__ import annotations

from typing import Any

from ..copy_into_models import CopyIntoRequest
from ..copy_into_plan import plan_copy_into
from ..glue import plan_and_apply, validate_params


def container_copy_into(params: dict[str, Any], check_mode: bool, _diff: bool) -> dict[str, Any]:
    return plan_and_apply(validate_params(CopyIntoRequest, params), check_mode=check_mode, plan=plan_copy_into)


TASKS = {"container_copy_into": container_copy_into}
MODELS = {"container_copy_into": CopyIntoRequest}
