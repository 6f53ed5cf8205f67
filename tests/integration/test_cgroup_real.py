"""Cgroups on the real kernel of this host (v1 or hybrid here; pure v2 in the
qemu guest, see tests/v2guest/): limits land in the kernel's files, freeze
stops processes, an over-limit process is OOM-killed, and removal refuses or
kills as told. Every test cleans up its cgroups (the leak check watches)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ansible_collections.berth.engine.plugins.module_utils.cgroups import service
from ansible_collections.berth.engine.plugins.module_utils.cgroups.base import BaseManager
from ansible_collections.berth.engine.plugins.module_utils.cgroups.detect import detect
from ansible_collections.berth.engine.plugins.module_utils.cgroups.factory import open_manager
from ansible_collections.berth.engine.plugins.module_utils.cgroups.resources import Resources
from ansible_collections.berth.engine.plugins.module_utils.errors import Conflict
from tests.support.playbook import assert_converges, run_playbook, write_playbook

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for cgroupfs")
ENGINE = {"state_root": "/var/lib/berth", "run_root": "/run/berth"}


@pytest.fixture
def parent() -> Iterator[str]:
    """A unique top-level cgroup for one test, removed with everything in it."""
    name = f"berth-test-{uuid.uuid4().hex[:8]}"
    yield name
    hierarchy = detect()
    roots = set(hierarchy.v1.values()) | ({hierarchy.unified} if hierarchy.driver == "v2" else set())
    for root in roots:
        top = root / name
        if not top.exists():
            continue
        for directory in [*sorted((d for d in top.rglob("*") if d.is_dir()), reverse=True), top]:
            for pid in (directory / "cgroup.procs").read_text().split():
                os.kill(int(pid), signal.SIGKILL)
            if (directory / "freezer.state").exists():
                (directory / "freezer.state").write_text("THAWED")
        for directory in [*sorted((d for d in top.rglob("*") if d.is_dir()), reverse=True), top]:
            _rmdir_retry(directory)


def _rmdir_retry(directory: Path) -> None:
    import time

    for _attempt in range(100):
        try:
            directory.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.05)
    directory.rmdir()


def _value(cg: BaseManager, controller: str, file: str) -> str:
    return (cg.dir_for(controller) / file).read_text().strip()


def test_limits_freeze_stats_and_removal(parent: str) -> None:
    cg = open_manager(f"{parent}/box")
    cg.apply(Resources(memory="64m", cpus="0.5", pids_limit=20, cpu_shares=512))
    if cg.version == "v1":
        assert _value(cg, "memory", "memory.limit_in_bytes") == str(64 << 20)
        assert _value(cg, "cpu", "cpu.cfs_quota_us") == "50000"
        assert _value(cg, "cpu", "cpu.shares") == "512"
    else:
        assert _value(cg, "memory", "memory.max") == str(64 << 20)
        assert _value(cg, "cpu", "cpu.max") == "50000 100000"
        assert _value(cg, "cpu", "cpu.weight") == "20"
    assert _value(cg, "pids", "pids.max") == "20"
    assert cg.plan(Resources(memory="64m", cpus="0.5", pids_limit=20, cpu_shares=512)) == []
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        cg.add_process(sleeper.pid)
        assert cg.processes() == [sleeper.pid] and cg.stats().pids_current == 1
        cg.freeze()
        assert cg.frozen()
        cg.thaw()
        assert not cg.frozen()
        with pytest.raises(Conflict, match="still has processes"):
            service.run(service.CgroupRequest(engine=ENGINE, path=f"{parent}/box", state="absent"),
                        check_mode=False)
        out = service.run(service.CgroupRequest(engine=ENGINE, path=f"{parent}/box", state="absent",
                                                absent_processes="kill"), check_mode=False)
        assert out.changed and not cg.exists()
        assert sleeper.wait(timeout=10) == -signal.SIGKILL
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_process_over_its_memory_limit_is_oom_killed(parent: str) -> None:
    cg = open_manager(f"{parent}/oom")
    cg.apply(Resources(memory="16m", memory_swap="16m"))
    hog = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read(1); b = bytearray(200 << 20)"],
                           stdin=subprocess.PIPE)
    cg.add_process(hog.pid)
    hog.communicate(b"x", timeout=30)
    assert hog.returncode == -signal.SIGKILL
    assert (cg.stats().oom_kills or 0) >= 1


def test_cgroup_module_converges(tmp_path: Path, parent: str) -> None:
    path = f"{parent}/web"
    defaults = {"group/berth.engine.all": {"state_root": str(tmp_path / "state"), "run_root": str(tmp_path / "run")}}
    task = {"berth.engine.cgroup": {"path": path, "memory": "64m", "cpus": "0.5", "pids_limit": 100}}
    play = write_playbook(tmp_path, [task], module_defaults=defaults)
    assert_converges(play)
    changed = write_playbook(tmp_path, [{"berth.engine.cgroup": {"path": path, "memory": "128m"}}],
                             name="changed.yml", module_defaults=defaults)
    assert run_playbook(changed, check=True, diff=True).changed == 1
    assert run_playbook(changed).changed == 1 and run_playbook(changed).changed == 0
    assert open_manager(path).stats().memory_limit == 128 << 20
    bad = write_playbook(tmp_path, [
        {"berth.engine.cgroup": {"path": "../escape"}, "ignore_errors": True},
        {"berth.engine.cgroup": {"path": path, "memory": "lots"}, "ignore_errors": True},
    ], name="bad.yml", module_defaults=defaults)
    output = run_playbook(bad).output
    assert "path: '../escape' is not a valid cgroup path" in output
    assert "memory: 'lots' is not a size" in output and "512m" in output
    gone = write_playbook(tmp_path, [{"berth.engine.cgroup": {"path": path, "state": "absent"}}],
                          name="gone.yml", module_defaults=defaults)
    assert_converges(gone)
    assert not open_manager(path).exists()
