"""The image modules' tasks: image, image_info, login."""

from __future__ import annotations

from typing import Any

from ...image.info import inspect_images
from ..glue import open_view, plan_and_apply, validate_params
from ..image_models import ImageInfoRequest, ImageRequest, LoginRequest
from ..image_plan import image_report, plan_image
from ..login_plan import login_report, plan_login


def image(params: dict[str, Any], check_mode: bool, _diff: bool) -> dict[str, Any]:
    return plan_and_apply(validate_params(ImageRequest, params), check_mode=check_mode, plan=plan_image,
                          report=image_report)


def image_info(params: dict[str, Any], _check_mode: bool, _diff: bool) -> dict[str, Any]:
    request = validate_params(ImageInfoRequest, params)
    return {"changed": False, **inspect_images(open_view(request.engine), request.name, measure=request.disk_usage)}


def login(params: dict[str, Any], check_mode: bool, _diff: bool) -> dict[str, Any]:
    # The credentials file is the task's only object: no engine is opened, in either mode.
    request = validate_params(LoginRequest, params)
    plan = plan_login(request, may_contact=not check_mode)
    if not check_mode:
        plan.execute(None)
    return plan.result(**login_report(request))


TASKS = {"image": image, "image_info": image_info, "login": login}
MODELS = {"image": ImageRequest, "image_info": ImageInfoRequest, "login": LoginRequest}
