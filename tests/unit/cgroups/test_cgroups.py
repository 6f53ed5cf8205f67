"""The cgroup core on fake cgroupfs trees, beyond the conformance suite:
what each driver writes, unit conversions, detection, typed input, the
module's plan, timeouts, the runtime's side, and the core's import cost."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.berth.engine.plugins.module_utils.ansible.cgroup_plan import (
    ReadOnlyCgroup,
    cgroup_report,
    plan_cgroup,
)
from ansible_collections.berth.engine.plugins.module_utils.ansible.glue import validate_params
from ansible_collections.berth.engine.plugins.module_utils.ansible.tasks.cgroup import CgroupOptions
from ansible_collections.berth.engine.plugins.module_utils.cgroups import base, service
from ansible_collections.berth.engine.plugins.module_utils.cgroups.base import check_path
from ansible_collections.berth.engine.plugins.module_utils.cgroups.detect import detect
from ansible_collections.berth.engine.plugins.module_utils.cgroups.factory import open_manager
from ansible_collections.berth.engine.plugins.module_utils.cgroups.resources import DeviceRate, Resources
from ansible_collections.berth.engine.plugins.module_utils.cgroups.v2.cpu import shares_to_weight
from ansible_collections.berth.engine.plugins.module_utils.cgroups.v2.io import blkio_to_io_weight
from ansible_collections.berth.engine.plugins.module_utils.errors import Conflict, InvalidInput, InvalidState
from ansible_collections.berth.engine.plugins.module_utils.runtime.cgroup import (
    ContainerCgroup,
    cgroup_path,
    device_writes,
)
from ansible_collections.berth.engine.plugins.module_utils.units import parse_bytes, parse_cpus
from ansible_collections.berth.engine.plugins.modules import cgroup as cgroup_module

from .fakefs import FakeCgroupfs

REPO = Path(__file__).resolve().parents[3]


def fake(tmp_path: Path, layout: str) -> FakeCgroupfs:
    return FakeCgroupfs(tmp_path / "cgroup", layout)


def manager(tree: FakeCgroupfs, path: str) -> base.BaseManager:
    return open_manager(path, tree.hierarchy(), device=lambda p, f: "8:0", kernel=tree)


def test_units() -> None:
    assert parse_bytes("512m", "memory") == 512 << 20 and parse_bytes("1.5GB", "memory") == 3 << 29
    assert parse_bytes("-1", "memory_swap") == -1
    with pytest.raises(InvalidInput, match="512m") as err:
        parse_bytes("lots", "memory")
    assert err.value.field == "memory"
    with pytest.raises(InvalidInput, match="range of CPUs"):
        parse_cpus("100000")


def test_weight_conversions() -> None:
    assert (shares_to_weight(2), shares_to_weight(1024), shares_to_weight(262144)) == (1, 39, 10000)
    assert (blkio_to_io_weight(10), blkio_to_io_weight(1000)) == (1, 10000)


@pytest.mark.parametrize(("options", "field"), [
    ({"memory": "1m"}, "memory"), ({"memory": "64m", "memory_swap": "32m"}, "memory_swap"),
    ({"memory_swap": "1g"}, "memory_swap"), ({"cpus": "1", "cpu_quota": 5000}, "cpus"),
    ({"cpuset_cpus": "0-a"}, "cpuset_cpus"), ({"cpu_shares": 1}, "cpu_shares"), ({"blkio_weight": 5}, "blkio_weight"),
    ({"cpu_period": "5"}, "cpu_period"), ({"memory_swappiness": 101}, "memory_swappiness"),
    ({"swap": "1g"}, "swap"), ({"device_read_bps": "sda"}, "device_read_bps"),
    ({"device_write_iops": [{"path": "/dev/sda"}]}, "device_write_iops"),
    ({"device_read_bps": [{"path": 8, "rate": "1m"}]}, "path"),
])
def test_bad_resources_name_the_field(options: dict, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        Resources(**options)
    assert err.value.field == field and err.value.hint


def test_resources_are_parsed_once_and_immutable() -> None:
    res = Resources(memory="64m", cpus="1.5", device_read_bps=[{"path": "/dev/sda", "rate": "1m"}])
    assert (res.memory, res.cpus, res.device_read_bps) == (64 << 20, 1.5, [DeviceRate("/dev/sda", 1 << 20)])
    assert res == Resources(memory=64 << 20, cpus=1.5, device_read_bps=[DeviceRate("/dev/sda", "1m")])
    assert hash(res) == hash(Resources(**res.managed())) and res != Resources()
    assert res.managed() == {"memory": 64 << 20, "cpus": 1.5,
                             "device_read_bps": [{"path": "/dev/sda", "rate": 1 << 20}]}
    with pytest.raises(AttributeError):
        res.memory = 1  # type: ignore[misc]
    assert Resources(cpu_period=50000).cpu_limit() == (-1, 50000) and Resources().cpu_limit() is None


def test_v1_writes_and_idempotent_plan(tmp_path: Path) -> None:
    tree = fake(tmp_path, "v1")
    cg = manager(tree, "berth/web")
    res = Resources(memory="100000000", cpus="0.5", cpu_shares=512, pids_limit=50, cpuset_cpus="0,1",
                    device_read_bps=[{"path": "/dev/sda", "rate": "1m"}])
    plan = [(w.file, w.value) for w in cg.plan(res)]
    assert plan == [("memory.limit_in_bytes", "100000000"), ("memory.memsw.limit_in_bytes", "200000000"),
                    ("cpu.shares", "512"), ("cpu.cfs_period_us", "100000"), ("cpu.cfs_quota_us", "50000"),
                    ("cpuset.cpus", "0,1"), ("pids.max", "50"), ("blkio.throttle.read_bps_device", "8:0 1048576")]
    cg.apply(res)
    # the fake kernel rounded memory to pages and listed the cpus as a range: still satisfied
    assert (tmp_path / "cgroup/memory/berth/web/memory.limit_in_bytes").read_text() == "99999744"
    assert (tmp_path / "cgroup/cpuset/berth/web/cpuset.cpus").read_text() == "0-1"
    assert cg.plan(res) == []


def test_v1_memory_above_memory_plus_swap_is_written_in_the_order_the_kernel_takes(tmp_path: Path) -> None:
    cg = manager(fake(tmp_path, "v1"), "grow")
    cg.apply(Resources(memory="64m", memory_swap="64m"))
    written = cg.apply(Resources(memory="256m", memory_swap="512m"))  # memory first is refused, then passes
    assert sorted(w.file for w in written) == ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]
    assert cg.stats().memory_limit == 256 << 20


def test_v2_writes_convert(tmp_path: Path) -> None:
    tree = fake(tmp_path, "v2")
    cg = manager(tree, "berth/db")
    res = Resources(memory="512m", memory_swap="1g", cpus="1.5", cpu_shares=1024, blkio_weight=500,
                    device_write_iops=[{"path": "/dev/sda", "rate": 100}], memory_reservation="256m")
    plan = {w.file: w.value for w in cg.plan(res)}
    assert plan == {"memory.max": str(512 << 20), "memory.swap.max": str(512 << 20), "memory.low": str(256 << 20),
                    "cpu.weight": "39", "cpu.max": "150000 100000", "io.weight": "default 4950",
                    "io.max": "8:0 wiops=100"}
    cg.apply(res)
    # as the kernel lists it
    (tmp_path / "cgroup/berth/db/io.max").write_text("8:0 rbps=max wbps=max riops=max wiops=100\n")
    assert cg.plan(res) == []
    assert cg.desired(Resources(cpu_quota=-1))[0].value == "max 100000"
    assert cg.plan(Resources(cpu_quota=-1)) == [cg.desired(Resources(cpu_quota=-1))[0]]


def test_a_file_this_kernel_lacks_is_a_warning(tmp_path: Path) -> None:
    cg = manager(fake(tmp_path, "v2"), "noswap")
    assert cg.apply(Resources(memory_swappiness=10)) == []  # no v2 file for it
    (tmp_path / "cgroup/noswap/memory.swap.max").unlink()
    cg.apply(Resources(memory="64m"))
    assert any("memory.swap.max does not exist" in w for w in cg.warnings)


def test_stats(tmp_path: Path) -> None:
    v1 = manager(fake(tmp_path / "a", "v1"), "c")
    v1.create()
    stats = v1.stats()
    assert (stats.memory_usage, stats.memory_limit, stats.cpu_usage_ns, stats.pids_current, stats.oom_kills) == \
        (1048576, None, 123456, 0, 0)
    v2 = manager(fake(tmp_path / "b", "v2"), "c")
    v2.create()
    assert v2.stats().as_dict() == {"memory_usage": 4096, "memory_limit": None, "cpu_usage_ns": 250_000,
                                    "pids_current": 0, "oom_kills": 0, "frozen": False}


HYBRID = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,xattr,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
90 31 0:32 / /mnt/memory\\040again rw,relatime - cgroup cgroup rw,memory"""
PURE_V2 = "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate"
PURE_V1 = "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct"
ESCAPED = "30 23 0:26 / /run/my\\040cgroup rw - cgroup2 cgroup2 rw"


def test_detect() -> None:
    hybrid = detect(HYBRID)
    assert (hybrid.mode, hybrid.driver, sorted(hybrid.v1)) == ("hybrid", "v1", ["cpu", "memory"])
    # one mount per hierarchy (the bind of memory is left out), named ones kept, flags dropped
    assert hybrid.v1_mounts == {"/sys/fs/cgroup/cpu": "cpu", "/sys/fs/cgroup/memory": "memory",
                                "/sys/fs/cgroup/systemd": "name=systemd"}
    assert hybrid.roots() == [*sorted(hybrid.v1_mounts), "/sys/fs/cgroup/unified"]
    assert detect(PURE_V2).driver == "v2" and detect(PURE_V2).v1_mounts == {}
    v1 = detect(PURE_V1)
    assert v1.mode == "v1" and v1.v1["cpuacct"] == v1.v1["cpu"] == "/sys/fs/cgroup/cpu,cpuacct"
    assert detect(ESCAPED).unified == "/run/my cgroup" and detect("").mode == "none"


def test_hybrid_limits_go_to_v1_and_the_cgroup_to_every_hierarchy(tmp_path: Path) -> None:
    tree = fake(tmp_path, "hybrid")
    cg = manager(tree, "box")
    assert cg.version == "v1" and cg.dir_for("memory") == f"{tmp_path}/cgroup/memory/box"
    assert cg.dir_for("hugetlb") == f"{tmp_path}/cgroup/unified/box"  # what this cgroup2 mount offers
    assert cg.dir_for("net_cls") is None
    cg.create()
    assert (tmp_path / "cgroup/unified/box").is_dir() and (tmp_path / "cgroup/systemd/box").is_dir()


@pytest.mark.parametrize("path", ["", "/abs", "a/../b", "a//b", "a/b c", ".", None])
def test_bad_paths(path: str) -> None:
    with pytest.raises(InvalidInput, match="cgroup path"):
        check_path(path)


def test_no_cgroupfs_is_an_invalid_state() -> None:
    with pytest.raises(InvalidState, match="no cgroup filesystem"):
        open_manager("x", detect(""))


def test_check_mode_writes_nothing(tmp_path: Path) -> None:
    tree = fake(tmp_path, "v2")
    cg = manager(tree, "berth/x")
    request = service.CgroupRequest("berth/x", resources={"memory": "64m", "pids_limit": 10})
    out = plan_cgroup(ReadOnlyCgroup(cg), request)
    writes = cgroup_report(ReadOnlyCgroup(cg), out)["writes"]
    # memory without memory_swap allows as much swap as memory, as Docker does
    assert out.changed and [w["file"] for w in writes] == ["memory.max", "memory.swap.max", "pids.max"]
    assert not (tmp_path / "cgroup/berth").exists()
    assert out.before == {"exists": False, "values": {"memory.max": None, "memory.swap.max": None, "pids.max": None}}
    out.execute(cg)
    assert (tmp_path / "cgroup/berth/x/memory.max").read_text() == str(64 << 20)
    assert not plan_cgroup(ReadOnlyCgroup(cg), request).changed


def test_absent_moves_or_kills_what_is_inside(tmp_path: Path) -> None:
    tree = fake(tmp_path, "v1")
    cg = manager(tree, "job")
    cg.create()
    sleeper = subprocess.Popen(["sleep", "300"])
    try:
        cg.add_process(sleeper.pid)
        with pytest.raises(Conflict, match="still has processes"):
            plan_cgroup(ReadOnlyCgroup(cg), service.CgroupRequest("job", "absent"))
        moved = plan_cgroup(ReadOnlyCgroup(cg), service.CgroupRequest("job", "absent", absent_processes="move"))
        assert moved.actions() == ["moved: 1 process(es)", "removed: job"]
        moved.execute(cg)
        assert not cg.exists() and (tmp_path / "cgroup/memory/cgroup.procs").read_text().split() == [str(sleeper.pid)]
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.mark.parametrize(("arguments", "field"), [
    ({"path": "../x"}, "path"), ({"path": "x", "state": "gone"}, "state"),
    ({"path": "x", "absent_processes": "ignore"}, "absent_processes"), ({"path": "x", "processes": [0]}, "processes"),
    ({"path": "x", "resources": {"memory": "lots"}}, "memory"),
])
def test_the_request_names_the_bad_field(arguments: dict, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        service.CgroupRequest(**arguments)
    assert err.value.field == field


def test_the_module_model_hands_its_values_to_the_engine() -> None:
    params = {key: None for key in cgroup_module.RESOURCE_ARGS} | {
        "state_root": "/var/lib/berth", "run_root": "/run/berth", "path": "berth/web", "state": "present",
        "processes": [], "absent_processes": "refuse", "memory": "64m", "cpus": "0.5",
        "device_read_bps": [{"path": "/dev/sda", "rate": "1m"}], "device_write_bps": [], "device_read_iops": [],
        "device_write_iops": []}
    request = validate_params(CgroupOptions, params).request()
    assert request.resources == Resources(memory="64m", cpus="0.5",
                                          device_read_bps=[{"path": "/dev/sda", "rate": "1m"}])
    with pytest.raises(InvalidInput, match="'lots' is not a size") as err:
        validate_params(CgroupOptions, {**params, "memory": "lots"})
    assert err.value.field == "memory"


def test_freezing_that_never_finishes_times_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Stuck(FakeCgroupfs):
        def _v2_frozen(self, directory: str) -> bool:
            return False

    monkeypatch.setattr(base, "TIMEOUT", 0.05)
    tree = Stuck(tmp_path / "cgroup", "v2")
    cg = manager(tree, "stuck")
    cg.create()
    with pytest.raises(InvalidState, match="did not finish freezing within"):
        cg.freeze()


def test_a_cgroup_the_kernel_keeps_busy_is_a_conflict(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """EBUSY with no process left: tasks still being torn down; retried, then refused."""
    class Lagging(FakeCgroupfs):
        def rmdir(self, path: str) -> None:
            raise OSError(16, "Device or resource busy", path)

    monkeypatch.setattr(base, "TIMEOUT", 0.05)
    cg = manager(Lagging(tmp_path / "cgroup", "v2"), "lagging")
    cg.create()
    with pytest.raises(Conflict, match="still busy"):
        cg.remove(force=True)


# -- the runtime's side ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "path"), [
    ("", "cid"), ("/berth/cid", "berth/cid"), ("machine.slice:libpod:abc", "machine.slice/libpod-abc.scope"),
    (":libpod:abc", "system.slice/libpod-abc.scope"), ("user.slice::abc", "user.slice/abc"),
])
def test_oci_cgroups_paths(raw: str, path: str) -> None:
    assert cgroup_path({"linux": {"cgroupsPath": raw}}, "cid") == path


def test_a_bad_cgroups_path_names_the_spec_field() -> None:
    with pytest.raises(InvalidInput, match="not a valid cgroup path") as err:
        cgroup_path({"linux": {"cgroupsPath": "/a/../b"}}, "cid")
    assert err.value.field == "linux.cgroupsPath"


def test_the_runtime_writes_device_rules_through_the_core(tmp_path: Path) -> None:
    rules = [{"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "major": 10, "minor": 200}]
    assert device_writes(rules)[:2] == [("devices.deny", "a"), ("devices.allow", "c 10:200 rwm")]
    tree = fake(tmp_path, "hybrid")
    container = ContainerCgroup("berth-c1", tree.hierarchy(), tree)
    container.create()
    container.apply_devices(rules)
    assert (tmp_path / "cgroup/devices/berth-c1/devices.allow").read_text() == "c 136:* rwm"  # the last default
    assert set(container.v1_mounts.values()) >= {"cpu,cpuacct", "name=systemd"}
    container.remove()
    assert not any(Path(d).exists() for d in container.cgroup.dirs())


def _loaded_by(*modules: str) -> set[str]:
    """The modules a fresh interpreter loads to import ``modules`` (of module_utils)."""
    code = "\n".join(["import sys", f"sys.path.insert(0, {str(REPO / '.build' / 'collections')!r})",
                      "before = set(sys.modules)",
                      *(f"import ansible_collections.berth.engine.plugins.module_utils.{m}" for m in modules),
                      "print(' '.join(sorted(set(sys.modules) - before)))"])
    return set(subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True,
                              check=True).stdout.split())


def test_the_core_stays_out_of_the_runtimes_start_up() -> None:
    """berth-runtime imports the core for every container (the drivers when a
    bundle sets limits): no pydantic, and none of the modules that cost it
    milliseconds (dataclasses, pathlib, typing); the engine's limits no glue."""
    loaded = _loaded_by("runtime.cgroup", "cgroups.factory", "cgroups.resources")
    assert not {m for m in loaded if m.split(".")[0] in ("pydantic", "dataclasses", "pathlib", "typing", "inspect")}
    engine = _loaded_by("containers.limits", "cgroups.factory", "cgroups.resources")
    assert not {m for m in engine if m.split(".")[0] == "pydantic" or ".module_glue" in m or m.endswith(".models")}
