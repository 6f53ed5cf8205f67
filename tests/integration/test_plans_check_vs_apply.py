"""Per task, for every converging module but the container ones: the plan a
check run prints is the list of actions the apply run on the same state
takes; applied again, the task has nothing left to do (changed false, no
actions). The cgroup task is the cgroup module's playbook test too (its
limits reach the kernel; a nested path is made and removed). The info
modules change nothing and plan nothing: test_check_mode_readonly.py.

Each round is one play of independent tasks (no task's object is another's),
so every task sees the same state in the check run as in the apply run that
follows it. The play-wide ``changed`` count of ``assert_converges`` cannot
see a check run that predicts the wrong task; this compares task by task.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.ansible.cgroup_plan import ReadOnlyCgroup, plan_cgroup
from ansible_collections.berth.engine.plugins.module_utils.ansible.image_models import ImportConfig
from ansible_collections.berth.engine.plugins.module_utils.cgroups.factory import open_manager
from ansible_collections.berth.engine.plugins.module_utils.cgroups.service import CgroupRequest
from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore
from ansible_collections.berth.engine.plugins.module_utils.registry import credentials
from ansible_collections.berth.engine.plugins.module_utils.registry.auth import Credentials
from ansible_collections.berth.engine.plugins.module_utils.volumes.service import VolumeService
from tests.support.playbook import module_env, recorded, recording_play, run_playbook

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
IMAGE = "local/planbox:1"
SUBNET = "10.254.177.0/24"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, Any]]:
    parent = f"berth-plan-{uuid.uuid4().hex[:8]}"
    try:
        yield from ({**found, "cgroup": f"{parent}/web"}
                    for found in module_env(tmp_path, IMAGE, ImportConfig(cmd=["sh"], volumes=["/cache"])))
    finally:
        for path in (f"{parent}/web", parent):
            manager = open_manager(path)
            plan = plan_cgroup(ReadOnlyCgroup(manager), CgroupRequest(path=path, state="absent",
                                                                      absent_processes="kill"))
            plan.execute(manager)


def _round(env: dict[str, Any], tasks: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """check, apply, apply: per task, the check's actions are the apply's, and nothing is left after."""
    play = recording_play(env["dir"], tasks, env["defaults"], f"{name}.yml")
    runs = []
    for check in (True, False, False):
        result = run_playbook(play, check=check, diff=True)
        assert result.failed == 0, result.output[-6000:]
        runs.append(recorded(env["dir"]))
    checked, applied, again = runs
    for task, planned, done, after in zip(tasks, checked, applied, again, strict=True):
        module = next(iter(task))
        assert planned["changed"] and planned["actions"], f"{module}: the check run planned nothing: {planned}"
        assert planned["actions"] == done["actions"], f"{module}: check planned {planned['actions']}, " \
                                                      f"the apply did {done['actions']}"
        assert done["changed"] and not after["changed"] and after["actions"] == [], f"{module} again: {after}"
    return applied


def test_each_task_applies_what_its_check_run_planned(env: dict[str, Any]) -> None:
    engine, work = env["engine"], env["dir"]
    store = ImageStore(engine)
    VolumeService(engine).create("a" * 64, anonymous=True)              # for prune
    store.save(store.resolve(IMAGE), parse_reference("local/gone:1"))     # a second tag, to untag
    config = work / "docker-config.json"
    credentials.store("registry.example.com:5000", Credentials("deploy", "pw"), config)
    made = _round(env, [
        {"berth.engine.prune": {"volumes": True}},
        {"berth.engine.volume": {"name": "data", "labels": {"app": "db"}}},
        {"berth.engine.network": {"name": "berthplannet", "ipam_config": [{"subnet": SUBNET}], "labels": {"a": "1"}}},
        {"berth.engine.image": {"name": "local/imported:1", "source": "import", "import_path": str(work / "src"),
                                "repository": "local/copy:1", "archive_path": str(work / "imported.tar")}},
        {"berth.engine.image": {"name": "local/gone:1", "state": "absent"}},
        {"berth.engine.login": {"registry": "registry.example.com:5000", "state": "absent",
                                "config_path": str(config)}},
        {"berth.engine.cgroup": {"path": env["cgroup"], "memory": "64m", "cpus": "0.5", "pids_limit": 50}},
    ], "create")
    assert made[0]["volumes"] == ["a" * 64] and made[3]["actions"] == [
        "imported: local/imported:1", "tagged: local/copy:1", f"archived: {work / 'imported.tar'}"]
    assert made[4]["actions"] == ["untagged: docker.io/local/gone:1"]
    _round(env, [
        {"berth.engine.volume": {"name": "data", "labels": {"app": "other"}, "recreate": "options-changed"}},
        {"berth.engine.network": {"name": "berthplannet", "ipam_config": [{"subnet": SUBNET}], "labels": {"a": "2"}}},
        {"berth.engine.image": {"name": "local/copy:1", "state": "absent"}},
        {"berth.engine.cgroup": {"path": env["cgroup"], "memory": "128m", "pids_limit": 60}},
    ], "change")
    assert open_manager(env["cgroup"]).stats().memory_limit == 128 << 20
    dangling = store.resolve(IMAGE)
    store.untag(IMAGE)                                                   # for prune: a dangling image
    gone = _round(env, [
        {"berth.engine.volume": {"name": "data", "state": "absent"}},
        {"berth.engine.network": {"name": "berthplannet", "state": "absent"}},
        {"berth.engine.image": {"name": "local/imported:1", "state": "absent"}},
        {"berth.engine.cgroup": {"path": env["cgroup"], "state": "absent"}},
        {"berth.engine.prune": {"images": True}},
    ], "remove")
    assert gone[0]["actions"] == ["remove"] and gone[1]["actions"] == ["removed network berthplannet"]
    assert gone[4]["images"] == [dangling.id] and store.list() == []
    assert not open_manager(env["cgroup"]).exists()
