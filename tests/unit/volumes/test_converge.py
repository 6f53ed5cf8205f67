"""The volume task's plan and the volume half of prune (volumes/converge.py):
check mode plans over a read-only view and writes nothing; an apply plans
again and executes the same steps; a volume's data is never thrown away
unless the task says so; a volume in use is never removed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.ansible.glue import validate
from ansible_collections.berth.engine.plugins.module_utils.ansible.volume_models import VolumeRequest
from ansible_collections.berth.engine.plugins.module_utils.ansible.volume_plan import (
    CreateVolume,
    PruneVolume,
    RecreateVolume,
    RemoveVolume,
    plan_volume,
    plan_volume_prune,
    volume_report,
)
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.errors import Conflict, InvalidInput
from ansible_collections.berth.engine.plugins.module_utils.plan import Plan
from ansible_collections.berth.engine.plugins.module_utils.volumes.service import VolumeService


def _request(engine: Engine, **task: Any) -> VolumeRequest:
    return validate(VolumeRequest, {"engine": {"state_root": str(engine.layout.state_root),
                                               "run_root": str(engine.layout.run_root)}, "name": "data", **task})


def _files(root: Path) -> list[tuple[str, int]]:
    return sorted((str(p.relative_to(root)), p.stat().st_mtime_ns) for p in root.rglob("*"))


def _check(engine: Engine, **task: Any) -> tuple[Plan, dict[str, Any]]:
    request = _request(engine, **task)
    plan = plan_volume(engine.view(), request)
    return plan, plan.result(**volume_report(engine.view(), request, plan, False))


def _apply(engine: Engine, **task: Any) -> dict[str, Any]:
    request = _request(engine, **task)
    plan = plan_volume(engine, request)
    plan.execute(engine)
    return plan.result(**volume_report(engine, request, plan, True))


def _use(engine: Engine, volume: str, container: str = "web") -> None:
    with engine.metadata("containers").transaction() as txn:
        txn.put(container * 8, {"id": container * 8, "name": container,
                                "config": {"mounts": [{"type": "volume", "source": volume, "target": "/d"}]}})


def test_create_is_planned_in_check_mode_and_made_by_the_same_step(engine: Engine) -> None:
    before = _files(engine.layout.state_root)
    plan, result = _check(engine, labels={"app": "db", "n": 1})
    assert plan.steps == [CreateVolume("data", "local", {}, {"app": "db", "n": "1"})]
    assert result["changed"] and result["actions"] == ["create"] and result["differences"] == []
    assert result["volume"]["labels"] == {"app": "db", "n": "1"} and result["diff"]["before"] == {}
    assert result["diff"]["after"]["mountpoint"].endswith("/volumes/data/_data")
    assert _files(engine.layout.state_root) == before, "check mode wrote nothing"
    applied = _apply(engine, labels={"app": "db", "n": 1})
    assert applied["actions"] == result["actions"] and applied["volume"]["users"] == []
    assert applied["volume"]["size"] >= 0 and Path(applied["volume"]["mountpoint"]).is_dir()
    for mode in (_check, _apply):
        again = mode(engine, labels={"app": "db", "n": 1})
        again = again[1] if isinstance(again, tuple) else again
        assert not again["changed"] and again["actions"] == []


def test_a_difference_is_reported_and_kept_unless_the_task_says_recreate(engine: Engine) -> None:
    _apply(engine, labels={"app": "db"})
    data = VolumeService(engine).mountpoint("data") / "precious"
    data.write_text("x")
    plan, kept = _check(engine, labels={"app": "other"})
    assert plan.steps == [] and not kept["changed"]
    assert kept["differences"] == [{"option": "labels", "before": {"app": "db"}, "after": {"app": "other"}}]
    assert "kept" in kept["warnings"][0] and "recreate: options-changed" in kept["warnings"][0]
    plan, _result = _check(engine, labels={"app": "other"}, recreate="options-changed")
    assert plan.steps == [RecreateVolume("data", "local", {}, {"app": "other"})] and plan.actions() == ["recreate"]
    assert data.exists(), "check mode recreates nothing"
    assert _apply(engine, labels={"app": "other"}, recreate="options-changed")["actions"] == ["recreate"]
    assert not data.exists() and VolumeService(engine).get("data")["labels"] == {"app": "other"}
    assert _check(engine, labels={"app": "other"}, recreate="always")[0].actions() == ["recreate"]


def test_a_volume_in_use_is_not_removed_or_recreated(engine: Engine) -> None:
    _apply(engine)
    stale = plan_volume(engine, _request(engine, state="absent"))   # planned before a container used it
    _use(engine, "data")
    for task in ({"state": "absent"}, {"recreate": "always"}):
        for view in (engine.view(), engine):
            with pytest.raises(Conflict, match="in use by web"):
                plan_volume(view, _request(engine, **task))
    with pytest.raises(Conflict, match="in use by web"):
        stale.execute(engine)   # the step checks again under the lock
    assert VolumeService(engine).find("data") is not None


def test_absent(engine: Engine) -> None:
    assert _check(engine, state="absent")[0].steps == []
    _apply(engine)
    plan, result = _check(engine, state="absent")
    assert plan.steps == [RemoveVolume("data")] and result["diff"] == {
        "before": {"name": "data", "driver": "local", "options": {}, "labels": {},
                   "mountpoint": str(VolumeService(engine).mountpoint("data"))}, "after": {}}
    assert _apply(engine, state="absent")["actions"] == ["remove"] and VolumeService(engine).list() == []


@pytest.mark.parametrize(("task", "field"), [
    ({"name": "x"}, "name"),
    ({"driver": "nfs"}, "driver"),
    ({"driver_options": {"size": "1m"}}, "driver_options"),
    ({"recreate": "sometimes"}, "recreate"),
])
def test_bad_input_names_the_option(engine: Engine, task: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        plan_volume(engine.view(), _request(engine, **task))
    assert err.value.field == field


def test_prune_plans_the_unused_anonymous_volumes(engine: Engine) -> None:
    service = VolumeService(engine)
    service.create("named")
    service.create("a" * 64, anonymous=True)
    service.create("b" * 64, anonymous=True)
    (service.mountpoint("a" * 64) / "f").write_bytes(b"x" * 5000)
    _use(engine, "b" * 64)
    steps = plan_volume_prune(engine.view(), all_volumes=False)
    assert [type(s) for s in steps] == [PruneVolume] and steps[0].name == "a" * 64 and steps[0].size >= 5000
    assert [s.describe() for s in steps] == [f"remove volume {'a' * 64}"]
    assert [s.name for s in plan_volume_prune(engine.view(), all_volumes=True)] == ["a" * 64, "named"]
    for step in plan_volume_prune(engine, all_volumes=True):
        step.execute(engine)
    assert sorted(r["name"] for r in service.list()) == ["b" * 64]
    assert plan_volume_prune(engine, all_volumes=True) == []
