"""The host_info module's task."""

from __future__ import annotations

from typing import Any

from ..glue import open_view, validate_params
from ..hostinfo import host_info as facts
from ..models import HostInfoRequest


def host_info(params: dict[str, Any], _check_mode: bool, _diff: bool) -> dict[str, Any]:
    request = validate_params(HostInfoRequest, params)
    return {"changed": False, "host": facts(open_view(request.engine), measure_disk=request.disk_usage)}


TASKS = {"host_info": host_info}
MODELS = {"host_info": HostInfoRequest}
