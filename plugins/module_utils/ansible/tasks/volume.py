"""The volume modules' tasks: volume, volume_info, prune."""

from __future__ import annotations

from typing import Any

from ...engine import Engine
from ...plan import Plan
from ...volumes.service import VolumeService
from ..glue import open_view, plan_and_apply, validate_params
from ..models import PruneRequest
from ..prune_plan import PruneImage, plan_image_prune
from ..volume_models import VolumeInfoRequest, VolumeRequest
from ..volume_plan import PruneVolume, plan_volume, plan_volume_prune, volume_report


def volume(params: dict[str, Any], check_mode: bool, _diff: bool) -> dict[str, Any]:
    return plan_and_apply(validate_params(VolumeRequest, params), check_mode=check_mode, plan=plan_volume,
                          report=volume_report)


def volume_info(params: dict[str, Any], _check_mode: bool, _diff: bool) -> dict[str, Any]:
    request = validate_params(VolumeInfoRequest, params)
    service = VolumeService(open_view(request.engine))
    if request.name:
        record = service.find(request.name)
        return {"changed": False, "exists": record is not None,
                "volume": service.facts(record, size=request.size) if record else {}}
    return {"changed": False, "volumes": [service.facts(r, size=request.size) for r in service.list()]}


def plan_prune(engine: Engine, request: PruneRequest) -> Plan:
    """Volumes before images (the order of `docker system prune`). The diff's
    before lists what goes; after, nothing of it is left."""
    plan = Plan()
    if request.volumes:
        plan.steps += plan_volume_prune(engine, all_volumes=request.volumes_filters.all)
    if request.images:
        plan.steps += plan_image_prune(engine, dangling_only=request.images_filters.dangling_only)
    report = prune_report(engine, request, plan, False)
    plan.before = {"images": report["images"], "volumes": report["volumes"]}
    plan.after = {"images": [], "volumes": []}
    return plan


def prune_report(_engine: Engine, _request: PruneRequest, plan: Plan, _applied: bool) -> dict[str, Any]:
    images = [s for s in plan.steps if isinstance(s, PruneImage)]
    volumes = [s for s in plan.steps if isinstance(s, PruneVolume)]
    return {"images": [s.image_id for s in images], "images_space_reclaimed": sum(s.size for s in images),
            "volumes": [s.name for s in volumes], "volumes_space_reclaimed": sum(s.size for s in volumes)}


def prune(params: dict[str, Any], check_mode: bool, _diff: bool) -> dict[str, Any]:
    return plan_and_apply(validate_params(PruneRequest, params), check_mode=check_mode, plan=plan_prune,
                          report=prune_report)


TASKS = {"volume": volume, "volume_info": volume_info, "prune": prune}
MODELS = {"volume": VolumeRequest, "volume_info": VolumeInfoRequest, "prune": PruneRequest}
