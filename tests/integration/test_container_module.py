"""The `container` module through real ansible-playbook runs: check → apply →
apply → check of plays whose tasks each converge one container (option groups,
image defaults, present, host options, a cgroup parent), then changed values
(in place or recreate), exec and info; limits, pause, stop, absent, OOM; the
healthy state; and the bad tasks only a real run can refuse (the runtime's
user lookup, devices, an unhealthy container), all in one play.

The plan's decisions for every option and the bad input a plan refuses are
unit tests (tests/unit/containers/test_converge_plan.py,
tests/unit/test_bad_input_modules.py); here is what the kernel, the runtime
and ansible-playbook show."""

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
from tests.support.playbook import (
    assert_converges,
    assert_failed_cleanly,
    recorded,
    recording_play,
    remove_containers,
    run_playbook,
    write_playbook,
)
from tests.support.runtime import container_cgroup_file, make_rootfs, mounts_under, wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
IMAGE = "local/box:1"
BUDGET = f"berth-budget-{os.getpid()}"   # cgroups are host-wide: one parent per test process
C = "berth.engine.container"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, Any]]:
    engine = Engine.open(tmp_path / "state", tmp_path / "run")
    made = ContainerWatch(engine.layout.containers)   # other suites' containers may come and go meanwhile
    rootfs = make_rootfs(tmp_path / "src")
    import_rootfs(ImageStore(engine), rootfs, ImportConfig(cmd=["sleep", "300"], env={"FROM_IMAGE": "1"}),
                  parse_reference(IMAGE))
    defaults = {"group/berth.engine.all": {"state_root": str(tmp_path / "state"), "run_root": str(tmp_path / "run")}}
    yield {"engine": engine, "defaults": defaults, "dir": tmp_path}
    remove_containers(engine, tmp_path, defaults)
    assert wait_for(lambda: not (tmp_path / "run" / "monitor.pid").exists(), timeout=10)
    drop_networks(engine)
    leftovers = made.cgroups_left()
    made.close()
    assert not leftovers, leftovers
    assert not mounts_under(tmp_path)


def _play(env: dict[str, Any], tasks: list[dict[str, Any]], name: str = "play.yml") -> Path:
    return recording_play(env["dir"], tasks, env["defaults"], name)


def _out(env: dict[str, Any]) -> list[dict[str, Any]]:
    return recorded(env["dir"])


def _log_words(store: ContainerStore, name: str) -> list[str]:
    path = store.log_path(store.get(name)["id"])
    return "".join(json.loads(line)["log"] for line in path.read_text().splitlines()).split() if path.exists() else []


WEB = {"name": "web", "image": IMAGE, "command": ["sleep", "300"], "env": {"MODE": "a"}, "restart_policy": "no",
       "labels": {"tier": "web"}}
PROBE = ("grep -E ' /scratch ' /proc/self/mountinfo | grep -c 'size=1024k'; ulimit -Sn; ulimit -Hn;"
         "cat /proc/sys/kernel/shm_rmid_forced; stat -c '%t:%T' /dev/mynull; echo x > /dev/mynull && echo wrote;"
         "exec sleep 300")
HOSTY = {"name": "hosty", "image": IMAGE, "command": ["sh", "-c", PROBE], "tmpfs": ["/scratch:size=1m"],
         "ulimits": ["nofile:512:1024"], "sysctls": {"kernel.shm_rmid_forced": 1},
         "devices": ["/dev/null:/dev/mynull:rw"]}


def test_containers_converge_then_change_in_place_or_recreate(env: dict[str, Any]) -> None:
    # one play, each task its own container: the option groups, the image's defaults (no drift), present,
    # host options, and a container under a cgroup the play makes first
    assert_converges(_play(env, [
        {C: WEB}, {C: {"name": "plain", "image": IMAGE}}, {C: {"name": "idle", "image": IMAGE, "state": "present"}},
        {C: HOSTY}, {"berth.engine.cgroup": {"path": BUDGET, "memory": "256m"}},
        {C: {"name": "child", "image": IMAGE, "cgroup_parent": BUDGET}},
    ]))
    web, plain, idle, _hosty, _budget, child = (r.get("container") for r in _out(env))
    assert web["state"]["status"] == plain["state"]["status"] == "running"
    assert idle["state"]["status"] == "created"
    assert f"/{BUDGET}/berth-{child['id']}" in Path(f"/proc/{child['state']['pid']}/cgroup").read_text()
    store = ContainerStore(env["engine"])
    assert wait_for(lambda: len(_log_words(store, "hosty")) >= 6)
    assert _log_words(store, "hosty") == ["1", "512", "1024", "1", "1:3", "wrote"]

    privileged = {C: {"name": "priv", "image": IMAGE, "privileged": True,
                      "command": ["sh", "-c", "grep CapEff /proc/self/status; exec sleep 300"]}}
    app = {C: {"name": "app", "image": IMAGE, "command": ["sh", "-c", "echo ready; exec sleep 300"]}}
    ran = {"berth.engine.container_exec": {"container": "app", "argv": ["sh", "-c", "cat; echo $GREETING; id -u"],
                                           "stdin": "piped ", "env": {"GREETING": "hi"}, "user": "nobody"}}
    changes = _play(env, [
        {C: {**WEB, "restart_policy": "always", "stop_timeout": 3}},          # in place
        {C: {"name": "plain", "image": IMAGE, "env": {"MODE": "b"}}},         # recreate
        {C: {"name": "child", "state": "absent"}}, {"berth.engine.cgroup": {"path": BUDGET, "state": "absent"}},
        privileged, app, ran,
        {"berth.engine.container_info": {"name": "app", "logs": True, "tail": 5}},
        {"berth.engine.container_info": {"name": "nope"}},
    ], name="changes.yml")
    result = run_playbook(changes, diff=True)
    assert result.failed == 0, result.output[-4000:]
    in_place, recreated, child_gone, budget_gone, _priv, _app, executed, info, missing = _out(env)
    assert in_place["actions"] == ["update restart_policy, stop_timeout"]
    assert in_place["container"]["id"] == web["id"] and in_place["container"]["state"]["pid"] == web["state"]["pid"]
    assert recreated["actions"] == ["recreate", "start"] and recreated["container"]["id"] != plain["id"]
    assert recreated["container"]["state"]["status"] == "running"
    assert child_gone["changed"] and budget_gone["changed"] and not Path("/sys/fs/cgroup/memory", BUDGET).exists()
    assert executed["rc"] == 0 and executed["stdout"] == "piped \nhi\n65534"   # stdin_add_newline, strip_empty_ends
    assert info["exists"] and info["container"]["state"]["status"] == "running"
    assert [entry["log"] for entry in info["logs"]] == ["ready\n"] and not missing["exists"]
    assert wait_for(lambda: "CapEff" in " ".join(_log_words(store, "priv")))
    host_bounding = next(line.split()[1] for line in Path("/proc/self/status").read_text().splitlines()
                         if line.startswith("CapBnd:"))
    assert host_bounding in _log_words(store, "priv")
    check = run_playbook(changes, check=True)   # exec and info in check mode, against what the apply made
    assert check.failed == 0, check.output[-4000:]


def test_limits_pause_stop_absent_and_oom(env: dict[str, Any]) -> None:
    lim = {"name": "lim", "image": IMAGE, "memory": "64m", "pids_limit": 64, "cpus": "0.5"}
    job = {"name": "job", "image": IMAGE, "stop_signal": "SIGKILL"}
    assert_converges(_play(env, [{C: lim}, {C: job}]))
    first = _out(env)[0]["container"]
    assert container_cgroup_file(first["id"], "memory/memory.limit_in_bytes", "memory.max") == str(64 << 20)

    assert_converges(_play(env, [{C: {**lim, "paused": True}}, {C: {**job, "state": "stopped"}}], name="pause.yml"))
    paused, stopped = (r["container"] for r in _out(env))
    assert paused["state"]["paused"] is True and stopped["state"]["status"] == "exited"
    assert container_cgroup_file(first["id"], "freezer/freezer.state", "cgroup.freeze") in ("FROZEN", "1")
    assert_converges(_play(env, [{C: {**lim, "paused": False}}, {C: {"name": "job", "state": "absent"}}],
                           name="unpause.yml"))
    store = ContainerStore(env["engine"])
    assert store.find("job") is None and store.get("lim")["state"]["paused"] is False

    hog = {"name": "hog", "image": IMAGE, "memory": "16m",
           "command": ["dd", "if=/dev/zero", "of=/dev/null", "bs=100M", "count=1"]}  # a 100 MB buffer
    last = run_playbook(_play(env, [
        {C: {**lim, "memory": "128m", "pids_limit": 100}}, {"berth.engine.container_info": {"name": "lim"}},
        {C: hog}, {C: {"name": "frozen", "image": IMAGE, "paused": True}},
    ], name="last.yml"))
    assert last.failed == 0, last.output[-3000:]
    updated, info, _hog, _frozen = _out(env)
    assert updated["actions"] == ["update memory, pids_limit"]
    assert updated["container"]["id"] == first["id"] and updated["container"]["state"]["pid"] == first["state"]["pid"]
    assert container_cgroup_file(first["id"], "memory/memory.limit_in_bytes", "memory.max") == str(128 << 20)
    assert container_cgroup_file(first["id"], "pids/pids.max", "pids.max") == "100"
    assert info["stats"]["memory_limit"] == 128 << 20 and info["stats"]["pids_current"] >= 1
    assert store.get("frozen")["state"]["paused"] is True
    assert wait_for(lambda: store.get("hog")["state"]["status"] == "exited", timeout=30)
    state = store.get("hog")["state"]
    assert state["oom_killed"] is True and state["exit_code"] == 137, state
    # a paused container can be removed
    gone = run_playbook(_play(env, [{C: {"name": "frozen", "state": "absent"}}], name="gone.yml"))
    assert gone.failed == 0 and store.find("frozen") is None


def test_healthy_state_and_waiting_for_a_group(env: dict[str, Any]) -> None:
    check = {"test": ["CMD-SHELL", "test -f /tmp/up"], "interval": "0.2s", "retries": 50}
    play = write_playbook(env["dir"], [
        {C: {"name": "db", "image": IMAGE, "state": "healthy", "healthcheck": check,
             "command": ["sh", "-c", "sleep 0.5; touch /tmp/up; exec sleep 300"]}},
        {C: {"name": "cache", "image": IMAGE, "healthcheck": check,
             "command": ["sh", "-c", "touch /tmp/up; exec sleep 300"]}},
        {"berth.engine.container_info": {"wait_healthy": ["db", "cache"], "timeout": 60}, "register": "group"},
        {"ansible.builtin.assert": {"that": [
            "group.containers | map(attribute='state.health.status') | unique | list == ['healthy']"]},
         "when": "not ansible_check_mode"},
    ], name="healthy.yml", module_defaults=env["defaults"])
    assert_converges(play)


def test_bad_tasks_fail_with_their_message_and_no_traceback(env: dict[str, Any]) -> None:
    """One task per way a container task can fail — the plan, the runtime at
    start, a device the host lacks, the health wait — in one play, errors ignored."""
    result = run_playbook(_play(env, [
        {C: {"name": "bad/name", "image": IMAGE}, "ignore_errors": True},
        {C: {"name": "nouser", "image": IMAGE, "user": "nosuchuser"}, "ignore_errors": True},
        {C: {"name": "nodev", "image": IMAGE, "devices": ["/dev/nonexistent"]}, "ignore_errors": True},
        {C: {"name": "sick", "image": IMAGE, "state": "healthy", "healthy_timeout": 30,
             "healthcheck": {"test": "echo not yet; exit 1", "interval": "0.2s", "retries": 2}},
         "ignore_errors": True},
    ], name="bad.yml"))
    assert result.returncode == 0, result.output[-4000:]
    bad_name, nouser, nodev, sick = _out(env)
    for failed, words in ((bad_name, ["name: 'bad/name' is not a valid container name", "use 1-128 characters"]),
                          (nouser, ["unable to find user nosuchuser"]), (nodev, ["devices:", "/dev/nonexistent"]),
                          (sick, ["not healthy: sick", "not yet"])):
        assert_failed_cleanly(failed, *words)
    assert bad_name["error"] == {"kind": "invalid_input", "message": "'bad/name' is not a valid container name",
                                 "field": "name", "hint": bad_name["error"]["hint"]}
    records = {r["name"]: r["state"]["status"] for r in ContainerStore(env["engine"]).list()}
    assert records.keys() <= {"nouser", "sick"} and records.get("nouser", "created") == "created", records
