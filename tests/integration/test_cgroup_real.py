"""Cgroups on the real kernel of this host (hybrid here; pure v2 in the qemu
guest, see tests/v2guest/): the conformance suite the fake trees pass
(tests/unit/cgroups/conformance.py), then what only a kernel shows: an
over-limit process is OOM-killed and the module's absent/kill plan. The
module converging through playbooks (a nested path, limits, change, removal)
is in test_plans_check_vs_apply.py; its bad input in
tests/unit/test_bad_input_modules.py. Every test cleans up its cgroups (the
leak check watches)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ansible_collections.berth.engine.plugins.module_utils.ansible.cgroup_plan import ReadOnlyCgroup, plan_cgroup
from ansible_collections.berth.engine.plugins.module_utils.cgroups.detect import Hierarchy, detect
from ansible_collections.berth.engine.plugins.module_utils.cgroups.factory import open_manager
from ansible_collections.berth.engine.plugins.module_utils.cgroups.kernel import KERNEL
from ansible_collections.berth.engine.plugins.module_utils.cgroups.resources import Resources
from ansible_collections.berth.engine.plugins.module_utils.cgroups.service import CgroupRequest
from ansible_collections.berth.engine.plugins.module_utils.errors import Conflict
from tests.unit.cgroups.conformance import CgroupConformance, Tree

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for cgroupfs")


def _clean(hierarchy: Hierarchy, name: str) -> None:
    """Remove ``name`` and everything below it in every hierarchy, without the code under test."""
    for root in hierarchy.roots():
        top = Path(root) / name
        if not top.exists():
            continue
        tree = [*sorted((d for d in top.rglob("*") if d.is_dir()), reverse=True), top]
        for directory in tree:
            for pid in (directory / "cgroup.procs").read_text().split():
                os.kill(int(pid), signal.SIGKILL)
            for file, thawed in (("freezer.state", "THAWED"), ("cgroup.freeze", "0")):
                if (directory / file).exists():
                    (directory / file).write_text(thawed)
        for directory in tree:
            _rmdir_retry(directory)


def _rmdir_retry(directory: Path) -> None:
    for _attempt in range(100):
        try:
            directory.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.05)
    directory.rmdir()


@pytest.fixture
def parent() -> Iterator[str]:
    """A unique top-level cgroup for one test, removed with everything in it."""
    name = f"berth-test-{uuid.uuid4().hex[:8]}"
    yield name
    _clean(detect(), name)


@pytest.fixture
def tree(parent: str) -> Iterator[Tree]:
    found = Tree(KERNEL, detect(), parent)
    try:
        yield found
    finally:
        found.stop()


class TestRealKernel(CgroupConformance):
    pass


def test_a_process_over_its_memory_limit_is_oom_killed(parent: str) -> None:
    cg = open_manager(f"{parent}/oom")
    cg.apply(Resources(memory="16m", memory_swap="16m"))
    hog = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read(1); b = bytearray(200 << 20)"],
                           stdin=subprocess.PIPE)
    cg.add_process(hog.pid)
    hog.communicate(b"x", timeout=30)
    assert hog.returncode == -signal.SIGKILL
    assert (cg.stats().oom_kills or 0) >= 1


def test_absent_refuses_then_kills_what_is_inside(parent: str) -> None:
    cg = open_manager(f"{parent}/box")
    cg.create()
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        cg.add_process(sleeper.pid)
        cg.freeze()
        with pytest.raises(Conflict, match="still has processes"):
            plan_cgroup(ReadOnlyCgroup(cg), CgroupRequest(f"{parent}/box", "absent"))
        plan = plan_cgroup(ReadOnlyCgroup(cg), CgroupRequest(f"{parent}/box", "absent", absent_processes="kill"))
        assert plan.actions() == ["killed: 1 process(es)", f"removed: {parent}/box"]
        plan.execute(cg)
        assert not cg.exists() and not any(Path(d).exists() for d in cg.dirs())
        assert sleeper.wait(timeout=10) == -signal.SIGKILL
    finally:
        sleeper.kill()
        sleeper.wait()
