"""kill -9 at each step of pull, unpack, create and start (crashpoint.py),
then the same operation again: it succeeds, nothing is lost (the image and
the container are there, whole), nothing is stuck (no ingest, active or
trash leftovers, no half-made record, every lock free, no stray mounts or
processes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.ansible.image_models import ImportConfig
from ansible_collections.berth.engine.plugins.module_utils.crashpoint import ENV, POINTS
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
from ansible_collections.berth.engine.plugins.module_utils.image.rootfs_import import import_rootfs
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore
from ansible_collections.berth.engine.plugins.module_utils.layout import Layout
from ansible_collections.berth.engine.plugins.module_utils.locking import FileLock
from tests.support.cli import BerthCli
from tests.support.images import push
from tests.support.leaks import ContainerWatch
from tests.support.runtime import REPO, make_rootfs, mounts_under, wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
IMAGE = "local/box:1"
PULL_POINTS = ("image.pull.blobs_stored", "image.unpack.mid")
CREATE_POINTS = ("container.create.record", "container.create.bundle", "container.create.config",
                 "container.create.finish", "container.start.request")
MONITOR_POINTS = ("runtime.create.mid", "monitor.start.created", "monitor.start.attached", "monitor.start.released")

PULL = textwrap.dedent("""
    import json, sys
    from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
    from ansible_collections.berth.engine.plugins.module_utils.ansible.image_models import RegistryOptions
    from ansible_collections.berth.engine.plugins.module_utils.image.pull import Puller
    from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
    from ansible_collections.berth.engine.plugins.module_utils.image.service import make_client
    from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore
    engine = Engine.open(sys.argv[1], sys.argv[2])
    ref = parse_reference(sys.argv[3])
    record, _ = Puller(ImageStore(engine), make_client(ref.registry, RegistryOptions())).pull(ref)
    print(json.dumps({"id": record.id}))
""")

CONVERGE = textwrap.dedent("""
    import json, sys
    from ansible_collections.berth.engine.plugins.module_utils.ansible.container_plan import converge
    from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
    engine = Engine.open(sys.argv[1], sys.argv[2])
    params = {"name": "web", "state": "started", "image": sys.argv[3], "command": ["sleep", "300"],
              "network_mode": "none", "env": {"TOKEN": "t"}}
    print(json.dumps(converge(engine, params, check_mode=False)["actions"]))
""")


class Roots(BerthCli):
    def __init__(self, base: Path) -> None:
        super().__init__(base)
        self.base = base

    def python(self, script: str, *args: str, crash_at: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        env.pop(ENV, None)
        if crash_at:
            env[ENV] = crash_at
        return subprocess.run([sys.executable, "-c", script, str(self.state), str(self.run), *args], env=env,
                              capture_output=True, text=True, timeout=180, check=False, cwd=REPO)

    def berth(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self(*args, check=False)


@pytest.fixture
def roots(tmp_path: Path) -> Iterator[Roots]:
    tool = Roots(tmp_path)
    made = ContainerWatch(Layout(tool.state, tool.run).containers)   # the killed ones' ids too
    yield tool
    listed = tool.berth("ps", "-a", "--json").stdout or "{}"
    for name in json.loads(listed):
        tool.berth("rm", "-f", name)
    assert wait_for(lambda: tool.monitor_pid() is None or not _alive(tool.monitor_pid() or 0), timeout=10)
    assert not mounts_under(tmp_path)
    assert wait_for(lambda: not _processes_rooted_under(tmp_path), timeout=10), _processes_rooted_under(tmp_path)
    leftovers = made.cgroups_left()
    made.close()
    assert not leftovers, f"a container's cgroup was left: {leftovers}"


def test_every_point_is_covered() -> None:
    assert set(POINTS) == {*PULL_POINTS, *CREATE_POINTS, *MONITOR_POINTS}


@pytest.mark.parametrize("point", PULL_POINTS)
def test_pull_converges_after_a_kill(roots: Roots, registry: Any, busybox_image: Any, point: str) -> None:
    push(busybox_image, registry, "crash/busybox", "1")
    name = f"{registry.host}/crash/busybox:1"
    killed = roots.python(PULL, name, crash_at=point)
    assert killed.returncode == -9, killed.stderr
    again = roots.python(PULL, name)
    assert again.returncode == 0, again.stderr
    engine = Engine.open(roots.state, roots.run)
    store = ImageStore(engine)
    record = store.resolve(name)
    assert store.complete(record) and record.id == json.loads(again.stdout)["id"]
    engine.recover(sweep=True)
    assert store.complete(store.resolve(name)), "the sweep took content the record names"
    _assert_nothing_stuck(roots)


@pytest.mark.parametrize("point", CREATE_POINTS)
def test_create_and_start_converge_after_a_kill(roots: Roots, tmp_path_factory: pytest.TempPathFactory,
                                                point: str) -> None:
    _import_image(roots, tmp_path_factory)
    killed = roots.python(CONVERGE, IMAGE, crash_at=point)
    assert killed.returncode == -9, killed.stderr
    _converge_and_check(roots)


@pytest.mark.parametrize("point", MONITOR_POINTS)
def test_start_converges_after_the_monitor_is_killed(roots: Roots, tmp_path_factory: pytest.TempPathFactory,
                                                     point: str) -> None:
    _import_image(roots, tmp_path_factory)
    failed = roots.python(CONVERGE, IMAGE, crash_at=point)   # the monitor it spawns inherits the point
    assert failed.returncode == 1 and "monitor" in failed.stderr, failed.stderr
    assert "Traceback" not in failed.stderr.splitlines()[-1]
    dead = roots.monitor_pid()
    # the kill lands at once, but a loaded machine may take a moment to tear the process down
    assert dead is not None and wait_for(lambda: not _alive(dead), timeout=10), \
        "the monitor was not killed (a clean exit removes its pid file)"
    _converge_and_check(roots)


def _import_image(roots: Roots, factory: pytest.TempPathFactory) -> None:
    engine = Engine.open(roots.state, roots.run)
    import_rootfs(ImageStore(engine), make_rootfs(factory.mktemp("box")), ImportConfig(cmd=["sh"]),
                  parse_reference(IMAGE))


def _converge_and_check(roots: Roots) -> None:
    again = roots.python(CONVERGE, IMAGE)
    assert again.returncode == 0, again.stderr
    listed = json.loads(roots.berth("ps", "-a", "--json").stdout)
    assert list(listed) == ["web"], listed
    record = json.loads(roots.berth("inspect", "--json", "web").stdout)["web"]
    assert record["state"]["status"] == "running" and "creating" not in record
    assert ImageStore(Engine.open(roots.state, roots.run)).find(IMAGE) is not None
    containers = [p.name for p in (roots.state / "containers").iterdir()]
    assert containers == [record["id"]], "a half-made container's directory was left"
    assert json.loads(roots.python(CONVERGE, IMAGE).stdout) == [], "a third run is not idempotent"
    _assert_nothing_stuck(roots)


def _assert_nothing_stuck(roots: Roots) -> None:
    state = roots.state
    Engine.open(state, roots.run)   # the recovery any later call runs
    for leftovers in (state / "content" / "ingest", state / "snapshots" / "active", state / "snapshots" / "trash",
                      state / "creating"):
        assert not leftovers.exists() or list(leftovers.iterdir()) == [], leftovers
    for lock_path in (state / "locks").glob("*.lock"):
        lock = FileLock(lock_path, create=False)
        assert lock.try_acquire(), f"{lock_path.name} is still held"
        lock.release()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def _processes_rooted_under(path: Path) -> list[int]:
    """Processes whose root or cwd lies under ``path``, or that name it (a stray
    container init: before its execve it is a fork of the monitor, roots and all)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if str(path).encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
                continue
        except OSError:
            continue
        for link in ("root", "cwd"):
            try:
                target = os.readlink(entry / link)
            except OSError:
                continue
            if target.startswith(str(path)):
                found.append(int(entry.name))
                break
    return found
