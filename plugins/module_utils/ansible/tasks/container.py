"""The container modules' tasks: container, container_exec, container_info."""

from __future__ import annotations

from typing import Any

from ...containers.monitor_client import monitor_skew
from ...containers.options import split_command
from ...containers.service import ContainerService
from ...engine import Engine
from ..container_models import CONTAINER_EXEC_MODEL, CONTAINER_INFO_MODEL, CONTAINER_MODEL
from ..container_plan import ContainerTask, apply_container, check_container
from ..glue import validate


def container(params: dict[str, Any], check_mode: bool, _diff: bool) -> dict[str, Any]:
    values = validate(CONTAINER_MODEL, params).model_dump()   # the typed boundary: the table's own model
    task = ContainerTask.from_params(values)
    if check_mode:   # a read-only view: planning cannot write
        engine = Engine.view(values["state_root"], values["run_root"])
        return _with_monitor_skew(engine, check_container(engine, task))
    engine = Engine.open(values["state_root"], values["run_root"])
    return _with_monitor_skew(engine, apply_container(engine, task))


def _with_monitor_skew(engine: Engine, result: dict[str, Any]) -> dict[str, Any]:
    """The result, warning when the host's monitor runs other engine code than this task (a monitor
    outlives the engine that started it): versions never mix silently."""
    skew = monitor_skew(engine)
    if skew:
        result["warnings"] = [*(result.get("warnings") or []), skew]
    return result


def container_exec(params: dict[str, Any], check_mode: bool, _diff: bool) -> dict[str, Any]:
    values = validate(CONTAINER_EXEC_MODEL, params).model_dump()
    if check_mode:
        return {"changed": True}
    service = ContainerService(Engine.open(values["state_root"], values["run_root"]))
    argv = values["argv"] or split_command(values["command"])
    done = service.execute(values["container"], argv, env={k: str(v) for k, v in (values["env"] or {}).items()},
                           user=values["user"], workdir=values["chdir"],
                           stdin=(values["stdin"] or "").encode(), timeout=values["timeout"])
    return {"changed": True, "rc": done.returncode, "stdout": done.stdout.decode(errors="replace"),
            "stderr": done.stderr.decode(errors="replace")}


def container_info(params: dict[str, Any], check_mode: bool, _diff: bool) -> dict[str, Any]:
    values = validate(CONTAINER_INFO_MODEL, params).model_dump()
    service = ContainerService(Engine.view(values["state_root"], values["run_root"]))  # reads only
    if values["wait_healthy"] and check_mode:
        # in check mode the containers may exist only in the plan: nothing to wait for
        known = [service.store.find(ref) for ref in values["wait_healthy"]]
        return {"changed": False, "containers": [r for r in known if r is not None]}
    if values["wait_healthy"]:
        return {"changed": False, "containers": service.wait_healthy(values["wait_healthy"], values["timeout"])}
    if not values["name"]:
        return {"changed": False, "containers": service.list()}
    record = service.store.find(values["name"])
    if record is None:
        return {"changed": False, "exists": False}
    current = service.refresh(record)
    result = {"changed": False, "exists": True, "container": current, "stats": service.stats(current)}
    if values["logs"]:
        result["logs"] = service.logs(record["id"], tail=values["tail"], since=values["since"])
    return result


TASKS = {"container": container, "container_exec": container_exec, "container_info": container_info}
MODELS = {"container": CONTAINER_MODEL, "container_exec": CONTAINER_EXEC_MODEL,
          "container_info": CONTAINER_INFO_MODEL}
