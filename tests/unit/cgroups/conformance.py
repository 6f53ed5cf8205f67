"""The cgroup conformance suite: one set of tests for every cgroupfs the core
runs on (shared/ANCHORS.md #11).

``CgroupConformance`` needs a ``tree`` fixture (a ``Tree``): a fake v1, v2
or hybrid tree (tests/unit/cgroups/test_conformance.py), or the kernel's own
hierarchies (tests/integration/test_cgroup_real.py: hybrid on these
machines, pure v2 in the qemu guest of tests/v2guest/). Where v1 and v2
differ by design (v2 keeps no processes in a cgroup that delegates), the
test says which behaviour it expects of which; everything else is the same
contract on every tree.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from ansible_collections.berth.engine.plugins.module_utils.cgroups.base import V2_DELEGATED, BaseManager
from ansible_collections.berth.engine.plugins.module_utils.cgroups.detect import Hierarchy
from ansible_collections.berth.engine.plugins.module_utils.cgroups.factory import open_manager
from ansible_collections.berth.engine.plugins.module_utils.cgroups.kernel import Kernel
from ansible_collections.berth.engine.plugins.module_utils.cgroups.resources import Resources
from ansible_collections.berth.engine.plugins.module_utils.errors import Conflict, InvalidInput
from ansible_collections.berth.engine.plugins.module_utils.units import expand_cpuset


class Tree:
    """One cgroupfs: its kernel, its hierarchies, and a top-level cgroup
    (``base``) every test of the suite works below."""

    def __init__(self, kernel: Kernel, hierarchy: Hierarchy, base: str) -> None:
        self.kernel = kernel
        self.hierarchy = hierarchy
        self.base = base
        self.sleepers: list[subprocess.Popen[bytes]] = []

    def manager(self, leaf: str) -> BaseManager:
        return open_manager(f"{self.base}/{leaf}", self.hierarchy, kernel=self.kernel)

    def spawn(self) -> subprocess.Popen[bytes]:
        sleeper = subprocess.Popen(["sleep", "300"])
        self.sleepers.append(sleeper)
        return sleeper

    def read(self, manager: BaseManager, controller: str, file: str) -> str:
        return self.kernel.read(f"{manager.dir_for(controller)}/{file}").strip()

    def stop(self) -> None:
        for sleeper in self.sleepers:
            sleeper.kill()
            sleeper.wait()


@contextmanager
def inside(tree: Tree, manager: BaseManager, count: int = 1) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``count`` sleepers placed in ``manager``'s cgroup (made first)."""
    manager.create()
    sleepers = [tree.spawn() for _index in range(count)]
    for sleeper in sleepers:
        manager.add_process(sleeper.pid)
    yield sleepers


class CgroupConformance:
    def test_create_makes_the_cgroup_in_every_hierarchy(self, tree: Tree) -> None:
        cgroup = tree.manager("box/inner")
        assert not cgroup.exists()
        cgroup.create()
        cgroup.create()  # again: nothing to do, no error
        assert cgroup.exists() and len(cgroup.dirs()) == len(tree.hierarchy.roots())
        assert all(tree.kernel.isdir(d) for d in cgroup.dirs())
        if tree.hierarchy.unified:  # v2 delegates top-down: each ancestor enables what it is offered
            parent = f"{tree.hierarchy.unified}/{tree.base}/box"
            offered = set(tree.kernel.read(f"{parent}/cgroup.controllers").split())
            enabled = set(tree.kernel.read(f"{parent}/cgroup.subtree_control").split())
            assert offered & set(V2_DELEGATED) <= enabled
        if "cpuset" in tree.hierarchy.v1:  # a v1 cpuset starts empty; the core copies its parent's
            assert tree.read(cgroup, "cpuset", "cpuset.cpus") and tree.read(cgroup, "cpuset", "cpuset.mems")
        assert cgroup.version == tree.hierarchy.driver

    def test_processes_are_placed_listed_and_moved(self, tree: Tree) -> None:
        first, second = tree.manager("a"), tree.manager("b")
        with inside(tree, first) as (sleeper,):
            assert first.processes() == [sleeper.pid]
            second.create()
            second.add_process(sleeper.pid)
            assert first.processes() == [] and second.processes() == [sleeper.pid]
            if "pids" in tree.hierarchy.v1 or "pids" in tree.hierarchy.v2_controllers:
                assert second.stats().pids_current == 1

    def test_release_moves_a_process_to_the_parent(self, tree: Tree) -> None:
        parent, child = tree.manager("up"), tree.manager("up/down")
        with inside(tree, child) as (sleeper,):
            child.release(sleeper.pid)
            assert child.processes() == [] and child.exists()
            for root in tree.hierarchy.roots():
                # a v1 parent takes it; a cgroup2 parent that delegates holds no processes, so an ancestor does
                holders = [d for d in (f"{root}/{tree.base}/up", f"{root}/{tree.base}", root)
                           if sleeper.pid in [int(p) for p in tree.kernel.read(f"{d}/cgroup.procs").split()]]
                expected = f"{root}/{tree.base}/up" if root != tree.hierarchy.unified else root
                assert holders == [expected], root
            assert (sleeper.pid in parent.processes()) == bool(tree.hierarchy.v1)

    def test_limits_land_and_a_second_plan_writes_nothing(self, tree: Tree) -> None:
        cgroup = tree.manager("limited")
        wanted = Resources(memory="64m", cpus="0.5", pids_limit=20, cpu_shares=512)
        written = cgroup.apply(wanted)
        assert {w.file for w in written} >= {"pids.max"}
        if cgroup.version == "v1":
            assert tree.read(cgroup, "memory", "memory.limit_in_bytes") == str(64 << 20)
            assert tree.read(cgroup, "cpu", "cpu.cfs_quota_us") == "50000"
            assert tree.read(cgroup, "cpu", "cpu.shares") == "512"
        else:
            assert tree.read(cgroup, "memory", "memory.max") == str(64 << 20)
            assert tree.read(cgroup, "cpu", "cpu.max") == "50000 100000"
            assert tree.read(cgroup, "cpu", "cpu.weight") == "20"
        assert tree.read(cgroup, "pids", "pids.max") == "20"
        assert cgroup.plan(wanted) == [] and cgroup.apply(wanted) == []
        assert cgroup.stats().memory_limit == 64 << 20

    def test_values_the_kernel_rewrites_still_satisfy_the_plan(self, tree: Tree) -> None:
        cgroup = tree.manager("rounded")
        listed = ",".join(str(cpu) for cpu in sorted(expand_cpuset(host_cpus(tree))))  # "0,1" reads back as "0-1"
        wanted = Resources(memory="100000000", cpuset_cpus=listed)  # memory: not a multiple of the page size
        cgroup.apply(wanted)
        assert tree.read(cgroup, "memory", cgroup.desired(wanted)[0].file) == str(100000000 // 4096 * 4096)
        assert cgroup.plan(wanted) == []

    def test_a_limit_the_kernel_refuses_names_the_controller(self, tree: Tree) -> None:
        cgroup = tree.manager("refused")
        with pytest.raises(InvalidInput, match="the kernel refused") as refused:
            cgroup.apply(Resources(cpuset_cpus="8191"))  # no such CPU here
        assert refused.value.field == "cpuset"

    def test_freeze_and_thaw(self, tree: Tree) -> None:
        cgroup = tree.manager("frozen")
        with inside(tree, cgroup):
            assert not cgroup.frozen()
            cgroup.freeze()
            assert cgroup.frozen() and cgroup.stats().frozen
            cgroup.thaw()
            assert not cgroup.frozen()

    def test_signal_all_reaches_every_process(self, tree: Tree) -> None:
        cgroup = tree.manager("signalled")
        with inside(tree, cgroup, count=2) as sleepers:
            cgroup.signal_all(signal.SIGTERM)
            assert [s.wait(timeout=10) for s in sleepers] == [-signal.SIGTERM, -signal.SIGTERM]

    def test_kill_all_kills_even_frozen_processes_and_keeps_the_cgroup(self, tree: Tree) -> None:
        cgroup = tree.manager("killed")
        with inside(tree, cgroup, count=2) as sleepers:
            cgroup.freeze()
            cgroup.kill_all()
            assert cgroup.processes() == [] and cgroup.exists() and not cgroup.frozen()
            assert [s.wait(timeout=10) for s in sleepers] == [-signal.SIGKILL, -signal.SIGKILL]

    def test_remove_refuses_a_cgroup_in_use(self, tree: Tree) -> None:
        parent, child = tree.manager("busy"), tree.manager("busy/child")
        with inside(tree, child):
            with pytest.raises(Conflict, match="still has processes"):
                child.remove()
            with pytest.raises(Conflict, match="still has child cgroups"):
                parent.remove()
            assert parent.exists() and child.exists()

    def test_forced_removal_kills_and_removes_the_subtree(self, tree: Tree) -> None:
        top, nested = tree.manager("owned"), tree.manager("owned/nested/deep")
        with inside(tree, nested) as (sleeper,):
            if not tree.hierarchy.unified:  # cgroup2 keeps no processes in a delegating parent
                top.add_process(tree.spawn().pid)
            top.freeze()
            top.remove(force=True)
            assert not top.exists() and not any(tree.kernel.exists(d) for d in top.dirs())
            assert sleeper.wait(timeout=10) == -signal.SIGKILL

    def test_removing_an_absent_cgroup_is_success(self, tree: Tree) -> None:
        cgroup = tree.manager("never/made")
        cgroup.remove()
        cgroup.remove(force=True)
        assert not cgroup.exists()


def host_cpus(tree: Tree) -> str:
    """The CPUs the cpuset root offers (v2's root has only the effective list)."""
    root = tree.hierarchy.v1.get("cpuset") or tree.hierarchy.unified
    name = "cpuset.cpus" if "cpuset" in tree.hierarchy.v1 else "cpuset.cpus.effective"
    return tree.kernel.read(f"{root}/{name}")
