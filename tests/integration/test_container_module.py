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

from ansible_collections.berth.engine.plugins.module_utils.ansible.image_models import ImportConfig
from ansible_collections.berth.engine.plugins.module_utils.containers.store import ContainerStore
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
from ansible_collections.berth.engine.plugins.module_utils.image.rootfs_import import import_rootfs
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore
from tests.support.leaks import ContainerWatch
from tests.support.networks import drop_networks
from tests.support.playbook import assert_converges, run_playbook, write_playbook
from tests.support.runtime import make_rootfs, mounts_under, wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
IMAGE = "local/box:1"
BUDGET = f"berth-budget-{os.getpid()}"   # cgroups are host-wide: one parent per test process


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, Any]]:
    engine = Engine.open(tmp_path / "state", tmp_path / "run")
    made = ContainerWatch(engine.layout.containers)   # other suites' containers may come and go meanwhile
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
    drop_networks(engine)
    leftovers = made.cgroups_left()
    made.close()
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


def _cgroup_file(container_id: str, v1: str, v2: str) -> str:
    for path in (Path("/sys/fs/cgroup") / v1.split("/")[0] / f"berth-{container_id}" / v1.split("/")[1],
                 Path("/sys/fs/cgroup") / f"berth-{container_id}" / v2):
        if path.exists():
            return path.read_text().strip()
    raise AssertionError(f"no {v1} / {v2} for {container_id}")


def test_limits_update_in_place_pause_stats_and_oom(env: dict[str, Any]) -> None:
    task = {"name": "lim", "image": IMAGE, "memory": "64m", "pids_limit": 64, "cpus": "0.5"}
    assert_converges(_play(env, task))
    first = _out(env)["container"]
    assert _cgroup_file(first["id"], "memory/memory.limit_in_bytes", "memory.max") == str(64 << 20)

    task = {**task, "memory": "128m", "pids_limit": 100}
    updated = run_playbook(_play(env, task))
    assert updated.changed == 1, updated.output[-3000:]
    out = _out(env)
    assert out["actions"] == ["update memory, pids_limit"]
    assert out["container"]["id"] == first["id"] and out["container"]["state"]["pid"] == first["state"]["pid"]
    assert _cgroup_file(first["id"], "memory/memory.limit_in_bytes", "memory.max") == str(128 << 20)
    assert _cgroup_file(first["id"], "pids/pids.max", "pids.max") == "100"

    assert_converges(_play(env, {**task, "paused": True}, name="pause.yml"))
    assert _out(env)["container"]["state"]["paused"] is True
    assert _cgroup_file(first["id"], "freezer/freezer.state", "cgroup.freeze") in ("FROZEN", "1")
    assert_converges(_play(env, {**task, "paused": False}, name="unpause.yml"))

    info = write_playbook(env["dir"], [{"berth.engine.container_info": {"name": "lim"}, "register": "out"},
                                       {"ansible.builtin.copy": {"content": "{{ out | to_json }}",
                                                                 "dest": str(env["dir"] / "out.json")}}],
                          name="info.yml", module_defaults=env["defaults"])
    assert run_playbook(info).failed == 0
    stats = _out(env)["stats"]
    assert stats["memory_limit"] == 128 << 20 and stats["pids_current"] >= 1

    hog = {"name": "hog", "image": IMAGE, "memory": "16m",
           "command": ["dd", "if=/dev/zero", "of=/dev/null", "bs=100M", "count=1"]}  # a 100 MB buffer
    assert run_playbook(_play(env, hog, name="hog.yml")).failed == 0
    store = ContainerStore(env["engine"])
    assert wait_for(lambda: store.get("hog")["state"]["status"] == "exited", timeout=30)
    state = store.get("hog")["state"]
    assert state["oom_killed"] is True and state["exit_code"] == 137, state


def test_bad_limits_are_refused_in_check_mode_too(env: dict[str, Any]) -> None:
    play = _play(env, {"name": "x", "image": IMAGE, "memory": "lots"})
    for check in (True, False):
        result = run_playbook(play, check=check)
        assert result.failed == 1 and "memory" in result.output, result.output[-2000:]
    assert ContainerStore(env["engine"]).find("x") is None


def test_cgroup_parent_puts_the_container_under_a_budget(env: dict[str, Any]) -> None:
    play = write_playbook(env["dir"], [
        {"berth.engine.cgroup": {"path": BUDGET, "memory": "256m"}},
        {"berth.engine.container": {"name": "child", "image": IMAGE, "cgroup_parent": BUDGET}},
    ], name="parent.yml", module_defaults=env["defaults"])
    assert_converges(play)
    record = ContainerStore(env["engine"]).get("child")
    cgroups = Path(f"/proc/{record['state']['pid']}/cgroup").read_text()
    assert f"/{BUDGET}/berth-{record['id']}" in cgroups
    teardown = write_playbook(env["dir"], [
        {"berth.engine.container": {"name": "child", "state": "absent"}},
        {"berth.engine.cgroup": {"path": BUDGET, "state": "absent"}},
    ], name="teardown.yml", module_defaults=env["defaults"])
    assert run_playbook(teardown).failed == 0


def test_host_config_options(env: dict[str, Any]) -> None:
    probe = ("grep -E ' /scratch ' /proc/self/mountinfo | grep -c 'size=1024k'; ulimit -Sn; ulimit -Hn;"
             "cat /proc/sys/kernel/shm_rmid_forced; stat -c '%t:%T' /dev/mynull; echo x > /dev/mynull && echo wrote;"
             "exec sleep 300")
    task = {"name": "hosty", "image": IMAGE, "command": ["sh", "-c", probe], "tmpfs": ["/scratch:size=1m"],
            "ulimits": ["nofile:512:1024"], "sysctls": {"kernel.shm_rmid_forced": 1},
            "devices": ["/dev/null:/dev/mynull:rw"]}
    assert_converges(_play(env, task))
    store = ContainerStore(env["engine"])

    def output() -> list[str]:
        path = store.log_path(store.get("hosty")["id"])
        text = "".join(json.loads(line)["log"] for line in path.read_text().splitlines()) if path.exists() else ""
        return text.split()

    assert wait_for(lambda: len(output()) >= 6)
    assert output() == ["1", "512", "1024", "1", "1:3", "wrote"]
    privileged = run_playbook(_play(env, {"name": "priv", "image": IMAGE, "privileged": True,
                                          "command": ["sh", "-c", "grep CapEff /proc/self/status; exec sleep 300"]},
                                    name="priv.yml"))
    assert privileged.failed == 0
    assert wait_for(lambda: store.log_path(store.get("priv")["id"]).exists()
                    and "CapEff" in store.log_path(store.get("priv")["id"]).read_text())
    host_bounding = next(line.split()[1] for line in Path("/proc/self/status").read_text().splitlines()
                         if line.startswith("CapBnd:"))
    assert host_bounding in store.log_path(store.get("priv")["id"]).read_text()


@pytest.mark.parametrize(("task", "field"), [
    ({"tmpfs": ["relative"]}, "tmpfs"), ({"ulimits": ["files:1"]}, "ulimits"),
    ({"devices": ["/dev/nonexistent"]}, "devices"),
])
def test_bad_host_config(env: dict[str, Any], task: dict[str, Any], field: str) -> None:
    result = run_playbook(_play(env, {"name": "bad", "image": IMAGE, **task}))
    assert result.failed == 1 and f"{field}:" in result.output, result.output[-2000:]
    assert ContainerStore(env["engine"]).find("bad") is None


def test_a_paused_container_can_be_removed(env: dict[str, Any]) -> None:
    assert run_playbook(_play(env, {"name": "frozen", "image": IMAGE, "paused": True})).failed == 0
    assert ContainerStore(env["engine"]).get("frozen")["state"]["paused"] is True
    gone = run_playbook(_play(env, {"name": "frozen", "state": "absent"}, name="gone.yml"))
    assert gone.failed == 0 and ContainerStore(env["engine"]).find("frozen") is None
