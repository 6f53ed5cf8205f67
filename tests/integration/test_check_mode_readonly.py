"""Check mode and the info modules cannot write (issue 15): every module, in
check mode, and every ``_info`` module, also in a normal run, against a state
root whose container died behind the engine's back (its process and its
monitor SIGKILLed: the record still says running; its cgroup, rootfs mount,
published port and runtime state are stale). After each task the state
root, the run root and the credentials file (every entry: path, type, mode,
size, sha256, mtime) and the kernel (links, addresses, routes, nftables and
mounts of the test's namespaces, the container's cgroups, processes naming
the test's dir) must be exactly as before, and each check run must report the
change an apply would make.

The engine runs in namespaces of the test's own: a network namespace (so
links, routes and the nft ruleset are compared whole, untouched by other
tests on the host) and a mount namespace whose /sys shows that network
namespace's devices (berth sets hairpin mode through sysfs), with the host's
cgroup mounts bound back in. A sleeping anchor process holds both; every
module runs inside them (the play's Python interpreter is ``nsenter`` into
the anchor), so the monitor and the containers it starts are born there.
All the audited tasks run in one play (one Ansible start-up), each followed
by a fingerprint taken from inside the namespaces."""

from __future__ import annotations

import base64
import json
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.ansible.image_models import ImportConfig
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
from ansible_collections.berth.engine.plugins.module_utils.image.rootfs_import import import_rootfs
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore
from ansible_collections.berth.engine.plugins.module_utils.volumes.service import VolumeService
from tests.support.devinstall import dev_install, prefix_root, write_install
from tests.support.hoststate import fingerprint_differences, processes_naming
from tests.support.playbook import COLLECTIONS, REPO, record_task, recorded, run_playbook, write_playbook
from tests.support.runtime import make_rootfs, wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
IMAGE = "local/readonly:1"
SUBNET, PORT = "10.254.93.0/24", 18093
CGROUP_PATH = f"berth-rotest-{os.getpid()}/job"
SAVED_REGISTRY = "127.0.0.1:5998"   # has credentials in the test's config file
# The anchor: in the test's network namespace, a private copy of the host's mounts with a sysfs of that
# namespace on /sys and the host's cgroup hierarchies bound back under it.
ANCHOR = """set -e
mkdir -p "$1"
mount --rbind /sys/fs/cgroup "$1"
mount -t sysfs sysfs /sys
mount --rbind "$1" /sys/fs/cgroup
umount -l "$1"
echo ready
exec sleep 100000
"""


@dataclass
class Enclosure:
    netns: Path
    anchor: subprocess.Popen[str]

    @property
    def enter_net(self) -> list[str]:
        return ["nsenter", f"--net={self.netns}"]

    def mounts_under(self, base: Path) -> list[str]:
        return [line for line in Path(f"/proc/{self.anchor.pid}/mountinfo").read_text().splitlines()
                if str(base) in line]

    def interpreter(self, directory: Path) -> Path:
        """A Python for the play that runs inside the anchor's namespaces, with a dev install of its own:
        the engine agent the modules hand their tasks to lives in the namespaces of the task that started
        it, so this network namespace must not share the test process's agent."""
        prefix = prefix_root() / str(os.stat(f"/proc/{self.anchor.pid}/ns/net").st_ino)
        write_install(prefix, dev_install()[1])
        path = directory / "python-in-enclosure"
        path.write_text(f'#!/bin/sh\nexec env BERTH_PREFIX={prefix} nsenter --target {self.anchor.pid} --net --mount '
                        f'-- {sys.executable} "$@"\n')
        path.chmod(0o755)
        return path


@pytest.fixture
def enclosure(tmp_path: Path) -> Iterator[Enclosure]:
    name = f"berth-ro-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    anchor = None
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        anchor = subprocess.Popen(["nsenter", f"--net=/run/netns/{name}", "unshare", "--mount", "--propagation",
                                   "private", "sh", "-c", ANCHOR, "anchor", str(tmp_path / "cgroup-save")],
                                  stdout=subprocess.PIPE, text=True)
        assert anchor.stdout is not None and anchor.stdout.readline().strip() == "ready"
        yield Enclosure(Path("/run/netns") / name, anchor)
    finally:
        if anchor is not None:
            anchor.kill()
            anchor.wait()
        subprocess.run(["ip", "netns", "del", name], check=False)


class Scene:
    """The state root, its playbooks (run inside the enclosure) and its fingerprints."""

    def __init__(self, base: Path, enclosure: Enclosure) -> None:
        self.base, self.enclosure = base, enclosure
        self.state, self.run, self.docker, self.plays = base / "state", base / "run", base / "docker", base / "plays"
        self.plays.mkdir()
        self.python = enclosure.interpreter(self.plays)
        self.defaults = {"group/berth.engine.all": {"state_root": str(self.state), "run_root": str(self.run)}}
        self.container_ids: list[str] = []

    def play(self, tasks: list[dict[str, Any] | None], *, check: bool = False) -> list[dict[str, Any]]:
        """Run the tasks (errors ignored) and return their results; a task may
        be a fingerprint (None), taken into ``plays/fingerprint-<n>.json``."""
        registered: list[dict[str, Any]] = []
        fingerprints = 0
        for task in tasks:
            if task is None:
                registered.append(self._fingerprint_task(fingerprints))
                fingerprints += 1
            else:
                registered.append({**task, "register": f"r{len(registered)}", "ignore_errors": True})
        names = [t["register"] for t in registered if "register" in t]
        playbook = write_playbook(self.plays, [*registered, record_task(names)], module_defaults=self.defaults,
                                  vars={"ansible_python_interpreter": str(self.python)})
        result = run_playbook(playbook, check=check, diff=True)
        assert result.returncode == 0, result.output[-4000:]
        return recorded(self.plays)

    def _fingerprint_task(self, index: int) -> dict[str, Any]:
        """``raw`` (no module start-up: a fingerprint costs a Python start), entering the enclosure itself."""
        cgroups = [arg for name in (CGROUP_PATH, *(f"berth-{cid}" for cid in self.container_ids))
                   for arg in ("--cgroup", name)]
        trees = [arg for tree in (self.state, self.run, self.docker) for arg in ("--tree", str(tree))]
        argv = ["env", f"PYTHONPATH={REPO}:{COLLECTIONS}", "nsenter", f"--target={self.enclosure.anchor.pid}", "--net",
                "--mount", "--", sys.executable, "-m", "tests.support.hoststate", str(self.fingerprint_path(index)),
                *trees, "--base", str(self.base), *cgroups]
        return {"ansible.builtin.raw": shlex.join(argv), "check_mode": False, "changed_when": False}

    def fingerprint_path(self, index: int) -> Path:
        return self.plays / f"fingerprint-{index}.json"

    def fingerprint(self, index: int) -> dict[str, Any]:
        return json.loads(self.fingerprint_path(index).read_text())


@pytest.fixture
def scene(tmp_path: Path, enclosure: Enclosure) -> Iterator[Scene]:
    """A running container on a network, published on a port, with a volume; then killed behind the engine's back."""
    scene = Scene(tmp_path, enclosure)
    engine = Engine.open(scene.state, scene.run)
    import_rootfs(ImageStore(engine), make_rootfs(tmp_path / "src"),
                  ImportConfig(cmd=["sleep", "300"], exposed_ports=["80/tcp"]), parse_reference(IMAGE))
    for name in ("data", "spare"):
        VolumeService(engine).create(name)
    scene.docker.mkdir(mode=0o700)
    auth = base64.b64encode(b"someone:secret").decode()
    (scene.docker / "config.json").write_text(json.dumps({"auths": {SAVED_REGISTRY: {"auth": auth}}}))
    try:
        _start_and_kill(scene)
        yield scene
    finally:
        _clean_up(scene, engine)


WEB = {"name": "web", "image": IMAGE, "command": ["sleep", "300"], "env": {"MODE": "a"}, "restart_policy": "no",
       "networks": [{"name": "ronet"}], "published_ports": [f"{PORT}:80"], "volumes": ["data:/data"]}


def _start_and_kill(scene: Scene) -> None:
    made = scene.play([{"berth.engine.network": {"name": "ronet", "ipam_config": [{"subnet": SUBNET}]}},
                       {"berth.engine.container": WEB}, {"berth.engine.container_info": {"name": "web"}}])
    assert all(not r.get("failed") for r in made), [r.get("msg") for r in made]
    container = made[2]["container"]
    scene.container_ids.append(container["id"])
    assert container["state"]["status"] == "running", container
    pid, monitor = container["state"]["pid"], int((scene.run / "monitor.pid").read_text())
    host_if = container["state"]["networks"]["ronet"]["host_if"]
    for victim in (monitor, pid):
        os.kill(victim, signal.SIGKILL)
    assert wait_for(lambda: not Path(f"/proc/{pid}").exists() and not Path(f"/proc/{monitor}").exists(), timeout=10)

    def veth_gone() -> bool:   # the container's netns dies with it, taking the veth pair (asynchronously)
        return subprocess.run([*scene.enclosure.enter_net, "ip", "link", "show", host_if], capture_output=True,
                              check=False).returncode != 0

    assert wait_for(veth_gone, timeout=10)
    record = json.loads((scene.state / "metadata" / "containers" / f"{container['id']}.json").read_text())
    assert record["state"]["status"] == "running", "the record must still say running: nothing noticed the death"


def _clean_up(scene: Scene, engine: Engine) -> None:
    """Through the modules (inside the enclosure): the containers, the networks, the cgroup; then the volumes."""
    scene.play([{"berth.engine.container": {"name": "web", "state": "absent"}},
                {"berth.engine.container": {"name": "other", "state": "absent"}},
                *({"berth.engine.network": {"name": n, "state": "absent", "force": True}} for n in ("ronet", "newnet")),
                {"berth.engine.cgroup": {"path": CGROUP_PATH, "state": "absent"}}])
    assert wait_for(lambda: not processes_naming(scene.base), timeout=10), processes_naming(scene.base)
    for record in VolumeService(engine).list():
        VolumeService(engine).remove(record["name"])
    assert not scene.enclosure.mounts_under(scene.base), scene.enclosure.mounts_under(scene.base)
    leftovers = [p for cid in scene.container_ids for p in Path("/sys/fs/cgroup").glob(f"*/**/berth-{cid}")]
    assert not leftovers, leftovers


# Each task in check mode, with the change an apply would make.
CHECK_TASKS: list[tuple[dict[str, Any], bool]] = [
    ({"berth.engine.container": {**WEB, "env": {"MODE": "b"}}}, True),   # recreate, start
    ({"berth.engine.container": WEB}, True),                             # the same spec: start the dead one
    ({"berth.engine.container": {**WEB, "state": "stopped"}}, False),    # it has stopped already
    ({"berth.engine.container": {"name": "other", "image": IMAGE, "networks": [{"name": "ronet"}]}}, True),
    ({"berth.engine.container": {"name": "web", "state": "absent"}}, True),
    ({"berth.engine.container_info": {"name": "web"}}, False),
    ({"berth.engine.container_info": {}}, False),
    ({"berth.engine.container_exec": {"container": "web", "argv": ["true"]}}, True),
    ({"berth.engine.container_copy_into": {"container": "web", "content": "planned only\n", "mode": "0644",
                                           "container_path": "/etc/planned"}}, True),
    ({"berth.engine.image": {"name": IMAGE, "state": "absent", "force_absent": True}}, True),
    ({"berth.engine.image": {"name": IMAGE, "source": "local", "repository": "local/readonly:retag"}}, True),
    ({"berth.engine.image_info": {"name": [IMAGE]}}, False),
    ({"berth.engine.volume": {"name": "spare", "state": "absent"}}, True),
    ({"berth.engine.volume": {"name": "fresh"}}, True),
    ({"berth.engine.volume_info": {}}, False),
    ({"berth.engine.network": {"name": "ronet", "state": "absent", "force": True}}, True),
    ({"berth.engine.network": {"name": "ronet", "ipam_config": [{"subnet": SUBNET}], "connected": []}}, True),
    ({"berth.engine.network": {"name": "newnet", "ipam_config": [{"subnet": "10.254.94.0/24"}]}}, True),
    ({"berth.engine.network_info": {}}, False),
    ({"berth.engine.prune": {"images": True, "volumes": True, "volumes_filters": {"all": True}}}, True),
    ({"berth.engine.cgroup": {"path": CGROUP_PATH, "memory": "64m"}}, True),
    ({"berth.engine.host_info": {}}, False),
    ({"berth.engine.login": {"registry": "127.0.0.1:5999", "username": "u", "password": "p"}}, True),
    ({"berth.engine.login": {"registry": SAVED_REGISTRY, "state": "absent"}}, True),
]
# The info modules, also in a normal run: they must only read too.
INFO_TASKS: list[dict[str, Any]] = [
    {"berth.engine.container_info": {"name": "web"}},
    {"berth.engine.container_info": {}},
    {"berth.engine.image_info": {}},
    {"berth.engine.volume_info": {}},
    {"berth.engine.network_info": {}},
    {"berth.engine.host_info": {"disk_usage": True}},
]


def _label(task: dict[str, Any]) -> str:
    module = next(key for key in task if key.startswith("berth.engine."))
    mode = "run" if task.get("check_mode") is False else "check"
    return f"{mode} {module.removeprefix('berth.engine.')} {json.dumps(task[module], sort_keys=True)}"


def _with_config_path(task: dict[str, Any], config: Path) -> dict[str, Any]:
    if "berth.engine.login" not in task:
        return task
    return {"berth.engine.login": {**task["berth.engine.login"], "config_path": str(config)}}


def _judge(label: str, task: dict[str, Any], result: dict[str, Any], changes: bool) -> list[str]:
    """What is wrong with one task's result (its writes aside)."""
    if result.get("failed"):
        return [f"{label}: failed: {result.get('msg')}"]
    problems = []
    if bool(result.get("changed")) != changes:
        problems.append(f"{label}: changed={result.get('changed')}, expected {changes} "
                        f"(actions {result.get('actions')})")
    if any(key.endswith("_info") for key in task) and "actions" in result:
        problems.append(f"{label}: an info module planned {result['actions']}")
    if (task.get("berth.engine.container_info") or {}).get("name") == "web":
        status = ((result.get("container") or {}).get("state") or {}).get("status")
        if status != "exited":
            problems.append(f"{label}: reports status {status!r} for a container that died (expected 'exited')")
    return problems


CONTROL = {"berth.engine.container": {"name": "web", "state": "absent"}, "check_mode": False}


def test_check_mode_and_info_modules_write_nothing(scene: Scene) -> None:
    audited = [(_with_config_path(task, scene.docker / "config.json"), changes) for task, changes in CHECK_TASKS]
    audited += [({**task, "check_mode": False}, False) for task in INFO_TASKS]
    tasks: list[dict[str, Any] | None] = [None, None]   # two fingerprints first: the scene must be at rest
    for task, _changes in audited:
        tasks += [task, None]
    results = scene.play([*tasks, CONTROL, None], check=True)
    baseline, last = scene.fingerprint(0), len(audited) + 1
    unrest = fingerprint_differences(baseline, scene.fingerprint(1))
    assert not unrest, "the scene itself is not at rest:\n" + "\n".join(unrest)
    dead = scene.container_ids[0]
    assert any(dead in path for path in baseline["kernel"]["cgroups"]), "the dead container's cgroups are stale"
    assert dead in baseline["kernel"]["nft"], "so is its published port"
    problems: list[str] = []
    for index, ((task, changes), result) in enumerate(zip(audited, results, strict=False)):
        label = _label(task)
        problems += _judge(label, task, result, changes)
        wrote = fingerprint_differences(scene.fingerprint(index + 1), scene.fingerprint(index + 2))
        if wrote:
            problems.append(f"{label}: WROTE\n  " + "\n  ".join(wrote))
    assert not problems, "\n".join(problems)
    # The control: a real removal, which the fingerprints must see in the records, the cgroups and nftables.
    removal = fingerprint_differences(scene.fingerprint(last), scene.fingerprint(last + 1))
    gone = f"gone: {scene.state}/metadata/containers/{dead}"
    assert results[-1].get("changed") and any(gone in line for line in removal), removal
    assert any(line.startswith("kernel cgroups") for line in removal), removal
    assert any(line.startswith("kernel nft") for line in removal), removal
