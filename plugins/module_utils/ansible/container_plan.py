"""Plan one ``container`` task (plan.py): the desired spec against the
container's actual one, both merged with the image's defaults, decides
create / recreate / update in place / start / stop / pause / remove.

``plan_container`` only reads: given a read-only view (check mode) it cannot
write, and a record whose process died unwatched is corrected in memory, not
on disk. ``apply_container`` takes the container's lock, plans again over the
writable engine and executes the steps, so a check run's actions are the
apply run's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .. import lifecycle
from ..containers import mounting, netwishes, networking
from ..containers import options as table
from ..containers.record import ContainerRecord
from ..containers.service import ContainerService, bundle_request
from ..containers.spec import ContainerSpec
from ..containers.store import creator_alive
from ..engine import Engine
from ..errors import Conflict, InvalidInput, NotFound
from ..image.store import ImageStore
from ..plan import Plan
from . import container_steps as steps


@dataclass(frozen=True)
class ContainerTask:
    """One task's wishes: the container's name and target state, its image
    and pull policy, the options it states, and how to compare them."""

    name: str
    state: str = "started"
    image: str | None = None
    pull: str = "missing"
    options: dict[str, Any] = field(default_factory=dict)   # the table's options the task states, as given
    comparisons: dict[str, str] | None = None
    paused: bool | None = None
    recreate: bool = False
    restart: bool = False
    keep_volumes: bool = True
    healthy_timeout: float = 300
    image_comparison: str = table.IMAGE_COMPARISONS[0]   # whose image defaults both sides are merged with

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> ContainerTask:
        return cls(name=params["name"], state=params.get("state") or "started", image=params.get("image"),
                   pull=pull_policy(params.get("pull")),
                   options=table.handle_commands(table.stated(params), params.get("command_handling")),
                   comparisons=params.get("comparisons"), paused=params.get("paused"),
                   recreate=bool(params.get("recreate")), restart=bool(params.get("restart")),
                   keep_volumes=params.get("keep_volumes", True) is not False,
                   healthy_timeout=params.get("healthy_wait_timeout") or 300,
                   image_comparison=params.get("image_comparison") or table.IMAGE_COMPARISONS[0])


PULL_POLICIES = ("never", "missing", "always")


def pull_policy(value: Any) -> str:
    """community.docker's ``pull``: a policy, or a boolean (true: always, false: missing)."""
    if value is None:
        return "missing"
    if isinstance(value, bool):
        return "always" if value else "missing"
    text = str(value).strip().lower()
    if text in PULL_POLICIES:
        return text
    if text in ("true", "yes", "on", "1", "false", "no", "off", "0"):
        return "always" if text in ("true", "yes", "on", "1") else "missing"
    raise InvalidInput(f"pull: {value!r} is not a pull policy", field="pull",
                       hint="use never, missing or always (or true for always, false for missing)")


def plan_container(engine: Engine, task: ContainerTask) -> Plan:
    service = ContainerService(engine)
    found = _settled(service.store.find_record(task.name))
    record = service.refreshed(found) if found is not None else None
    plan = Plan(before=_view(record))
    if task.state == "absent":
        if record is not None:
            plan.add(steps.Remove(task.name, remove_volumes=not task.keep_volumes))
        return plan
    spec = _spec(task)
    how = table.comparisons(task.comparisons)
    image_id, image_config = _image(engine, task, plan)
    if record is not None:
        compared = _compared_image_config(engine, task, record, image_config)
        plan.differences = table.differences(record.spec, spec, list(task.options), how, compared)
        if image_id is not None and record.image_id != image_id and how[table.IMAGE] != "ignore":
            plan.differences.append({"option": "image", "before": record.image_id, "after": image_id,
                                     "update": "recreate"})
    recreate = record is None or task.recreate or any(d["update"] == "recreate" for d in plan.differences)
    _plan_spec(service, task, spec, record, recreate, plan)
    _plan_state(task, record, recreate, plan)
    kept_image = record is not None and not recreate   # `comparisons: {image: ignore}` may keep another one
    plan.after = _planned(task, spec, record.image_id if kept_image else image_id, record, plan)
    return plan


def _compared_image_config(engine: Engine, task: ContainerTask, record: ContainerRecord,
                           desired: dict[str, Any]) -> dict[str, Any]:
    """The image defaults the comparison merges into both sides: the task's image's (desired-image), or
    with ``image_comparison: current-image`` the container's own image's, as community.docker does —
    the task's when that image is gone from the store."""
    if task.image_comparison != "current-image" or not record.image_id:
        return desired
    if ImageStore(engine).find(record.image_id) is None:
        return desired
    return _image_config(engine, record.image_id)


def apply_container(engine: Engine, task: ContainerTask) -> dict[str, Any]:
    """Plan under the container's lock and execute; the result with the record."""
    service = ContainerService(engine)
    with engine.layout.task_lock("container", table_name(task.name)).held(timeout=300):
        plan = plan_container(engine, task)
        plan.execute(service)
    # the result's container is the record's document (as container_info shows it)
    document = service.store.find(task.name) if task.state != "absent" else None
    if task.state == "healthy" and document is not None:
        document = service.wait_healthy([document["id"]], task.healthy_timeout)[0]
    if document is not None:
        plan.after = _view(ContainerRecord.load(document))
    return plan.result(container=document or {}, differences=plan.differences)


def check_container(view: Engine, task: ContainerTask) -> dict[str, Any]:
    plan = plan_container(view, task)
    return plan.result(container=(plan.before and _current(view, task.name)) or {}, differences=plan.differences)


def converge(engine: Engine, params: dict[str, Any], *, check_mode: bool) -> dict[str, Any]:
    """One task from module-style parameters: check over a view of the
    engine's roots, or apply."""
    task = ContainerTask.from_params(params)
    if check_mode:
        return check_container(engine.view(), task)
    return apply_container(engine, task)


def table_name(name: str) -> str:
    from ..containers.store import validate_name

    return validate_name(name)


def _spec(task: ContainerTask) -> ContainerSpec:
    if not task.image:
        raise InvalidInput("image is required for state present, started or stopped", field="image",
                           hint="name the image the container runs, e.g. docker.io/library/nginx:1.27")
    table_name(task.name)
    return table.build_spec(task.image, task.options)


def _settled(current: ContainerRecord | None) -> ContainerRecord | None:
    """A record still marked creating is half-made: if its creator died (a
    crash mid-create) plan as if it were gone (the next writable engine's
    recovery removes it, and Create drops it first); if its creator still
    runs, another operation owns it."""
    if current is None or current.creating is None:
        return current
    if not creator_alive(current.creating):
        return None
    raise Conflict(f"container {current.name} is being created by another berth operation "
                   f"(pid {current.creating.get('pid')})", field="name",
                   hint="wait for that operation to finish, then re-run")


def _image(engine: Engine, task: ContainerTask, plan: Plan) -> tuple[str | None, dict[str, Any]]:
    """The image's ID and config, or (None, {}) when it is still to be pulled."""
    image = task.image or ""
    record = ImageStore(engine).find(image)
    if record is not None and task.pull != "always":
        return record.id, _image_config(engine, record.id)
    if task.pull == "never":
        raise NotFound(f"image {image!r} is not present and pull is never", field="image",
                       hint="pull it first (berth.engine.image), or set pull: missing")
    plan.add(steps.Pull(image))
    # pull: always may bring the same image back; compare with what is here until then
    return (record.id, _image_config(engine, record.id)) if record is not None else (None, {})


def _image_config(engine: Engine, image_id: str) -> dict[str, Any]:
    return json.loads(engine.blobs.read_bytes(image_id)).get("config") or {}


def _plan_spec(service: ContainerService, task: ContainerTask, spec: ContainerSpec, record: ContainerRecord | None,
               recreate: bool, plan: Plan) -> None:
    stated = tuple(sorted(task.options))
    if recreate:
        mounts = bundle_request(spec).mounts
        for name in mounting.missing_volumes(service.engine, mounts):
            plan.add(steps.CreateVolume(name))
        _missing_networks(service, spec, plan)
        if record is not None:
            plan.add(steps.Recreate(task.name, spec, stated, remove_volumes=not task.keep_volumes))
        else:
            plan.add(steps.Create(task.name, spec, stated))
        return
    in_place = tuple(d["option"] for d in plan.differences if d["update"] == "in_place")
    if in_place and record is not None:
        if "networks" in in_place:
            _missing_networks(service, spec, plan)
        merged = _merged_spec(record.spec, spec, task.options)
        plan.add(steps.Update(task.name, in_place, merged, stated))


def _merged_spec(actual: ContainerSpec, desired: ContainerSpec, stated: dict[str, Any]) -> ContainerSpec:
    """The container's spec with the stated in-place options taken from the task."""
    changes = {name: desired.value(name) for name in stated if name not in table.RESOURCE_NAMES}
    resources = {**actual.resources, **{k: v for k, v in desired.resources.items() if k in stated}}
    return actual.with_changes(**changes, resources=resources)


def _missing_networks(service: ContainerService, spec: ContainerSpec, plan: Plan) -> None:
    """In check mode a network an earlier task would create is planned for, not an error."""
    wishes = netwishes.wishes(
        spec.network_mode, list(spec.networks) or None, list(spec.published_ports), spec.publish_all_ports)
    missing = networking.missing_networks(service.engine, wishes)
    if missing and service.engine.read_only:
        plan.warnings.append(f"network {', '.join(missing)} does not exist yet; an earlier task must create it")
    elif missing:
        networking.require_networks(service.engine, wishes)


def _plan_state(task: ContainerTask, record: ContainerRecord | None, recreate: bool, plan: Plan) -> None:
    state = "started" if task.state == "healthy" else task.state
    now = record.lifecycle if record is not None else None
    was_running = now is not None and lifecycle.is_active(now)
    running = was_running and not recreate
    if state == "started" or (state == "present" and was_running and recreate):
        if not running:
            plan.add(steps.Start(task.name))
        elif task.restart:
            plan.add(steps.Restart(task.name))
    elif state == "stopped" and running:
        plan.add(steps.Stop(task.name))
    _plan_pause(task, now, recreate, state, plan)


def _plan_pause(task: ContainerTask, now: str | None, recreate: bool, state: str, plan: Plan) -> None:
    if task.paused is None or state == "stopped":
        return
    paused_now = now == lifecycle.PAUSED and not recreate
    if task.paused == paused_now:
        return
    if state == "present" and (now is None or not lifecycle.is_active(now)):
        return  # only a running container can be paused; present does not start it
    plan.add(steps.Pause(task.name, task.paused))


def _planned(task: ContainerTask, spec: ContainerSpec, image_id: str | None, current: ContainerRecord | None,
             plan: Plan) -> dict[str, Any]:
    """The diff's after side: what the container will be."""
    recreated = any(isinstance(s, (steps.Create, steps.Recreate)) for s in plan.steps)
    if task.state in ("started", "healthy"):
        status = "running"
    elif task.state == "stopped":
        status = "exited" if current else "created"
    else:
        status = current.state.status if current and not recreated else "created"
    return {"name": task.name, "state": status, "image_id": image_id or (current.image_id if current else None),
            "spec": {name: spec.value(name) for name in sorted(task.options)}}


def _view(record: ContainerRecord | None) -> dict[str, Any]:
    if record is None:
        return {}
    return {"name": record.name, "state": record.state.status, "image_id": record.image_id,
            "spec": {name: _plain(record.spec.value(name)) for name in sorted(record.stated)
                     if name in table.BY_NAME}}


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _current(engine: Engine, name: str) -> dict[str, Any] | None:
    """The container's record document, refreshed (check mode's result shows it)."""
    service = ContainerService(engine)
    found = service.store.find(name)
    return service.refresh(found) if found is not None else None
