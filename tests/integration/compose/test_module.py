"""The compose module through ansible-playbook on the real kernel (busybox):
check → apply → apply → check with per-task plans equal, a diff, one
service's change recreating only it, what `berth compose ps` sees of what the
module made, down with its volumes, and bad input failing with the key's
path and no traceback."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.compose import names
from tests.integration.compose.conftest import Roots
from tests.support.playbook import assert_converges, assert_failed_cleanly, recorded, recording_play, run_playbook

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="integration tests need root")
REPO = Path(__file__).resolve().parents[3]

COMPOSE = """\
name: shop
services:
  db:
    image: busybox:latest
    command: [sleep, "1000"]
    network_mode: none
    stop_grace_period: 1s
    volumes: [data:/data]
  web:
    image: busybox:latest
    command: sh -c 'echo "$$GREETING" && exec sleep 1000'
    network_mode: none
    stop_grace_period: 1s
    environment:
      GREETING: ${GREETING:-hello}
    depends_on: [db]
  job:
    image: busybox:latest
    command: ["true"]
    network_mode: none
volumes:
  data: {}
"""


def _defaults(roots: Roots) -> dict[str, Any]:
    return {"group/berth.engine.all": {"state_root": str(roots.state), "run_root": str(roots.run)}}


def _play(roots: Roots, name: str = "play.yml", **task: Any) -> Path:
    return recording_play(roots.project_dir.parent, [{"name": "project", "berth.engine.compose": {
        "project_src": str(roots.project_dir), **task}}], _defaults(roots), name=name)


def _berth(roots: Roots, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(REPO / "bin" / "berth"), "--state-root", str(roots.state), "--run-root",
                           str(roots.run), "compose", *args], capture_output=True, text=True, timeout=120,
                          check=False, cwd=roots.project_dir, stdin=subprocess.DEVNULL)


def test_check_apply_apply_check_and_what_the_cli_sees(roots: Roots) -> None:
    (roots.project_dir / "compose.yaml").write_text(COMPOSE)
    play = _play(roots)
    check, apply, _again, _last = assert_converges(play)
    actions = check.berth_tasks()[0]["actions"]
    assert "created volume: shop_data" in actions and actions.index("created: shop-db-1") < actions.index(
        "created: shop-web-1"), actions
    result = recorded(roots.project_dir.parent)[0]
    assert result["project_name"] == "shop" and not result["changed"]
    by_name = {c["Name"]: c for c in result["containers"]}
    assert sorted(by_name) == ["shop-db-1", "shop-job-1", "shop-web-1"]
    assert by_name["shop-web-1"]["State"] == "running" and by_name["shop-web-1"]["Service"] == "web"
    assert by_name["shop-job-1"]["State"] == "exited"   # a one-shot that completed is left be
    assert by_name["shop-web-1"]["Labels"][names.PROJECT] == "shop"
    assert [v["Name"] for v in result["volumes"]] == ["shop_data"]
    assert apply.changed == 1

    listed = _berth(roots, "ps", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    assert sorted(c["Name"] for c in json.loads(listed.stdout)) == ["shop-db-1", "shop-web-1"]
    everything = json.loads(_berth(roots, "ps", "-a", "--format", "json").stdout)
    assert sorted(c["Name"] for c in everything) == sorted(by_name)
    again = _berth(roots, "up", "-d", "--json")   # the CLI converges the same project: nothing to do
    assert again.returncode == 0 and json.loads(again.stdout)["actions"] == [], (again.stdout, again.stderr)

    # one service's change (interpolated from the task's environment): only web is recreated
    changed = recording_play(roots.project_dir.parent, [{
        "name": "project", "berth.engine.compose": {"project_src": str(roots.project_dir)},
        "environment": {"GREETING": "bonjour"}}], _defaults(roots), name="changed.yml")
    planned = run_playbook(changed, check=True, diff=True)
    assert planned.changed == 1, planned.output[-3000:]
    actions = planned.berth_tasks()[0]["actions"]
    assert any(a.startswith("recreated: shop-web-1") for a in actions), actions
    assert not any("shop-db-1" in a or "shop-job-1" in a for a in actions), actions
    diff = recorded(roots.project_dir.parent)[0]["diff"]
    assert diff["before"] != diff["after"]
    done = run_playbook(changed, diff=True)
    assert done.changed == 1 and done.berth_tasks()[0]["actions"] == actions
    logs = _berth(roots, "logs", "web")
    assert "bonjour" in logs.stdout, (logs.stdout, logs.stderr)
    assert run_playbook(changed).changed == 0

    # down -v through the module: nothing of the project is left
    down = _play(roots, "down.yml", state="absent", remove_volumes=True)
    assert run_playbook(down, check=True).changed == 1
    assert run_playbook(down).changed == 1
    left = recorded(roots.project_dir.parent)[0]
    assert left["containers"] == [] and left["volumes"] == [] and left["networks"] == []
    assert run_playbook(down).changed == 0


def test_an_inline_definition_and_a_subset(roots: Roots) -> None:
    definition = {"services": {"a": {"image": "busybox:latest", "command": ["sleep", "1000"],
                                     "network_mode": "none", "stop_grace_period": "1s"},
                               "b": {"image": "busybox:latest", "command": ["sleep", "1000"],
                                     "network_mode": "none", "stop_grace_period": "1s", "depends_on": ["a"]},
                               "c": {"image": "busybox:latest", "command": ["sleep", "1000"],
                                     "network_mode": "none"}}}
    play = recording_play(roots.project_dir.parent, [{"name": "inline", "berth.engine.compose": {
        "project_name": "inline", "definition": definition, "services": ["b"], "scale": {"a": 2}}}],
        _defaults(roots))
    assert_converges(play)
    made = sorted(c["Name"] for c in recorded(roots.project_dir.parent)[0]["containers"])
    assert made == ["inline-a-1", "inline-a-2", "inline-b-1"]   # b and what it depends on, not c


@pytest.mark.parametrize(("task", "words"), [
    ({"files": ["missing.yaml"]}, ["files[0]"]),
    ({"services": ["cache"]}, ["services[0]", "no service 'cache'"]),
    ({"scale": {"web": -1}}, ["scale"]),
    ({"state": "running"}, ["state"]),
])
def test_bad_input_fails_naming_the_option(roots: Roots, task: dict[str, Any], words: list[str]) -> None:
    (roots.project_dir / "compose.yaml").write_text(COMPOSE)
    run_playbook(_bad(roots, task))
    failed = recorded(roots.project_dir.parent)[0]
    assert failed.get("failed") is True, failed
    if "error" in failed:   # the engine's failures; a bad choice is AnsibleModule's own message
        assert_failed_cleanly(failed, *words)
    else:
        assert all(w in failed["msg"] for w in words) and "Traceback" not in failed["msg"], failed
    assert json.loads(_berth(roots, "ps", "-a", "--format", "json").stdout) == []


def test_a_bad_key_names_its_path(roots: Roots) -> None:
    (roots.project_dir / "compose.yaml").write_text(COMPOSE.replace("network_mode: none\n    stop", "portz: 80\n"
                                                                    "    network_mode: none\n    stop", 1))
    run_playbook(_bad(roots, {}))
    assert_failed_cleanly(recorded(roots.project_dir.parent)[0], "services.db.portz")


def _bad(roots: Roots, task: dict[str, Any]) -> Path:
    return recording_play(roots.project_dir.parent, [{
        "name": "bad", "berth.engine.compose": {"project_src": str(roots.project_dir), **task},
        "ignore_errors": True}], _defaults(roots), name="bad.yml")
