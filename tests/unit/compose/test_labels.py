"""A project known by its name alone (no compose file): found by its labels,
as Docker Compose finds one given only -p; down, stopped and restarted plan
from it, present refuses naming project_src; the module takes project_name
alone only with those states."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.ansible.compose_models import ComposeRequest
from ansible_collections.berth.engine.plugins.module_utils.ansible.glue import validate_params
from ansible_collections.berth.engine.plugins.module_utils.ansible.tasks import compose as task
from ansible_collections.berth.engine.plugins.module_utils.compose import names
from ansible_collections.berth.engine.plugins.module_utils.compose.model import Project
from ansible_collections.berth.engine.plugins.module_utils.compose.plan import UpOptions, plan_project
from ansible_collections.berth.engine.plugins.module_utils.compose.state import project_from_labels
from ansible_collections.berth.engine.plugins.module_utils.containers.spec import ContainerSpec
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput

IMAGE_ID = "sha256:" + "ab" * 32


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return Engine.open(tmp_path / "state", tmp_path / "run")


def _add(engine: Engine, service: str, number: int, depends_on: dict[str, Any], image: str = "busybox") -> None:
    project = Project(name="shop", working_dir="/srv/shop", config_files=["/srv/shop/compose.yaml"], services={})
    labels = names.container_labels(project, service, number, "h", None, depends_on)
    container_id = secrets.token_hex(32)
    document = {"id": container_id, "name": names.container_name("shop", service, number), "image": image,
                "image_id": IMAGE_ID, "spec": ContainerSpec(image, labels=labels, network_mode="none").to_dict(),
                "stated": [], "config": {}, "state": {"status": "exited", "exit_code": 0}}
    with engine.metadata("containers").transaction() as txn:
        txn.create(container_id, document)


def _shop(engine: Engine) -> None:
    _add(engine, "db", 1, {})
    _add(engine, "web", 1, {"db": {"condition": "service_healthy"}, "gone": {}}, image="shop-web")
    _add(engine, "web", 2, {"db": {"condition": "service_healthy"}}, image="shop-web")


def test_the_project_its_labels_make(engine: Engine) -> None:
    _shop(engine)
    project = project_from_labels(engine, "shop")
    assert project.service_order() == ["db", "web"]
    assert project.services["web"]["depends_on"] == {"db": {"condition": "service_healthy", "restart": False,
                                                            "required": True}}
    assert project.services["db"] == {"image": "busybox", "depends_on": {}}
    assert "image" not in project.services["web"]   # built under Compose's name: a local image
    assert (project.working_dir, project.config_files) == ("/srv/shop", ["/srv/shop/compose.yaml"])
    assert project_from_labels(engine, "other").services == {}
    with pytest.raises(InvalidInput) as bad:
        project_from_labels(engine, "Not A Name")
    assert bad.value.field == "project_name"


def test_down_stopped_and_restarted_plan_from_labels(engine: Engine) -> None:
    _shop(engine)
    project = project_from_labels(engine, "shop")
    down = plan_project(engine.view(), project, UpOptions(state="absent"))
    assert down.actions() == ["removed: shop-web-2", "removed: shop-web-1", "removed: shop-db-1"]
    assert plan_project(engine.view(), project, UpOptions(state="stopped")).actions() == []   # none is running
    assert plan_project(engine.view(), project, UpOptions(state="restarted")).actions() == []
    with pytest.raises(InvalidInput) as bad:
        plan_project(engine.view(), project, UpOptions())
    assert bad.value.field == "project_src" and "absent" in (bad.value.hint or "")


@pytest.mark.parametrize(("state", "alone"), [("absent", True), ("stopped", True), ("restarted", True),
                                              ("present", False)])
def test_the_module_takes_a_name_alone_for_states_that_need_no_files(state: str, alone: bool) -> None:
    request = validate_params(ComposeRequest, {"project_name": "shop", "state": state})
    assert task.by_labels(request) is alone
    if alone:
        task.check_request(request)
    else:
        with pytest.raises(InvalidInput) as bad:
            task.check_request(request)
        assert bad.value.field == "project_src"


def test_the_module_passes_its_registry_options_to_the_converge() -> None:
    request = validate_params(ComposeRequest, {"project_src": "/srv/shop", "username": "u", "password": "hunter2",
                                               "insecure_registries": ["127.0.0.1:5000"], "validate_certs": False})
    registry = task.up_options(request).registry
    assert (registry.username, registry.password, registry.validate_certs) == ("u", "hunter2", False)
    assert registry.insecure_registries == ["127.0.0.1:5000"] and "hunter2" not in repr(registry)
