"""Planning a project over an engine's records (no kernel): order, the
steps for each case, scale-down's choice, orphans, down; check mode writes nothing."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.compose import names, specs
from ansible_collections.berth.engine.plugins.module_utils.compose.model import Project
from ansible_collections.berth.engine.plugins.module_utils.compose.plan import (
    UpOptions,
    plan_project,
    scale_down_choice,
    service_order,
)
from ansible_collections.berth.engine.plugins.module_utils.containers.record import ContainerRecord
from ansible_collections.berth.engine.plugins.module_utils.containers.spec import ContainerSpec
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput, NotFound

IMAGE_ID = "sha256:" + "ab" * 32


def _project(tmp_path: Path, services: dict[str, Any], **extra: Any) -> Project:
    return Project(name="shop", working_dir=str(tmp_path), config_files=[], services=services, **extra)


def _add(engine: Engine, project: Project, service: str, number: int, *, status: str = "exited",
         exit_code: int | None = 0, digest: str | None = None, stopped: bool = False) -> str:
    """A container record as an earlier converge would have left it (no process: exited or created)."""
    config = project.services.get(service, {"image": "busybox"})
    digest = digest or specs.config_hash(project, service, config)
    labels = names.container_labels(project, service, number, digest, None, {})
    name = names.container_name(project.name, service, number)
    container_id = secrets.token_hex(32)
    document = {"id": container_id, "name": name, "image": "busybox", "image_id": IMAGE_ID,
                "spec": ContainerSpec("busybox", labels=labels, network_mode="none").to_dict(), "stated": [],
                "config": {}, "state": {"status": status, "exit_code": exit_code, "stopped_by_user": stopped,
                                        "started_at": "2026-01-01T00:00:00Z"}}
    with engine.metadata("containers").transaction() as txn:
        txn.create(container_id, document)
    return name


def _actions(engine: Engine, project: Project, **options: Any) -> list[str]:
    return plan_project(engine.view(), project, UpOptions(pull="never", **options)).actions()


def _busybox() -> dict[str, Any]:
    return {"image": "busybox", "network_mode": "none"}


def test_order_follows_dependencies_and_cycles_are_named() -> None:
    services = {"web": {"depends_on": {"api": {"condition": "service_healthy"}}},
                "api": {"network_mode": "service:vpn", "depends_on": {"db": {}}}, "db": {}, "vpn": {},
                "extra": {"depends_on": {"gone": {"required": False}}}}
    assert service_order(services) == ["db", "vpn", "api", "extra", "web"]
    assert service_order(services, ["api"]) == ["db", "vpn", "api"]
    with pytest.raises(InvalidInput, match="dependency cycle: a -> b -> a"):
        service_order({"a": {"depends_on": {"b": {}}}, "b": {"depends_on": {"a": {}}}})
    with pytest.raises(InvalidInput, match="not defined"):
        service_order({"a": {"depends_on": {"b": {}}}})


def _record(number: int) -> ContainerRecord:
    spec = ContainerSpec("busybox", labels={names.NUMBER: str(number)})
    return ContainerRecord.load({"id": str(number), "name": f"x-{number}", "spec": spec.to_dict(), "state": {}})


def test_scale_down_takes_changed_replicas_first_then_the_highest() -> None:
    records = [(_record(1), False), (_record(2), True), (_record(3), False), (_record(4), False)]
    assert [r.name for r in scale_down_choice(records, 2)] == ["x-2", "x-4"]
    assert [r.name for r in scale_down_choice(records, 0)] == ["x-2", "x-4", "x-3", "x-1"]
    assert scale_down_choice(records, 5) == []


def test_up_from_nothing_plans_networks_volumes_and_containers_in_order(tmp_path: Path, engine: Engine) -> None:
    project = _project(tmp_path, {
        "web": {"image": "busybox", "depends_on": {"db": {"condition": "service_healthy", "required": True}},
                "deploy": {"replicas": 2}},
        "db": {"image": "busybox", "volumes": [{"type": "volume", "source": "data", "target": "/data"}],
               "networks": {"back": None}}},
        networks={"back": {}}, volumes={"data": {}})
    before = sorted(p.name for p in (tmp_path / "state").rglob("*"))
    plan = plan_project(engine.view(), project, UpOptions())
    assert plan.actions() == [
        "created network: shop_back", "created network: shop_default", "created volume: shop_data",
        "created: shop-db-1", "started: shop-db-1",
        "created: shop-web-1", "started: shop-web-1", "created: shop-web-2", "started: shop-web-2"]
    assert sorted(p.name for p in (tmp_path / "state").rglob("*")) == before   # the view wrote nothing
    assert plan.order == ["db", "web"]
    assert plan.replicas == {"db": ["shop-db-1"], "web": ["shop-web-1", "shop-web-2"]}
    assert [(d.service, d.condition) for d in plan.depends["web"]] == [("db", "service_healthy")]
    assert plan.after["shop-web-2"]["number"] == 2 and plan.before == {}


def test_external_network_and_volume_must_exist(tmp_path: Path, engine: Engine) -> None:
    project = _project(tmp_path, {"web": {"image": "busybox", "networks": {"edge": None}}},
                       networks={"edge": {"external": True, "name": "corp-edge"}})
    with pytest.raises(NotFound, match="external network corp-edge"):
        _actions(engine, project)
    project = _project(tmp_path, {"web": {**_busybox(), "volumes": [
        {"type": "volume", "source": "data", "target": "/d"}]}}, volumes={"data": {"external": True}})
    with pytest.raises(NotFound, match="external volume data"):
        _actions(engine, project)


def test_unchanged_project_plans_nothing_and_a_completed_one_shot_is_not_rerun(tmp_path: Path,
                                                                               engine: Engine) -> None:
    project = _project(tmp_path, {"migrate": _busybox(), "web": _busybox(), "flaky": _busybox()})
    _add(engine, project, "migrate", 1, exit_code=0)
    _add(engine, project, "web", 1, exit_code=0, stopped=True)   # someone stopped it: up starts it again
    _add(engine, project, "flaky", 1, exit_code=1)
    plan = plan_project(engine.view(), project, UpOptions(pull="never", recreate="never"))
    assert plan.actions() == ["started: shop-flaky-1", "started: shop-web-1"]


def test_a_changed_service_is_recreated_and_others_kept(tmp_path: Path, engine: Engine) -> None:
    project = _project(tmp_path, {"a": _busybox(), "b": _busybox()})
    _add(engine, project, "a", 1, digest="old")
    _add(engine, project, "b", 1)
    plan = plan_project(engine.view(), project, UpOptions(pull="never"))
    assert plan.actions() == ["recreated: shop-a-1 (config changed)", "started: shop-a-1"]
    assert plan.before["shop-a-1"]["config_hash"] == "old" and plan.after["shop-a-1"]["config_hash"] != "old"
    assert plan_project(engine.view(), project, UpOptions(pull="never", recreate="always")).actions() == [
        "recreated: shop-a-1 (forced)", "started: shop-a-1", "recreated: shop-b-1 (forced)", "started: shop-b-1"]
    missing = _project(tmp_path, {"a": {"image": "nothere:1", "network_mode": "none"}})
    with pytest.raises(NotFound, match="nothere"):
        _actions(engine, missing)
    assert plan_project(engine.view(), missing, UpOptions()).actions()[0] == "pulled: nothere:1 (a)"


def test_scale_down_and_orphans(tmp_path: Path, engine: Engine) -> None:
    project = _project(tmp_path, {"web": {**_busybox(), "scale": 1}})
    for number in (1, 2, 3):
        _add(engine, project, "web", number, digest="old" if number == 1 else None)
    _add(engine, project, "old", 1)
    plan = plan_project(engine.view(), project, UpOptions(pull="never", recreate="never"))
    assert plan.actions() == ["removed: shop-web-3 (scaled down)", "removed: shop-web-2 (scaled down)"]
    assert plan.facts["orphans"] == ["shop-old-1"] and "shop-old-1" in plan.warnings[0]
    plan = plan_project(engine.view(), project, UpOptions(pull="never", recreate="auto", remove_orphans=True,
                                                          scale={"web": 2}))
    assert plan.actions()[0] == "removed: shop-web-1 (scaled down)"
    assert plan.actions()[-1] == "removed orphan: shop-old-1"


def test_down_removes_only_what_carries_the_project_labels(tmp_path: Path, engine: Engine) -> None:
    project = _project(tmp_path, {"web": _busybox(), "db": _busybox()})
    _add(engine, project, "db", 1)
    _add(engine, project, "web", 1)
    other = _project(tmp_path, {"web": _busybox()})
    other.name = "other"
    _add(engine, other, "web", 1)
    plan = plan_project(engine.view(), project, UpOptions(state="absent", remove_volumes=True))
    assert plan.actions() == ["removed: shop-web-1", "removed: shop-db-1"]


def test_bad_options_name_the_option(tmp_path: Path, engine: Engine) -> None:
    project = _project(tmp_path, {"web": _busybox()})
    with pytest.raises(InvalidInput) as caught:
        _actions(engine, project, recreate="sometimes")
    assert caught.value.field == "recreate"
    with pytest.raises(InvalidInput) as caught:
        _actions(engine, project, scale={"web": -1})
    assert caught.value.field == "scale"


def test_conditions_verdicts() -> None:
    from ansible_collections.berth.engine.plugins.module_utils.compose import gating

    def record(status: str, exit_code: int | None = None, started: str | None = "t") -> ContainerRecord:
        return ContainerRecord.load({"id": "1", "name": "x", "spec": ContainerSpec("b").to_dict(),
                                     "state": {"status": status, "exit_code": exit_code, "started_at": started}})

    verdict = gating._verdict
    assert verdict("s", [record("running")], gating.STARTED) is None
    assert verdict("s", [record("exited", 0)], gating.STARTED) is None      # a one-shot that already ran
    assert verdict("s", [record("created", started=None)], gating.STARTED) == ""
    assert verdict("s", [record("running")], gating.COMPLETED) == ""
    assert verdict("s", [record("exited", 0)], gating.COMPLETED) is None
    assert "exit code 2" in (verdict("s", [record("exited", 2)], gating.COMPLETED) or "")
    assert "never started" in (verdict("s", [record("created")], gating.COMPLETED) or "")


def test_step_lines_are_compose_like() -> None:
    from ansible_collections.berth.engine.plugins.module_utils.compose import steps

    spec = ContainerSpec("busybox")
    assert steps.CreateContainer("web", "shop-web-1", spec, ()).describe() == "created: shop-web-1"
    assert steps.RecreateContainer("web", "shop-web-1", "id", spec, (), "config changed").describe() == \
        "recreated: shop-web-1 (config changed)"
    assert steps.RemoveOrphan("old", "shop-old-1", why="orphan").describe() == "removed orphan: shop-old-1"
    assert steps.RemoveOrphan.phase == "after" and steps.StartContainer.phase == "service"
    assert steps.CreateNetwork("shop_default", {}).describe() == "created network: shop_default"


def test_depends_on_restart_restarts_running_dependents_of_a_recreated_service(tmp_path: Path,
                                                                               engine: Engine) -> None:
    project = _project(tmp_path, {"db": _busybox(), "web": {**_busybox(), "depends_on": {
        "db": {"condition": "service_started", "required": True, "restart": True}}}})
    _add(engine, project, "db", 1, digest="old")
    _add(engine, project, "web", 1, status="running")
    from ansible_collections.berth.engine.plugins.module_utils.compose import plan as compose_plan

    planner_plan = compose_plan.ComposePlan(project="shop")
    actual = compose_plan.read_actual(engine.view(), "shop")
    planner = compose_plan._Planner(engine.view(), project, UpOptions(pull="never"), actual, planner_plan)
    planner.recreated.add("db")
    assert planner._dependency_recreated("web") and not planner._dependency_recreated("db")


def test_a_named_service_runs_whatever_its_profiles(tmp_path: Path, engine: Engine) -> None:
    debug = {**_busybox(), "profiles": ["debug"], "depends_on": {"tools": {"condition": "service_started"}}}
    project = _project(tmp_path, {"web": _busybox()},
                       disabled={"debug": debug, "tools": {**_busybox(), "profiles": ["debug"]}})
    assert [a for a in _actions(engine, project) if a.startswith("created")] == ["created: shop-web-1"]
    assert [a for a in _actions(engine, project, services=("debug",)) if a.startswith("created")] == [
        "created: shop-tools-1", "created: shop-debug-1"]
    _add(engine, project, "debug", 1)
    assert plan_project(engine.view(), project, UpOptions(pull="never")).facts["orphans"] == []
