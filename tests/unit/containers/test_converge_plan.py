"""The container plan (converge.plan_container) for every option group, over
a read-only view of a real state root: records are written straight into the
store, so no runtime, monitor or kernel is involved — only the decision."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.ansible.container_plan import ContainerTask, plan_container
from ansible_collections.berth.engine.plugins.module_utils.ansible.image_models import ImportConfig
from ansible_collections.berth.engine.plugins.module_utils.containers import options
from ansible_collections.berth.engine.plugins.module_utils.containers.store import ContainerStore
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.errors import NotFound
from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
from ansible_collections.berth.engine.plugins.module_utils.image.rootfs_import import import_rootfs
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore
from tests.support.runtime import passwd_only_rootfs

IMAGE = "local/plan:1"


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = Engine.open(tmp_path / "state", tmp_path / "run")
    rootfs = passwd_only_rootfs(tmp_path)
    import_rootfs(ImageStore(engine), rootfs, ImportConfig(cmd=["sleep", "300"], env={"FROM_IMAGE": "1"},
                                                           labels={"from": "image"}), parse_reference(IMAGE))
    return engine


def image_id(engine: Engine) -> str:
    record = ImageStore(engine).find(IMAGE)
    assert record is not None
    return record.id


def add(engine: Engine, name: str, stated: dict[str, Any], *, status: str = "running", paused: bool = False,
        image: str | None = None, pid: int = 0) -> dict[str, Any]:
    """A container record as create() writes it, with the given state."""
    spec = options.build_spec(IMAGE, stated)
    store = ContainerStore(engine)
    with store.meta.transaction() as txn:
        return store.add(txn, name, {"image": IMAGE, "image_id": image or image_id(engine), "spec": spec.to_dict(),
                                     "stated": sorted(stated), "config": {},
                                     "state": {"status": status, "paused": paused, "pid": pid or _live_pid()}})


def _live_pid() -> int:
    import os

    return os.getpid()   # a process that is alive while the test runs


def plan(engine: Engine, **task: Any) -> list[str]:
    wanted = ContainerTask.from_params({"name": "web", "image": IMAGE, **task})
    return plan_container(engine.view(), wanted).actions()


def test_a_new_container_is_created_and_started(engine: Engine) -> None:
    assert plan(engine) == ["create", "start"]
    assert plan(engine, state="present") == ["create"]
    assert plan(engine, state="stopped") == ["create"]
    assert plan(engine, state="absent") == []


def test_a_missing_image_is_pulled_first_and_never_means_never(engine: Engine) -> None:
    assert plan(engine, image="registry.test/app:2") == ["pull registry.test/app:2", "create", "start"]
    with pytest.raises(NotFound, match="pull is never"):
        plan(engine, image="registry.test/app:2", pull="never")
    assert plan(engine, pull="always") == ["pull local/plan:1", "create", "start"]


def test_the_same_spec_is_no_change(engine: Engine) -> None:
    add(engine, "web", {"env": {"MODE": "a"}, "labels": {"tier": "web"}})
    assert plan(engine, env={"MODE": "a"}, labels={"tier": "web"}) == []
    assert plan(engine) == []   # options left out are not compared


def test_image_defaults_merged_into_both_sides_are_not_drift(engine: Engine) -> None:
    add(engine, "web", {})   # as `berth run local/plan:1` makes it
    assert plan(engine, command=["sleep", "300"], env={"FROM_IMAGE": "1"}, labels={"from": "image"}) == []
    assert plan(engine, command="sleep 300", working_dir="/", stop_signal="TERM", stop_timeout=10) == []


def test_actual_config_is_compared_not_the_last_task(engine: Engine) -> None:
    add(engine, "web", {"env": {"MODE": "b"}})   # changed outside the playbook
    assert plan(engine, env={"MODE": "a"}) == ["recreate", "start"]
    # removing a variable is a change too
    assert plan(engine, env={}) == ["recreate", "start"]


def test_in_place_updates_keep_the_container(engine: Engine) -> None:
    add(engine, "web", {"restart_policy": "no", "memory": "64m"})
    assert plan(engine, restart_policy="always", stop_timeout=3) == ["update restart_policy, stop_timeout"]
    assert plan(engine, memory="128m", pids_limit=50) == ["update memory, pids_limit"]
    assert plan(engine, memory="64M") == []   # units are parsed before comparing


def test_recreate_forced_or_by_image(engine: Engine) -> None:
    add(engine, "web", {}, image="sha256:" + "0" * 64)
    assert plan(engine) == ["recreate", "start"]
    assert plan(engine, recreate=True) == ["recreate", "start"]


def test_state_transitions(engine: Engine) -> None:
    add(engine, "web", {})
    assert plan(engine, state="stopped") == ["stop"]
    assert plan(engine, restart=True) == ["restart"]
    assert plan(engine, state="absent") == ["remove"]
    assert plan(engine, paused=True) == ["pause"]


def test_exited_and_paused_containers(engine: Engine) -> None:
    add(engine, "web", {}, status="exited")
    assert plan(engine) == ["start"]
    assert plan(engine, state="stopped") == []
    assert plan(engine, state="present", paused=True) == []   # present does not start it to pause it
    add(engine, "frozen", {}, paused=True)
    wanted = ContainerTask.from_params({"name": "frozen", "image": IMAGE, "paused": False})
    assert plan_container(engine.view(), wanted).actions() == ["unpause"]


def test_comparisons_override_the_defaults(engine: Engine) -> None:
    add(engine, "web", {"labels": {"a": "1", "b": "2"}, "capabilities": ["NET_ADMIN", "SYS_TIME"]})
    assert plan(engine, labels={"a": "1"}, comparisons={"labels": "allow_more_present"}) == []
    assert plan(engine, labels={"a": "1"}) == ["recreate", "start"]
    assert plan(engine, capabilities=["net_admin"], comparisons={"capabilities": "allow_more_present"}) == []
    assert plan(engine, labels={"z": "9"}, comparisons={"labels": "ignore"}) == []


def test_mounts_plan_their_volumes(engine: Engine) -> None:
    actions = plan(engine, volumes=["data:/data", "/srv:/srv:ro"],
                   mounts=[{"target": "/logs", "source": "logs", "type": "volume"}])
    assert actions == ["create volume data", "create volume logs", "create", "start"]
    add(engine, "web", {"volumes": ["data:/data"]})
    assert plan(engine, volumes=["data:/data"]) == []
    assert plan(engine, volumes=["data:/other"]) == ["create volume data", "recreate", "start"]


def test_networks_update_in_place_and_a_missing_network_warns_in_check_mode(engine: Engine) -> None:
    add(engine, "web", {"network_mode": "none"})
    assert plan(engine, network_mode="none") == []
    wanted = ContainerTask.from_params({"name": "web", "image": IMAGE, "network_mode": "none",
                                        "published_ports": ["8080:80"]})
    with pytest.raises(Exception, match="cannot publish"):
        plan_container(engine.view(), wanted)
    new = ContainerTask.from_params({"name": "api", "image": IMAGE, "networks": [{"name": "backend"}]})
    planned = plan_container(engine.view(), new)
    assert planned.actions() == ["create", "start"] and "backend" in planned.warnings[0]


def test_published_ports_compare_normalised(engine: Engine) -> None:
    add(engine, "web", {"published_ports": ["8080:80"]})
    assert plan(engine, published_ports=["0.0.0.0:8080:80/tcp"]) == []
    assert plan(engine, published_ports=["8081:80"]) == ["recreate", "start"]


def test_a_process_that_died_unwatched_is_planned_from_the_corrected_record_without_writing(engine: Engine) -> None:
    record = add(engine, "web", {}, pid=2**22 + 7)   # no such process
    path = engine.layout.metadata / "containers" / f"{record['id']}.json"
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    assert plan(engine) == ["start"]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert json.loads(path.read_text())["state"]["status"] == "running"


def test_diff_shows_before_and_after(engine: Engine) -> None:
    add(engine, "web", {"env": {"MODE": "a"}})
    wanted = ContainerTask.from_params({"name": "web", "image": IMAGE, "env": {"MODE": "b"}})
    planned = plan_container(engine.view(), wanted)
    diff = planned.diff()
    assert diff["before"]["spec"]["env"] == {"MODE": "a"} and diff["after"]["spec"]["env"] == {"MODE": "b"}
    assert planned.differences[0]["option"] == "env"
    assert planned.differences[0]["before"]["FROM_IMAGE"] == "1"   # effective values: the image's merged in


def test_a_view_cannot_write(engine: Engine) -> None:
    from ansible_collections.berth.engine.plugins.module_utils.containers.service import ContainerService
    from ansible_collections.berth.engine.plugins.module_utils.errors import ReadOnlyViolation

    with pytest.raises(ReadOnlyViolation):
        ContainerService(engine.view()).create("web", options.build_spec(IMAGE, {}))


def test_defaults_stated_explicitly_are_not_drift(engine: Engine) -> None:
    add(engine, "web", {})
    assert plan(engine, network_mode="bridge", networks=[{"name": "bridge"}], oom_score_adj=0,
                log_options={"max_file": 1}, read_only=False, restart_policy="no") == []
