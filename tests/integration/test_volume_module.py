"""The `volume`, `volume_info` and `prune` modules, and the container
module's `volumes`/`mounts`, through real ansible-playbook runs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.ansible.image_models import ImportConfig
from ansible_collections.berth.engine.plugins.module_utils.containers.store import ContainerStore
from ansible_collections.berth.engine.plugins.module_utils.volumes.service import VolumeService
from tests.support.playbook import assert_converges, module_env, recorded, recording_play, run_playbook

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
    changed = {"berth.engine.volume": {"name": "pgdata", "labels": {"app": "other"}}}
    result = run_playbook(_play(env, [changed]), diff=True)
    out = _out(env)[0]
    assert result.changed == 0 and out["differences"][0]["option"] == "labels"
    assert "kept" in " ".join(out.get("warnings", [])) and (service.mountpoint("pgdata") / "precious").exists()
    recreate = {"berth.engine.volume": {"name": "pgdata", "labels": {"app": "other"}, "recreate": "options-changed"}}
    assert run_playbook(_play(env, [recreate]), check=True).changed == 1
    assert (service.mountpoint("pgdata") / "precious").exists(), "check mode recreates nothing"
    assert run_playbook(_play(env, [recreate])).changed == 1
    assert not (service.mountpoint("pgdata") / "precious").exists()
    assert service.get("pgdata")["labels"] == {"app": "other"}
    info = run_playbook(_play(env, [{"berth.engine.volume_info": {"name": "pgdata"}}]))
    facts = _out(env)[0]
    assert info.failed == 0 and facts["exists"] and facts["volume"]["mountpoint"].endswith("/pgdata/_data")


def test_container_volumes_and_mounts_converge(env: dict[str, Any]) -> None:
    site = env["dir"] / "site"
    site.mkdir()
    task = {"berth.engine.container": {
        "name": "web", "image": IMAGE,
        "volumes": ["webdata:/data", f"{site}:/site:ro"],
        "mounts": [{"type": "tmpfs", "target": "/scratch", "tmpfs_size": "1m"},
                   {"type": "volume", "source": "logs", "target": "/logs", "no_copy": True}]}}
    assert run_playbook(_play(env, [task]), check=True).changed == 1
    assert {"create", "create volume webdata", "create volume logs"} <= set(_out(env)[0]["actions"])
    assert VolumeService(env["engine"]).list() == [], "check mode made no volume"
    assert_converges(_play(env, [task]))
    service = VolumeService(env["engine"])
    assert service.users("webdata") == ["web"] and service.users("logs") == ["web"]
    record = ContainerStore(env["engine"]).get("web")
    cache = next(m for m in record["config"]["mounts"] if m["target"] == "/cache")["source"]
    # a changed mount recreates; keep_volumes: false takes the old anonymous volume along
    task["berth.engine.container"]["volumes"] = ["webdata:/data:ro", f"{site}:/site:ro"]
    task["berth.engine.container"]["keep_volumes"] = False
    assert run_playbook(_play(env, [task])).changed == 1
    assert "recreate" in _out(env)[0]["actions"] and service.find(cache) is None
    # in use: refused, in check mode too, and the data stays
    gone = {"berth.engine.volume": {"name": "webdata", "state": "absent"}}
    for check in (True, False):
        refused = run_playbook(_play(env, [gone]), check=check)
        assert refused.failed == 1 and "in use by web" in refused.output
    assert service.find("webdata") is not None


def test_prune_removes_unused_volumes_only(env: dict[str, Any]) -> None:
    service = VolumeService(env["engine"])
    service.create("named-unused")
    service.create("a" * 64, anonymous=True)
    service.create("kept")
    run_playbook(_play(env, [{"berth.engine.container": {"name": "c", "image": IMAGE, "state": "present",
                                                         "volumes": ["kept:/k"]}}]))
    anonymous = [m["source"] for m in ContainerStore(env["engine"]).get("c")["config"]["mounts"] if m["anonymous"]]
    prune = {"berth.engine.prune": {"volumes": True}}
    assert run_playbook(_play(env, [prune]), check=True).changed == 1 and service.find("a" * 64) is not None
    assert run_playbook(_play(env, [prune])).changed == 1
    assert _out(env)[0]["volumes"] == ["a" * 64]
    prune_all = {"berth.engine.prune": {"volumes": True, "volumes_filters": {"all": True}}}
    assert run_playbook(_play(env, [prune_all])).changed == 1
    assert {r["name"] for r in service.list()} == {"kept", *anonymous}, "volumes of a stopped container stay"


@pytest.mark.parametrize("task, words", [
    ({"berth.engine.volume": {"name": "x"}}, "not a valid volume name"),
    ({"berth.engine.volume": {"name": "vv", "driver_options": {"size": "1m"}}}, "unknown driver options"),
    ({"berth.engine.volume": {"name": "vv", "driver": "nfs"}}, "the local driver only"),
    ({"berth.engine.volume": {"name": "vv", "driver_options": {"type": "none", "o": "bind",
                                                               "device": "/nonexistent-berth"}}}, "not a directory"),
    ({"berth.engine.container": {"name": "c", "image": IMAGE, "volumes": ["v1:/a", "v2:/a"]}}, "mounted twice"),
    ({"berth.engine.container": {"name": "c", "image": IMAGE,
                                 "mounts": [{"type": "bind", "source": "/nonexistent-berth", "target": "/a"}]}},
     "does not exist"),
])
def test_bad_input_makes_nothing(env: dict[str, Any], task: dict[str, Any], words: str) -> None:
    for check in (True, False):
        result = run_playbook(_play(env, [task]), check=check)
        assert result.failed == 1 and words in result.output, result.output[-3000:]
    assert not VolumeService(env["engine"]).list() and not ContainerStore(env["engine"]).list()
