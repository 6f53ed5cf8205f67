"""community.docker's ``command_handling`` and ``image_comparison`` (with ``comparisons: {image: ignore}``)
through real ansible-playbook runs: a container made with one reading of its command is left alone by a
task that reads another list the same way, and a container kept on its image when a newer one is tagged
is compared against its own image's defaults. (Every decision is tests/unit/containers/
test_image_and_command_handling.py; here the options reach the engine through the module and the agent.)"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.ansible.image_models import ImportConfig
from ansible_collections.berth.engine.plugins.module_utils.containers.store import ContainerStore
from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
from ansible_collections.berth.engine.plugins.module_utils.image.rootfs_import import import_rootfs
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore
from tests.support.playbook import module_env, recorded, recording_play, run_playbook

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
OLD, NEW = "local/box:1", "local/box:2"
C = "berth.engine.container"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, Any]]:
    yield from module_env(tmp_path, OLD, ImportConfig(cmd=["sleep", "300"], env={"MODE": "old"}))


def _run(env: dict[str, Any], tasks: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    play = run_playbook(recording_play(env["dir"], tasks, env["defaults"], name=name))
    assert play.returncode == 0, play.output[-3000:]
    return recorded(env["dir"])


def test_command_handling_reads_a_legacy_list_as_the_container_it_made(env: dict[str, Any]) -> None:
    made = {"name": "legacy", "image": OLD, "command": ["sleep", "300"]}
    legacy = {**made, "command": ["sleep 300"]}
    first, same, correct = _run(env, [{C: made}, {C: {**legacy, "command_handling": "compatibility"}},
                                      {C: legacy, "check_mode": True}], "command.yml")
    assert first["changed"] and first["actions"] == ["create", "start"]
    assert same["changed"] is False and same["actions"] == []
    assert correct["actions"] == ["recreate", "start"]   # correct: one argument, "sleep 300"
    record = ContainerStore(env["engine"]).find("legacy")
    assert record is not None and record["spec"]["command"] == ["sleep", "300"]


def test_image_comparison_current_image_keeps_the_container_on_its_image(env: dict[str, Any]) -> None:
    made = {"name": "db", "image": OLD}
    _run(env, [{C: made}], "made.yml")
    old_id = ContainerStore(env["engine"]).find("db")["image_id"]
    rootfs = env["dir"] / "src"
    import_rootfs(ImageStore(env["engine"]), rootfs, ImportConfig(cmd=["sleep", "300"], env={"MODE": "new"}),
                  parse_reference(NEW))
    kept = {"name": "db", "image": NEW, "env": {"MODE": "old"}, "comparisons": {"image": "ignore"}}
    current, desired = _run(env, [{C: {**kept, "image_comparison": "current-image"}},
                                  {C: kept, "check_mode": True}], "kept.yml")
    assert current["changed"] is False and current["container"]["image_id"] == old_id
    assert desired["actions"] == ["recreate", "start"]
    assert [d["option"] for d in desired["differences"]] == ["env"]
