"""The compose module's registry options (berth.engine.registry): a service
image only in a local docker-registry with basic auth is pulled with the
task's username and password (check → apply → apply → check), and without
them the pull fails naming the registry's refusal, with no traceback."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.integration.compose.conftest import Roots
from tests.support.images import push
from tests.support.playbook import assert_converges, assert_failed_cleanly, recorded, recording_play, run_playbook

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="integration tests need root")


def _play(roots: Roots, image: str, name: str, ignore_errors: bool = False, **registry: Any) -> Path:
    definition = {"services": {"app": {"image": image, "command": ["sleep", "1000"], "network_mode": "none",
                                       "stop_grace_period": "1s"}}}
    task = {"project_name": "private", "definition": definition, "project_src": str(roots.project_dir),
            "config_path": str(roots.project_dir / "no-docker-config.json"), **registry}
    return recording_play(roots.project_dir.parent, [{"name": "project", "berth.engine.compose": task,
                                                      **({"ignore_errors": True} if ignore_errors else {})}],
                          {"group/berth.engine.all": {"state_root": str(roots.state), "run_root": str(roots.run)}},
                          name=name)


def test_a_private_image_is_pulled_with_the_tasks_credentials(roots: Roots, registry_auth: Any,
                                                              busybox_image: Any) -> None:
    image = f"{registry_auth.host}/private/busybox:1"
    push(busybox_image, registry_auth, "private/busybox", "1")
    run_playbook(_play(roots, image, "anonymous.yml", ignore_errors=True))
    assert_failed_cleanly(recorded(roots.project_dir.parent)[0], registry_auth.host)
    check, _apply, _again, _last = assert_converges(_play(roots, image, "play.yml", username=registry_auth.username,
                                                          password=registry_auth.password))
    assert check.berth_tasks()[0]["actions"][0] == f"pulled: {image} (app)"
    result = recorded(roots.project_dir.parent)[0]
    assert [c["Name"] for c in result["containers"]] == ["private-app-1"]
    assert result["containers"][0]["State"] == "running"
