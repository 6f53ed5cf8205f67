"""Cgroup drivers on a fake cgroupfs: writes, conversions, detection, plans."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.berth.engine.plugins.module_utils.cgroups import service
from ansible_collections.berth.engine.plugins.module_utils.cgroups.base import check_path
from ansible_collections.berth.engine.plugins.module_utils.cgroups.detect import Hierarchy, detect
from ansible_collections.berth.engine.plugins.module_utils.cgroups.resources import Resources
from ansible_collections.berth.engine.plugins.module_utils.cgroups.units import (
    blkio_to_io_weight,
    parse_bytes,
    parse_cpus,
    shares_to_weight,
)
from ansible_collections.berth.engine.plugins.module_utils.cgroups.v1.manager import V1Manager
from ansible_collections.berth.engine.plugins.module_utils.cgroups.v2.manager import V2Manager
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput
from ansible_collections.berth.engine.plugins.module_utils.mountinfo import parse_line

V1_DEFAULTS = {
    "memory": {"memory.limit_in_bytes": "9223372036854771712", "memory.memsw.limit_in_bytes": "9223372036854771712",
               "memory.soft_limit_in_bytes": "9223372036854771712", "memory.swappiness": "60",
               "memory.usage_in_bytes": "1048576",
               "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"},
    "cpu": {"cpu.shares": "1024", "cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": "-1"},
    "cpuacct": {"cpuacct.usage": "123456"},
    "cpuset": {"cpuset.cpus": "", "cpuset.mems": ""},
    "pids": {"pids.max": "max", "pids.current": "3"},
    "blkio": {"blkio.weight": "500", "blkio.throttle.read_bps_device": ""},
    "freezer": {"freezer.state": "THAWED"},
}
V2_DEFAULTS = {"memory.max": "max", "memory.low": "0", "memory.swap.max": "max", "memory.current": "4096",
               "memory.events": "low 0\nhigh 0\nmax 0\noom 1\noom_kill 1\n", "cpu.weight": "100",
               "cpu.max": "max 100000", "cpu.stat": "usage_usec 250\n", "cpuset.cpus": "", "cpuset.mems": "",
               "pids.max": "max", "pids.current": "2", "io.weight": "default 100", "io.max": "",
               "cgroup.freeze": "0", "cgroup.events": "populated 0\nfrozen 0\n", "cgroup.procs": ""}


def fake_v1(root: Path, path: str) -> V1Manager:
    mounts = {}
    for controller, files in V1_DEFAULTS.items():
        base = root / controller
        (base / path).mkdir(parents=True)
        levels = [base / "/".join(path.split("/")[:i]) for i in range(len(path.split("/")) + 1)]
        for directory in levels:
            for name, value in {**files, "cgroup.procs": ""}.items():
                (directory / name).write_text(value)
        (base / "cpuset.cpus").write_text("0-1")
        (base / "cpuset.mems").write_text("0")
        mounts[controller] = base
    return V1Manager(path, Hierarchy("v1", None, mounts), device=lambda p, f: "8:0")


def fake_v2(root: Path, path: str) -> V2Manager:
    (root / path).mkdir(parents=True)
    for name, value in V2_DEFAULTS.items():
        (root / path / name).write_text(value)
    (root / "cgroup.controllers").write_text("cpu io memory pids cpuset")
    (root / "cgroup.subtree_control").write_text("")
    return V2Manager(path, Hierarchy("v2", root, {}, frozenset({"cpu", "memory"})), device=lambda p, f: "8:0")


def test_units() -> None:
    assert parse_bytes("512m", "memory") == 512 << 20
    assert parse_bytes("1g", "memory") == 1 << 30
    assert parse_bytes("1.5GB", "memory") == 3 << 29
    assert parse_bytes("100k", "memory") == 102400 and parse_bytes(42, "memory") == 42
    assert parse_bytes("-1", "memory_swap") == -1
    with pytest.raises(InvalidInput, match="512m") as err:
        parse_bytes("lots", "memory")
    assert err.value.field == "memory"
    assert parse_cpus("1.5") == 1.5
    with pytest.raises(InvalidInput, match="range of CPUs"):
        parse_cpus("100000")


def test_weight_conversions() -> None:
    assert (shares_to_weight(2), shares_to_weight(1024), shares_to_weight(262144)) == (1, 39, 10000)
    assert (blkio_to_io_weight(10), blkio_to_io_weight(1000)) == (1, 10000)


@pytest.mark.parametrize(("options", "field"), [
    ({"memory": "1m"}, "memory"), ({"memory": "64m", "memory_swap": "32m"}, "memory_swap"),
    ({"memory_swap": "1g"}, "memory_swap"), ({"cpus": "1", "cpu_quota": 5000}, "cpus"),
    ({"cpuset_cpus": "0-a"}, "cpuset_cpus"), ({"cpu_shares": 1}, "cpu_shares"), ({"blkio_weight": 5}, "blkio_weight"),
])
def test_bad_resources_name_the_field(options: dict, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        Resources(**options)
    assert err.value.field == field


def test_v1_writes_and_idempotent_plan(tmp_path: Path) -> None:
    cg = fake_v1(tmp_path, "berth/web")
    res = Resources(memory="100000000", cpus="0.5", cpu_shares=512, pids_limit=50, cpuset_cpus="0,1",
                    device_read_bps=[{"path": "/dev/sda", "rate": "1m"}])
    plan = [(w.file, w.value) for w in cg.plan(res)]
    assert plan == [("memory.limit_in_bytes", "100000000"), ("memory.memsw.limit_in_bytes", "200000000"),
                    ("cpu.shares", "512"), ("cpu.cfs_quota_us", "50000"), ("cpuset.cpus", "0,1"),
                    ("pids.max", "50"), ("blkio.throttle.read_bps_device", "8:0 1048576")]
    cg.apply(res)
    # the kernel reports memory rounded to pages and cpusets as ranges: still satisfied
    (tmp_path / "memory/berth/web/memory.limit_in_bytes").write_text("99999744\n")
    (tmp_path / "cpuset/berth/web/cpuset.cpus").write_text("0-1\n")
    (tmp_path / "memory/berth/web/memory.memsw.limit_in_bytes").write_text("199999488\n")
    assert cg.plan(res) == []


def test_v2_writes_convert(tmp_path: Path) -> None:
    cg = fake_v2(tmp_path, "berth/db")
    res = Resources(memory="512m", memory_swap="1g", cpus="1.5", cpu_shares=1024, blkio_weight=500,
                    device_write_iops=[{"path": "/dev/sda", "rate": 100}], memory_reservation="256m")
    plan = {w.file: w.value for w in cg.plan(res)}
    assert plan == {"memory.max": str(512 << 20), "memory.swap.max": str(512 << 20), "memory.low": str(256 << 20),
                    "cpu.weight": "39", "cpu.max": "150000 100000", "io.weight": "default 4950",
                    "io.max": "8:0 wiops=100"}
    cg.apply(res)
    (tmp_path / "berth/db/io.max").write_text("8:0 rbps=max wbps=max riops=max wiops=100\n")
    assert cg.plan(res) == []
    assert cg.plan(Resources(cpu_quota=-1)) == [cg.desired(Resources(cpu_quota=-1))[0]]
    assert cg.desired(Resources(cpu_quota=-1))[0].value == "max 100000"


def test_stats_and_freeze(tmp_path: Path) -> None:
    v1 = fake_v1(tmp_path / "v1", "c")
    stats = v1.stats()
    assert (stats.memory_usage, stats.memory_limit, stats.cpu_usage_ns, stats.pids_current, stats.oom_kills) == \
        (1048576, None, 123456, 3, 2)
    v1.freeze()
    assert v1.frozen()
    v1.thaw()
    assert not v1.frozen()
    v2 = fake_v2(tmp_path / "v2", "c")
    (tmp_path / "v2/c/cgroup.events").write_text("populated 1\nfrozen 1\n")  # what the kernel would report
    v2.freeze()
    assert (tmp_path / "v2/c/cgroup.freeze").read_text() == "1" and v2.frozen()
    assert v2.stats().cpu_usage_ns == 250_000 and v2.stats().oom_kills == 1


HYBRID = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw"""
PURE_V2 = "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate"
PURE_V1 = "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct"


def test_detect() -> None:
    hybrid = detect([parse_line(line) for line in HYBRID.splitlines()])
    assert (hybrid.mode, hybrid.driver, sorted(hybrid.v1)) == ("hybrid", "v1", ["cpu", "memory"])
    assert detect([parse_line(PURE_V2)]).driver == "v2"
    v1 = detect([parse_line(PURE_V1)])
    assert v1.mode == "v1" and v1.v1["cpuacct"] == v1.v1["cpu"] == Path("/sys/fs/cgroup/cpu,cpuacct")


@pytest.mark.parametrize("path", ["", "/abs", "a/../b", "a//b", "a/b c", "."])
def test_bad_paths(path: str) -> None:
    with pytest.raises(InvalidInput, match="cgroup path"):
        check_path(path)


def test_check_mode_writes_nothing(tmp_path: Path) -> None:
    cg = fake_v2(tmp_path, "berth/x")
    request = service.CgroupRequest(engine={"state_root": "/var/lib/berth", "run_root": "/run/berth"},
                                    path="berth/x", resources=Resources(memory="64m", pids_limit=10))
    out = service.run(request, check_mode=True, manager=cg)
    # memory without memory_swap allows as much swap as memory, as Docker does
    assert out.changed and [w["file"] for w in out.writes] == ["memory.max", "memory.swap.max", "pids.max"]
    assert (tmp_path / "berth/x/memory.max").read_text() == "max"
    assert out.before["values"]["memory.max"] == "max" and out.after["values"]["memory.max"] == str(64 << 20)
    applied = service.run(request, check_mode=False, manager=cg)
    assert applied.changed and (tmp_path / "berth/x/memory.max").read_text() == str(64 << 20)
    assert not service.run(request, check_mode=False, manager=cg).changed
