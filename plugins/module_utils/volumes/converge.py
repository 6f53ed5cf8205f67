"""Plan and apply one `volume` task. A volume holds data, so a difference in
driver, options or labels is reported and acted on only when the task says
``recreate: options-changed`` (or ``always``); the default ``never`` keeps
the data and says what differs."""

from __future__ import annotations

from typing import Any

from ..engine import Engine
from .service import VolumeService

COMPARED = ("driver", "options", "labels")


def converge(engine: Engine, params: dict[str, Any], *, check_mode: bool) -> dict[str, Any]:
    service = VolumeService(engine)
    name = params["name"]
    current = service.find(name)
    before = _view(current)
    actions: list[str] = []
    warnings: list[str] = []
    if params["state"] == "absent":
        if current is not None:
            actions.append("remove")
            service.remove(name, check_mode=check_mode)   # refuses while a container uses it, in check mode too
        return _result(actions, [], warnings, before, {}, None)
    wanted = service.planned(name, params.get("driver") or "local", params.get("driver_options"),
                             params.get("labels"))
    differences = _differences(current, wanted) if current is not None else []
    recreate = params.get("recreate") or "never"
    if current is None:
        actions.append("create")
    elif recreate == "always" or (differences and recreate == "options-changed"):
        actions.append("recreate")
    elif differences:
        warnings.append(f"volume {name} differs in {', '.join(d['option'] for d in differences)}; it is kept "
                        "(a recreated volume loses its data): set recreate: options-changed to replace it")
    if not check_mode and actions:
        if current is not None:
            service.remove(name)
        current = service.create(name, wanted["driver"], wanted["options"], wanted["labels"])
    elif check_mode and actions:
        if current is not None:
            service.remove(name, check_mode=True)   # the in-use refusal shows in check mode as well
        current = wanted
    after = _view(current)
    facts = service.facts(current) if current is not None and not (check_mode and actions) else current
    return _result(actions, differences, warnings, before, after, facts)


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
    return {key: record.get(key) for key in ("name", "driver", "options", "labels", "mountpoint")}


def _result(actions: list[str], differences: list[dict[str, Any]], warnings: list[str], before: dict[str, Any],
            after: dict[str, Any], facts: dict[str, Any] | None) -> dict[str, Any]:
    changed = bool(actions)
    result = {"changed": changed, "actions": actions, "differences": differences, "volume": facts or {},
              "diff": {"before": before, "after": after if changed else before}}
    if warnings:
        result["warnings"] = warnings
    return result
