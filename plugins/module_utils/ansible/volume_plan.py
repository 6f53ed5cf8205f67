"""Plans for the ``volume`` task and for the volume half of ``prune``
(plans as data: plan.py).

A planner only reads, so it runs the same over a read-only view (check mode)
and over the writable engine (apply). A volume holds data: a difference in
driver, options or labels is reported, and acted on only when the task says
``recreate: options-changed`` (or ``always``); the default ``never`` keeps
the data and says what differs. A removal a container would refuse (the
volume is in use) fails at planning, in check mode too.

Steps execute against a writable ``Engine``; each takes the volume locks it
needs (containers, then volumes: the lock order) and re-checks there, so a
container that started using the volume since the plan still stops a
removal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..engine import Engine
from ..fsutil import disk_usage
from ..plan import Plan, Step
from ..volumes.service import VolumeService

if TYPE_CHECKING:
    from .volume_models import VolumeRequest

COMPARED = ("driver", "options", "labels")
VIEW_FIELDS = ("name", "driver", "options", "labels", "mountpoint")


@dataclass(frozen=True)
class CreateVolume(Step):
    name: str
    driver: str
    options: dict[str, str]
    labels: dict[str, str]

    def describe(self) -> str:
        return "create"

    def execute(self, context: Engine) -> dict[str, Any]:
        return VolumeService(context).create(self.name, self.driver, self.options, self.labels)


@dataclass(frozen=True)
class RecreateVolume(CreateVolume):
    """Remove the volume (its data goes with it), then create it as stated."""

    def describe(self) -> str:
        return "recreate"

    def execute(self, context: Engine) -> dict[str, Any]:
        VolumeService(context).remove(self.name)
        return super().execute(context)


@dataclass(frozen=True)
class RemoveVolume(Step):
    name: str

    def describe(self) -> str:
        return "remove"

    def execute(self, context: Engine) -> bool:
        return VolumeService(context).remove(self.name)


@dataclass(frozen=True)
class PruneVolume(Step):
    """One unused volume a prune removes; ``size`` is what it takes on disk."""

    name: str
    size: int

    def describe(self) -> str:
        return f"remove volume {self.name}"

    def execute(self, context: Engine) -> bool:
        return VolumeService(context).remove(self.name)


def plan_volume(engine: Engine, request: VolumeRequest) -> Plan:
    service = VolumeService(engine)
    name = request.name
    current = service.find(name)
    plan = Plan(before=_view(current))
    if request.state == "absent":
        if current is not None:
            service.refuse_in_use(name)
            plan.add(RemoveVolume(name))
        return plan
    wanted = service.planned(name, request.driver, request.driver_options, request.labels)
    plan.after = _view(wanted)
    step = CreateVolume(name, wanted["driver"], wanted["options"], wanted["labels"])
    if current is None:
        plan.add(step)
        return plan
    plan.differences = _differences(current, wanted)
    if request.recreate == "always" or (plan.differences and request.recreate == "options-changed"):
        service.refuse_in_use(name)
        plan.add(RecreateVolume(step.name, step.driver, step.options, step.labels))
    elif plan.differences:
        plan.warnings.append(f"volume {name} differs in {', '.join(d['option'] for d in plan.differences)}; it is "
                             "kept (a recreated volume loses its data): set recreate: options-changed to replace it")
    return plan


def volume_report(engine: Engine, request: VolumeRequest, plan: Plan, applied: bool) -> dict[str, Any]:
    """The module's ``volume`` and ``differences``: the volume's facts after
    an apply, the record a creation would write in check mode."""
    service = VolumeService(engine)
    facts: dict[str, Any] = {}
    creating = next((s for s in plan.steps if isinstance(s, CreateVolume)), None)
    if request.state == "present" and creating is not None and not applied:
        facts = service.planned(creating.name, creating.driver, creating.options, creating.labels)
    elif request.state == "present":
        current = service.find(request.name)
        facts = service.facts(current) if current is not None else {}
    return {"volume": facts, "differences": plan.differences}


def plan_volume_prune(engine: Engine, *, all_volumes: bool) -> list[PruneVolume]:
    service = VolumeService(engine)
    return [PruneVolume(name, disk_usage(service.mountpoint(name))) for name in service.unused(all_volumes=all_volumes)]


def _differences(current: dict[str, Any], wanted: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for key in COMPARED:
        empty: Any = "local" if key == "driver" else {}
        if (current.get(key) or empty) != (wanted.get(key) or empty):
            found.append({"option": key, "before": current.get(key), "after": wanted.get(key)})
    return found


def _view(record: dict[str, Any] | None) -> dict[str, Any]:
    if record is None:
        return {}
    return {key: record.get(key) for key in VIEW_FIELDS}
