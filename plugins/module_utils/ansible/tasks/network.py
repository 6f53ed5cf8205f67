"""The network modules' tasks: network, network_info."""

from __future__ import annotations

from typing import Any

from ...containers.service import ContainerService
from ...network.service import NetworkService
from ..glue import open_view, plan_and_apply, validate_params
from ..network_models import NetworkInfoRequest, NetworkRequest
from ..network_plan import NetworkExecutor, network_report, plan_network


def network(params: dict[str, Any], check_mode: bool, _diff: bool) -> dict[str, Any]:
    # The container side connects and disconnects containers: the network package never imports it.
    return plan_and_apply(
        validate_params(NetworkRequest, params), check_mode=check_mode, plan=plan_network, report=network_report,
        context=lambda engine: NetworkExecutor(NetworkService(engine), ContainerService(engine)))


def network_info(params: dict[str, Any], _check_mode: bool, _diff: bool) -> dict[str, Any]:
    request = validate_params(NetworkInfoRequest, params)
    return {"changed": False, **NetworkService(open_view(request.engine)).info(request.name)}


TASKS = {"network": network, "network_info": network_info}
MODELS = {"network": NetworkRequest, "network_info": NetworkInfoRequest}
