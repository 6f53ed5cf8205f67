"""Plan and apply one `container` task: compare the wanted options with the
container's, decide create / recreate / update in place / start / stop /
remove, and (unless in check mode) do it. Check mode runs the same plan and
skips the actions, so it reports exactly what a real run would do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..bundle import BundleRequest
from ..engine import Engine
from ..errors import Conflict, InvalidInput, NotFound
from ..image.store import ImageStore
from . import limits, mounting, networking
from . import options as table
from .service import ContainerService
from .store import creator_alive

RUNNING = ("running", "restarting")


@dataclass
class Plan:
    actions: list[str] = field(default_factory=list)
    differences: list[dict[str, Any]] = field(default_factory=list)
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def converge(engine: Engine, params: dict[str, Any], *, check_mode: bool) -> dict[str, Any]:
    service = ContainerService(engine)
    name, state = params["name"], params["state"]
    current = _settled(service, service.store.find(name), check_mode)
    if current is not None:
        current = service.refresh(current)
    plan = Plan(before=_view(current))
    if state == "absent":
        if current is not None:
            plan.actions.append("remove")
            if not check_mode:
                service.remove(current["id"], force=True, volumes=not params.get("keep_volumes", True))
        return _result(plan, None)
    wanted = table.desired(params)
    limits.validate(table.resources(wanted))  # units and ranges checked before anything is planned
    mounting.check_binds(_mounts(params))     # and volume/mount specs
    network = _network(params)                # and network wishes
    image_id = _image_id(engine, params, check_mode, plan)
    how = table.comparisons(params.get("comparisons"))
    recreate = current is None or bool(params.get("recreate"))
    if current is not None:
        stated = {k: v for k, v in wanted.items() if k != "paused"}  # paused is compared with the real state
        plan.differences = table.differences(current.get("options", {}), stated, how)
        if image_id is not None and current.get("image_id") != image_id:
            plan.differences.append({"option": "image", "before": current.get("image_id"), "after": image_id,
                                     "update": "recreate"})
        recreate = recreate or any(d["update"] == "recreate" for d in plan.differences)
    record = _apply(service, params, wanted, current, recreate, plan, check_mode, network)
    if state == "healthy" and not check_mode and record is not None:
        record = service.wait_healthy([record["id"]], params.get("healthy_timeout") or 300)[0]
    planned = {"name": name, "state": _target_status(state, current, plan), "image": params.get("image"),
               "image_id": image_id, "options": wanted, "network_mode": network["network_mode"],
               "networks": [n["name"] for n in network["networks"]], "published_ports": network["ports"]}
    plan.after = _view(record) if record else planned
    return _result(plan, record)


def _settled(service: ContainerService, current: dict[str, Any] | None, check_mode: bool) -> dict[str, Any] | None:
    """A record still marked creating is half-made: if its creator died (a
    crash mid-create), remove it — or in check mode plan as if it were gone —
    so this run creates the container afresh; if its creator still runs,
    another operation owns it."""
    if current is None or "creating" not in current:
        return current
    if not check_mode:
        service.store.drop_if_half_made(current["id"])
        current = service.store.meta.find(current["id"])
        if current is None or "creating" not in current:
            return current
    elif not creator_alive(current["creating"]):
        return None
    raise Conflict(f"container {current['name']} is being created by another berth operation "
                   f"(pid {current['creating'].get('pid')})", field="name",
                   hint="wait for that operation to finish, then re-run")


def _image_id(engine: Engine, params: dict[str, Any], check_mode: bool, plan: Plan) -> str | None:
    image = params.get("image")
    if not image:
        raise InvalidInput("image is required for state present, started or stopped", field="image",
                           hint="name the image the container runs, e.g. docker.io/library/nginx:1.27")
    record = ImageStore(engine).find(image)
    if record is not None and params.get("pull") != "always":
        return record.id
    if params.get("pull") == "never":
        raise NotFound(f"image {image!r} is not present and pull is never", field="image",
                       hint="pull it first (berth.engine.image), or set pull: missing")
    plan.actions.append(f"pull {image}")
    if check_mode:
        return record.id if record is not None else None
    from ..image.models import RegistryOptions
    from ..image.pull import Puller
    from ..image.reference import parse_reference
    from ..image.service import make_client

    ref = parse_reference(image)
    pulled, _changed = Puller(ImageStore(engine), make_client(ref.registry, RegistryOptions())).pull(ref)
    return pulled.id


def _apply(service: ContainerService, params: dict[str, Any], wanted: dict[str, Any], current: dict | None,
           recreate: bool, plan: Plan, check: bool, network: dict[str, Any]) -> dict[str, Any] | None:
    state = "started" if params["state"] == "healthy" else params["state"]
    was_running = current is not None and current["state"]["status"] in RUNNING
    record = current
    if recreate:
        if current is not None:
            plan.actions.append("recreate")
            if not check:
                service.remove(current["id"], force=True, volumes=not params.get("keep_volumes", True))
        else:
            plan.actions.append("create")
        mounts = _mounts(params)
        plan.actions += [f"create volume {name}" for name in mounting.missing_volumes(service.engine, mounts)]
        _missing_networks(service, network, plan, check)
        if not check:
            record = _create(service, params, wanted, mounts, network)
    else:
        in_place = [d for d in plan.differences if d["update"] == "in_place"]
        if in_place:
            plan.actions.append("update " + ", ".join(d["option"] for d in in_place))
            if any(d["option"] == "networks" for d in in_place):
                _missing_networks(service, network, plan, check)
            if not check and current is not None:
                record = _update(service, current, wanted)
                if any(d["option"] == "networks" for d in in_place):
                    service.set_networks(current["id"], network["networks"])
                if any(d["option"] in table.RESOURCES for d in in_place):
                    service.update_resources(current["id"], table.resources(wanted))
    running = was_running and not recreate
    if state == "started" or (state == "present" and was_running and recreate):
        if not running or params.get("restart"):
            plan.actions.append("restart" if running else "start")
            if not check and record is not None:
                if running:
                    service.stop(record["id"])
                service.start(record["id"])
    elif state == "stopped" and running:
        plan.actions.append("stop")
        if not check and record is not None:
            service.stop(record["id"])
    _pause(service, wanted, current, record, state, recreate, plan, check)
    return service.store.meta.find(record["id"]) if record is not None and not check else (
        record if not recreate else None)


def _pause(service: ContainerService, wanted: dict[str, Any], current: dict | None, record: dict | None,
           state: str, recreate: bool, plan: Plan, check: bool) -> None:
    if wanted.get("paused") is None or state == "stopped":
        return
    paused_now = bool(current and not recreate and current["state"].get("paused"))
    if bool(wanted["paused"]) == paused_now:
        return
    if state == "present" and (current is None or current["state"]["status"] not in RUNNING):
        return  # only a running container can be paused; present does not start it
    plan.actions.append("pause" if wanted["paused"] else "unpause")
    if not check and record is not None:
        service.pause(record["id"], bool(wanted["paused"]))


def _mounts(params: dict[str, Any]) -> list[dict[str, Any]]:
    from ..volumes import specs

    return specs.parse_all(params.get("volumes"), params.get("mounts"), params.get("tmpfs"))


def _network(params: dict[str, Any]) -> dict[str, Any]:
    return networking.wishes(params.get("network_mode"), params.get("networks"), params.get("published_ports"),
                             bool(params.get("publish_all_ports")))


def _missing_networks(service: ContainerService, network: dict[str, Any], plan: Plan, check: bool) -> None:
    """In check mode a network an earlier task would create is planned for, not an error."""
    missing = networking.missing_networks(service.engine, network)
    if missing and check:
        plan.warnings.append(f"network {', '.join(missing)} does not exist yet; an earlier task must create it")
    elif missing:
        networking.require_networks(service.engine, network)


def _create(service: ContainerService, params: dict[str, Any], wanted: dict[str, Any],
            mounts: list[dict[str, Any]], network: dict[str, Any]) -> dict[str, Any]:
    request = BundleRequest(image=params["image"], command=wanted.get("command"), entrypoint=wanted.get("entrypoint"),
                            env=wanted.get("env") or {}, user=wanted.get("user"),
                            working_dir=wanted.get("working_dir"), hostname=wanted.get("hostname"),
                            read_only=bool(wanted.get("read_only")), cap_add=wanted.get("capabilities") or [],
                            cap_drop=wanted.get("cap_drop") or [], labels=wanted.get("labels") or {},
                            oom_score_adj=wanted.get("oom_score_adj"), tmpfs=wanted.get("tmpfs") or [],
                            ulimits=wanted.get("ulimits") or [], sysctls=wanted.get("sysctls") or {},
                            devices=wanted.get("devices") or [], privileged=bool(wanted.get("privileged")),
                            mounts=mounts)
    size, files = _log_options(wanted.get("log_options") or {})
    return service.create(params["name"], request, restart_policy=_policy(wanted),
                          auto_remove=bool(wanted.get("auto_remove")),
                          stop_signal=wanted.get("stop_signal") or "SIGTERM",
                          stop_timeout=wanted.get("stop_timeout", 10), log_max_size=size, log_max_file=files,
                          options=wanted, healthcheck=wanted.get("healthcheck"),
                          resources=table.resources(wanted), cgroup_parent=wanted.get("cgroup_parent"),
                          network=network)


def _update(service: ContainerService, current: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    with service.store.meta.transaction() as txn:
        record = txn.get(current["id"])
        merged = {**record.get("options", {}), **wanted}
        record["options"] = merged
        record["config"]["restart_policy"] = _policy(merged)
        for key in ("stop_signal", "stop_timeout"):
            if key in wanted:
                record["config"][key] = wanted[key]
        txn.put(current["id"], record)
        return record


def _policy(values: dict[str, Any]) -> str:
    name = values.get("restart_policy") or "no"
    retries = values.get("restart_retries")
    return f"{name}:{retries}" if name == "on-failure" and retries else name


def _log_options(log_options: dict[str, Any]) -> tuple[int, int]:
    from ..cgroups.units import parse_bytes

    unknown = set(log_options) - {"max_size", "max_file", "max-size", "max-file"}
    if unknown:
        raise InvalidInput(f"unknown log_options {sorted(unknown)}", field="log_options",
                           hint="the json-file driver takes max_size (e.g. 10m) and max_file")
    size = log_options.get("max_size", log_options.get("max-size"))
    files = log_options.get("max_file", log_options.get("max-file", 1))
    from ..strict import parse_uint

    return (parse_bytes(size, "log_options.max_size") if size else 0), \
        parse_uint(files.strip() if isinstance(files, str) else files, field="log_options.max_file",
                   what="max_file", minimum=1, maximum=1000, hint="give the number of log files to keep, e.g. 3")


def _target_status(state: str, current: dict | None, plan: Plan) -> str:
    if state in ("started", "healthy"):
        return "running"
    if state == "stopped":
        return "exited" if current else "created"
    return current["state"]["status"] if current and "recreate" not in plan.actions else "created"


def _view(record: dict | None) -> dict[str, Any]:
    if record is None:
        return {}
    return {"name": record["name"], "state": record["state"]["status"], "image_id": record.get("image_id"),
            "options": record.get("options", {})}


def _result(plan: Plan, record: dict | None) -> dict[str, Any]:
    changed = bool(plan.actions)
    result = {"changed": changed, "actions": plan.actions, "differences": plan.differences,
              "container": record or {},
              "diff": {"before": plan.before, "after": plan.after if changed else plan.before}}
    if plan.warnings:
        result["warnings"] = plan.warnings
    return result
