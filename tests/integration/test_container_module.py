"""The `container` module through real ansible-playbook runs: check → apply →
apply → check for each option group, then a changed value (in place or
recreate), stop, absent, image defaults not drift, bad input."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.containers.store import ContainerStore
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.image.models import ImportConfig
from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
from ansible_collections.berth.engine.plugins.module_utils.image.rootfs_import import import_rootfs
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore
from tests.support.playbook import assert_converges, run_playbook, write_playbook
from tests.support.runtime import make_rootfs, mounts_under, wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
IMAGE = "local/box:1"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, Any]]:
    cgroups_before = set(Path("/sys/fs/cgroup").glob("*/berth-*"))  # e.g. the demo app's, left running
    engine = Engine.open(tmp_path / "state", tmp_path / "run")
    rootfs = make_rootfs(tmp_path / "src")
    import_rootfs(ImageStore(engine), rootfs, ImportConfig(cmd=["sleep", "300"], env={"FROM_IMAGE": "1"}),
                  parse_reference(IMAGE))
    defaults = {"group/berth.engine.all": {"state_root": str(tmp_path / "state"), "run_root": str(tmp_path / "run")}}
    yield {"engine": engine, "defaults": defaults, "dir": tmp_path}
    store = ContainerStore(engine)
    for record in store.list():
        play = write_playbook(tmp_path, [{"berth.engine.container": {"name": record["name"], "state": "absent"}}],
                              name="cleanup.yml", module_defaults=defaults)
        run_playbook(play)
    assert wait_for(lambda: not (tmp_path / "run" / "monitor.pid").exists(), timeout=10)
    leftovers = set(Path("/sys/fs/cgroup").glob("*/berth-*")) - cgroups_before
    assert not leftovers, leftovers
    assert not mounts_under(tmp_path)


def _play(env: dict[str, Any], task: dict[str, Any], name: str = "play.yml") -> Path:
    return write_playbook(env["dir"], [{"berth.engine.container": task, "register": "out"},
                                       {"ansible.builtin.copy": {"content": "{{ out | to_json }}",
                                                                 "dest": str(env["dir"] / "out.json")},
                                        "check_mode": False, "changed_when": False}],
                          name=name, module_defaults=env["defaults"])


def _out(env: dict[str, Any]) -> dict[str, Any]:
    return json.loads((env["dir"] / "out.json").read_text())


def test_started_converges_then_updates_in_place_then_recreates(env: dict[str, Any]) -> None:
    task = {"name": "web", "image": IMAGE, "command": ["sleep", "300"], "env": {"MODE": "a"},
            "restart_policy": "no", "labels": {"tier": "web"}}
    assert_converges(_play(env, task))
    first = _out(env)["container"]
    assert first["state"]["status"] == "running"

    in_place = run_playbook(_play(env, {**task, "restart_policy": "always", "stop_timeout": 3}), diff=True)
    assert in_place.changed == 1 and in_place.failed == 0, in_place.output[-3000:]
    after = _out(env)
    assert after["actions"] == ["update restart_policy, stop_timeout"]
    assert after["container"]["id"] == first["id"] and after["container"]["state"]["pid"] == first["state"]["pid"]

    recreated = run_playbook(_play(env, {**task, "restart_policy": "always", "stop_timeout": 3,
                                         "env": {"MODE": "b"}}), diff=True)
    assert recreated.changed == 1, recreated.output[-3000:]
    out = _out(env)
    assert out["actions"] == ["recreate", "start"] and out["container"]["id"] != first["id"]
    assert out["container"]["state"]["status"] == "running"


def test_image_defaults_are_not_drift(env: dict[str, Any]) -> None:
    assert_converges(_play(env, {"name": "plain", "image": IMAGE}))
    assert _out(env)["container"]["state"]["status"] == "running"


def test_stopped_then_absent(env: dict[str, Any]) -> None:
    task = {"name": "job", "image": IMAGE, "stop_signal": "SIGKILL"}
    assert run_playbook(_play(env, task)).failed == 0
    assert_converges(_play(env, {**task, "state": "stopped"}, name="stop.yml"))
    assert _out(env)["container"]["state"]["status"] == "exited"
    assert_converges(_play(env, {"name": "job", "state": "absent"}, name="absent.yml"))
    assert ContainerStore(env["engine"]).find("job") is None


def test_present_creates_without_starting(env: dict[str, Any]) -> None:
    assert_converges(_play(env, {"name": "idle", "image": IMAGE, "state": "present"}))
    assert _out(env)["container"]["state"]["status"] == "created"


@pytest.mark.parametrize(("task", "text"), [
    ({"name": "x", "image": "local/absent:1", "pull": "never"}, "not present and pull is never"),
    ({"name": "bad/name", "image": IMAGE}, "not a valid container name"),
    ({"name": "x", "image": IMAGE, "user": "nosuchuser"}, "unable to find user nosuchuser"),
    ({"name": "x", "image": IMAGE, "comparisons": {"env": "sometimes"}}, "comparisons"),
    ({"name": "x", "image": IMAGE, "log_options": {"max-buffer": 3}}, "log_options"),
    ({"name": "x", "image": IMAGE, "env": {"DEBUG": True}}, "quote it"),
])
def test_bad_input(env: dict[str, Any], task: dict[str, Any], text: str) -> None:
    result = run_playbook(_play(env, task))
    assert result.failed == 1 and text in result.output, result.output[-3000:]
    records = ContainerStore(env["engine"]).list()
    assert all(r["state"]["status"] == "created" for r in records)


def test_exec_and_info_modules(env: dict[str, Any]) -> None:
    play = write_playbook(env["dir"], [
        {"berth.engine.container": {"name": "app", "image": IMAGE,
                                    "command": ["sh", "-c", "echo ready; exec sleep 300"]}},
        {"berth.engine.container_exec": {
            "container": "app", "argv": ["sh", "-c", "cat; echo $GREETING; id -u"], "stdin": "piped ",
            "env": {"GREETING": "hi"}, "user": "nobody"}, "register": "ran"},
        {"berth.engine.container_info": {"name": "app", "logs": True, "tail": 5}, "register": "info"},
        {"berth.engine.container_info": {"name": "nope"}, "register": "missing"},
        {"ansible.builtin.assert": {"that": [
            "ran.rc == 0", "ran.stdout == 'piped hi\\n65534\\n'",
            "info.exists and info.container.state.status == 'running'",
            "info.logs | map(attribute='log') | list == ['ready\\n']",
            "not missing.exists"]}, "when": "not ansible_check_mode"},
    ], name="exec.yml", module_defaults=env["defaults"])
    result = run_playbook(play)
    assert result.failed == 0, result.output[-4000:]
    check = run_playbook(play, check=True)
    assert check.failed == 0, check.output[-4000:]


def test_healthy_state_and_waiting_for_a_group(env: dict[str, Any]) -> None:
    check = {"test": ["CMD-SHELL", "test -f /tmp/up"], "interval": "0.2s", "retries": 50}
    play = write_playbook(env["dir"], [
        {"berth.engine.container": {"name": "db", "image": IMAGE, "state": "healthy", "healthcheck": check,
                                    "command": ["sh", "-c", "sleep 0.5; touch /tmp/up; exec sleep 300"]}},
        {"berth.engine.container": {"name": "cache", "image": IMAGE, "healthcheck": check,
                                    "command": ["sh", "-c", "touch /tmp/up; exec sleep 300"]}},
        {"berth.engine.container_info": {"wait_healthy": ["db", "cache"], "timeout": 60}, "register": "group"},
        {"ansible.builtin.assert": {"that": [
            "group.containers | map(attribute='state.health.status') | unique | list == ['healthy']"]},
         "when": "not ansible_check_mode"},
    ], name="healthy.yml", module_defaults=env["defaults"])
    assert_converges(play)
    bad = write_playbook(env["dir"], [{"berth.engine.container": {
        "name": "sick", "image": IMAGE, "state": "healthy", "healthy_timeout": 30,
        "healthcheck": {"test": "echo not yet; exit 1", "interval": "0.2s", "retries": 2}}}],
        name="sick.yml", module_defaults=env["defaults"])
    result = run_playbook(bad)
    assert result.failed == 1 and "not healthy: sick" in result.output and "not yet" in result.output
