"""Bad tasks, module by module, run the way the host runs them (the module's
``main()`` in process: argument spec, model, plan, ``fail_json``), in check
mode and in an apply: each fails naming the option and the fix, without a
traceback, and writes nothing to the state root or the run root.

These were one playbook run each (tests/integration); what only a real run
shows — the message reaching the user through ansible-playbook, and the
errors that come from the kernel, the runtime or a registry — stays there,
one play of several bad tasks per module family."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.ansible.image_models import ImportConfig
from ansible_collections.berth.engine.plugins.module_utils.ansible.network_models import NetworkRequest
from ansible_collections.berth.engine.plugins.module_utils.ansible.network_plan import converge_network
from ansible_collections.berth.engine.plugins.module_utils.containers.store import ContainerStore
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
from ansible_collections.berth.engine.plugins.module_utils.image.rootfs_import import import_rootfs
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore
from ansible_collections.berth.engine.plugins.module_utils.network.service import NetworkService
from ansible_collections.berth.engine.plugins.module_utils.volumes.service import VolumeService
from tests.support.runtime import passwd_only_rootfs
from tests.unit.inprocess import Roots, run_module
from tests.unit.network.test_service import FakeKernel

IMAGE = "local/box:1"
FIRST_SUBNET = "10.253.20.0/24"


@pytest.fixture
def roots(tmp_path: Path) -> Roots:
    """An engine with an image (its /etc/passwd knows root only) and a network 'berthtestfirst' (its record only)."""
    engine = Engine.open(tmp_path / "state", tmp_path / "run")
    rootfs = passwd_only_rootfs(tmp_path)
    import_rootfs(ImageStore(engine), rootfs, ImportConfig(cmd=["sleep", "300"], volumes=["/cache"]),
                  parse_reference(IMAGE))
    converge_network(NetworkService(engine, kernel=FakeKernel()),
                     NetworkRequest(engine={"state_root": tmp_path / "state", "run_root": tmp_path / "run"},
                                    name="berthtestfirst", ipam_config=[{"subnet": FIRST_SUBNET}]))
    Engine.open(tmp_path / "state", tmp_path / "run")   # its recovery (pending collection) done, as an apply's is
    return Roots(tmp_path / "state", tmp_path / "run")


def _case(module: str, task: dict[str, Any], field: str, text: str, fix: str) -> Any:
    return pytest.param(module, task, field, text, fix, id=f"{module}-{field}-{text[:28]}")


CASES = [
    # container: the task's own options
    _case("container", {"name": "x", "image": "local/absent:1", "pull": "never"}, "image",
          "image 'local/absent:1' is not present and pull is never", "pull it first (berth.engine.image)"),
    _case("container", {"name": "bad/name", "image": IMAGE}, "name",
          "'bad/name' is not a valid container name", "use 1-128 characters from [a-zA-Z0-9_.-]"),
    _case("container", {"name": "x", "image": IMAGE, "comparisons": {"env": "sometimes"}}, "comparisons",
          "'sometimes' for env", "use strict, ignore or allow_more_present"),
    _case("container", {"name": "x", "image": IMAGE, "log_options": {"max-buffer": 3}}, "log_options",
          "unknown log_options ['max-buffer']", "takes max_size (e.g. 10m) and max_file"),
    _case("container", {"name": "x", "image": IMAGE, "dns_servers": ["192.0.2.300"]}, "dns_servers",
          "dns_servers[0]: '192.0.2.300' is not an IP address", "give nameservers by address"),
    _case("container", {"name": "x", "image": IMAGE, "etc_hosts": {"db": "db.example"}}, "etc_hosts.db",
          "etc_hosts.db: 'db.example' is not an IP address", "or host-gateway"),
    _case("container", {"name": "x", "image": IMAGE, "env": {"DEBUG": True}}, "env",
          "True is a boolean; quote it", 'write "true"/"false" in quotes'),
    _case("container", {"name": "x", "image": IMAGE, "memory": "lots"}, "memory",
          "'lots' is not a size", "e.g. 512m"),
    _case("container", {"name": "x", "image": IMAGE, "tmpfs": ["relative"]}, "tmpfs",
          "tmpfs 'relative': the path must be absolute", "write /path or /path:size=64m"),
    _case("container", {"name": "x", "image": IMAGE, "ulimits": ["files:1"]}, "ulimits",
          "unknown limit 'files'", "write name:soft[:hard] with name one of"),
    _case("container", {"name": "x", "image": IMAGE, "devices": ["/dev/nonexistent-berth"]}, "devices",
          "device /dev/nonexistent-berth: No such file or directory", "name a device node that exists on the host"),
    _case("container", {"name": "x", "image": IMAGE, "devices": ["/etc/hostname"]}, "devices",
          "/etc/hostname is not a device node", "name a character or block device"),
    # container: its volumes and mounts
    _case("container", {"name": "x", "image": IMAGE, "volumes": ["v1:/a", "v2:/a"]}, "mounts",
          "/a is mounted twice", "each container path may appear once"),
    _case("container", {"name": "x", "image": IMAGE,
                        "mounts": [{"type": "bind", "source": "/nonexistent-berth", "target": "/a"}]}, "mounts",
          "bind source /nonexistent-berth does not exist", "create it on the host first"),
    # volume
    _case("volume", {"name": "x"}, "name", "'x' is not a valid volume name", "use 2-128 characters"),
    _case("volume", {"name": "vv", "driver_options": {"size": "1m"}}, "driver_options",
          "unknown driver options ['size']", "the local driver takes type, device and o"),
    _case("volume", {"name": "vv", "driver": "nfs"}, "driver",
          "volume driver 'nfs' is not available", "berth has the local driver only"),
    _case("volume", {"name": "vv", "driver_options": {"type": "none", "o": "bind", "device": "/nonexistent-berth"}},
          "driver_options", "bind device /nonexistent-berth is not a directory", "create the host directory first"),
    # network: addressing (the host's routes are the kernel's business: tests/integration/test_network_module.py)
    _case("network", {"name": "berthtestbad", "ipam_config": [{"subnet": "10.253.20.0/25"}]}, "ipam_config[0].subnet",
          f"overlaps network 'berthtestfirst' ({FIRST_SUBNET})", "choose a subnet no other berth network uses"),
    _case("network", {"name": "berthtestbad", "ipam_config": [{"subnet": "10.253.21.0/24", "gateway": "10.253.22.1"}]},
          "ipam_config[0].gateway", "gateway 10.253.22.1 is outside subnet 10.253.21.0/24",
          "use a host address of 10.253.21.0/24"),
    _case("network", {"name": "berthtestbad",
                      "ipam_config": [{"subnet": "10.253.21.0/24", "iprange": "10.253.22.0/25"}]},
          "ipam_config[0].iprange", "iprange 10.253.22.0/25 is outside subnet 10.253.21.0/24",
          "give a range inside 10.253.21.0/24"),
    # image
    _case("image", {"name": "BAD NAME"}, "name", "'BAD NAME' contains whitespace", "e.g. 'busybox', 'busybox:1.36'"),
    _case("image", {"name": "local/nothere:1", "source": "local"}, "name", "image local/nothere:1 is not present",
          "use source: pull, load or import to get it"),
    # cgroup
    _case("cgroup", {"path": "../escape"}, "path", "'../escape' is not a valid cgroup path", "without .."),
    _case("cgroup", {"path": "berth-unit-bad/web", "memory": "lots"}, "memory", "'lots' is not a size", "e.g. 512m"),
    # host_info: the engine's options, shared by every module
    _case("host_info", {"state_root": "relative/root"}, "engine.state_root", "must be an absolute path",
          "e.g. /var/lib/berth"),
]


@pytest.mark.parametrize(("module", "task", "field", "text", "fix"), CASES)
def test_a_bad_task_fails_naming_the_option_and_the_fix_and_writes_nothing(
        roots: Roots, module: str, task: dict[str, Any], field: str, text: str, fix: str) -> None:
    before = roots.fingerprint()
    for check in (True, False):
        run_module(module, {**roots.params, **task}, check=check).assert_fails_naming(field, text, fix)
    roots.assert_unchanged_since(before)
    engine = Engine.view(roots.state, roots.run)
    assert ContainerStore(engine).list() == [] and VolumeService(engine).list() == []
    assert [r["name"] for r in NetworkService(engine).store.list()] == ["berthtestfirst"]


@pytest.mark.parametrize(("task", "field", "text", "fix"), [
    ({"source": "load", "load_path": "{dir}/bad.tar"}, "load_path", "bad.tar is not a tar archive",
     "give a file written by docker/podman save or skopeo copy"),
    ({"source": "load", "load_path": "{dir}/missing.tar"}, "load_path", "missing.tar does not exist",
     "give the path of a docker-archive, OCI archive or OCI layout"),
    ({"source": "import", "import_path": "{dir}/missing"}, "import_path", "missing does not exist",
     "give a rootfs tarball (optionally gzip/zstd) or a directory"),
], ids=["load-not-a-tar", "load-missing", "import-missing"])
def test_an_archive_that_cannot_be_read_fails_the_apply_and_stores_nothing(
        roots: Roots, tmp_path: Path, task: dict[str, Any], field: str, text: str, fix: str) -> None:
    """Only an apply reads the archive (a check run plans the load without opening it)."""
    (tmp_path / "bad.tar").write_bytes(b"not a tar archive at all" * 100)
    task = {key: value.format(dir=tmp_path) for key, value in task.items()}
    before = roots.fingerprint()
    run_module("image", {**roots.params, "name": "bad/archive:1", **task}).assert_fails_naming(field, text, fix)
    roots.assert_unchanged_since(before)
    engine = Engine.view(roots.state, roots.run)
    assert [r.repo_tags for r in ImageStore(engine).list()] == [[f"docker.io/{IMAGE}"]]
