"""The `volume`, `volume_info` and `prune` modules, and the container
module's `volumes`/`mounts`, through real ansible-playbook runs, with the bad
tasks of the family in one play. The plans' decisions (kept or recreated
data, in use, prune) and bad input are unit tests
(tests/unit/volumes/test_converge.py, tests/unit/test_bad_input_modules.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.ansible.image_models import ImportConfig
from ansible_collections.berth.engine.plugins.module_utils.containers.store import ContainerStore
from ansible_collections.berth.engine.plugins.module_utils.volumes.service import VolumeService
from tests.support.playbook import (
    assert_converges,
    assert_failed_cleanly,
    module_env,
    recorded,
    recording_play,
    run_playbook,
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
IMAGE = "local/vbox:1"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, Any]]:
    yield from module_env(tmp_path, IMAGE, ImportConfig(cmd=["sleep", "300"], volumes=["/cache"]))


def _play(env: dict[str, Any], tasks: list[dict[str, Any]], name: str = "play.yml") -> Path:
    return recording_play(env["dir"], tasks, env["defaults"], name)


def _out(env: dict[str, Any]) -> list[dict[str, Any]]:
    return recorded(env["dir"])


def test_volume_converges_and_keeps_data_unless_told(env: dict[str, Any]) -> None:
    task = {"berth.engine.volume": {"name": "pgdata", "labels": {"app": "db"}}}
    results = assert_converges(_play(env, [task]))
    assert "pgdata" in results[0].output
    service = VolumeService(env["engine"])
    (service.mountpoint("pgdata") / "precious").write_text("data\n")
    # a changed option is reported and kept (recreate: options-changed throws the data away:
    # tests/unit/volumes/test_converge.py, and through playbooks in test_plans_check_vs_apply.py)
    changed = {"berth.engine.volume": {"name": "pgdata", "labels": {"app": "other"}}}
    result = run_playbook(_play(env, [changed, {"berth.engine.volume_info": {"name": "pgdata"}}]), diff=True)
    kept, facts = _out(env)
    assert result.changed == 0 and result.failed == 0 and kept["differences"][0]["option"] == "labels"
    assert "kept" in " ".join(kept.get("warnings", [])) and "kept" in result.output
    assert (service.mountpoint("pgdata") / "precious").exists() and service.get("pgdata")["labels"] == {"app": "db"}
    assert facts["exists"] and facts["volume"]["mountpoint"].endswith("/pgdata/_data")


def test_container_volumes_and_mounts_converge_and_bad_tasks_fail(env: dict[str, Any]) -> None:
    site = env["dir"] / "site"
    site.mkdir()
    task = {"berth.engine.container": {
        "name": "web", "image": IMAGE,
        "volumes": ["webdata:/data", f"{site}:/site:ro"],
        "mounts": [{"type": "tmpfs", "target": "/scratch", "tmpfs_size": "1m"},
                   {"type": "volume", "source": "logs", "target": "/logs", "no_copy": True}]}}
    # the check run plans the volumes (and makes none: the apply plans the same, so they were not there)
    check, *_runs = assert_converges(_play(env, [task]))
    assert {"create", "create volume webdata", "create volume logs"} <= set(check.berth_tasks()[0]["actions"])
    service = VolumeService(env["engine"])
    assert service.users("webdata") == ["web"] and service.users("logs") == ["web"]
    record = ContainerStore(env["engine"]).get("web")
    cache = next(m for m in record["config"]["mounts"] if m["target"] == "/cache")["source"]
    # a changed mount recreates; keep_volumes: false takes the old anonymous volume along
    task["berth.engine.container"]["volumes"] = ["webdata:/data:ro", f"{site}:/site:ro"]
    task["berth.engine.container"]["keep_volumes"] = False
    assert run_playbook(_play(env, [task])).changed == 1
    assert "recreate" in _out(env)[0]["actions"] and service.find(cache) is None
    # bad tasks (one play, errors ignored): each fails with its message, no traceback, and makes nothing
    volumes = sorted(r["name"] for r in service.list())
    bad = run_playbook(_play(env, [{**bad_task, "ignore_errors": True} for bad_task in (
        {"berth.engine.volume": {"name": "webdata", "state": "absent"}},   # in use by web
        {"berth.engine.volume": {"name": "x"}},
        {"berth.engine.volume": {"name": "vv", "driver_options": {"type": "none", "o": "bind",
                                                                  "device": "/nonexistent-berth"}}},
        {"berth.engine.container": {"name": "c", "image": IMAGE, "volumes": ["v1:/a", "v2:/a"]}},
    )]))
    assert bad.returncode == 0, bad.output[-3000:]
    for failed, words in zip(_out(env), ("in use by web", "'x' is not a valid volume name",
                                         "bind device /nonexistent-berth is not a directory", "/a is mounted twice"),
                             strict=True):
        assert_failed_cleanly(failed, words)
    assert sorted(r["name"] for r in service.list()) == volumes and "webdata" in volumes
    assert [r["name"] for r in ContainerStore(env["engine"]).list()] == ["web"]


def test_prune_removes_unused_volumes_only(env: dict[str, Any]) -> None:
    service = VolumeService(env["engine"])
    service.create("named-unused")
    service.create("a" * 64, anonymous=True)
    service.create("kept")
    result = run_playbook(_play(env, [
        {"berth.engine.container": {"name": "c", "image": IMAGE, "state": "present", "volumes": ["kept:/k"]}},
        {"berth.engine.prune": {"volumes": True}},
        {"berth.engine.prune": {"volumes": True, "volumes_filters": {"all": True}}},
    ]))
    assert result.failed == 0, result.output[-3000:]
    _made, pruned, pruned_all = _out(env)
    assert pruned["changed"] and pruned["volumes"] == ["a" * 64]
    assert pruned_all["changed"] and pruned_all["volumes"] == ["named-unused"]
    anonymous = [m["source"] for m in ContainerStore(env["engine"]).get("c")["config"]["mounts"] if m["anonymous"]]
    assert {r["name"] for r in service.list()} == {"kept", *anonymous}, "volumes of a stopped container stay"
