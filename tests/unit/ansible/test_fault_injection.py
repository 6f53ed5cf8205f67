"""Faults from the kernel and the disk reach the user as a failed task naming the operation and its object.

Each case runs a real module in this process (tests/unit/inprocess.py: argument spec, model, plan,
``fail_json``) with one engine call behind its own interface (a service method, the cgroup ``Kernel``,
the network ``HostKernel``) raising the ``OSError`` the kernel would, and checks what the user reads: a
failed task, never a traceback or "MODULE FAILURE", whose ``msg`` says what could not be done to what,
and that the failure made nothing (no record, no cgroup, no bridge)."""

from __future__ import annotations

import errno
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.ansible import agent, glue
from ansible_collections.berth.engine.plugins.module_utils.ansible.image_models import ImportConfig
from ansible_collections.berth.engine.plugins.module_utils.cgroups import kernel as cgroup_kernel
from ansible_collections.berth.engine.plugins.module_utils.cgroups.factory import open_manager
from ansible_collections.berth.engine.plugins.module_utils.cli import base as cli_base
from ansible_collections.berth.engine.plugins.module_utils.containers.service import ContainerService
from ansible_collections.berth.engine.plugins.module_utils.containers.store import ContainerStore
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
from ansible_collections.berth.engine.plugins.module_utils.image.rootfs_import import import_rootfs
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore
from ansible_collections.berth.engine.plugins.module_utils.network import service as network_service
from ansible_collections.berth.engine.plugins.module_utils.network.store import NetworkStore
from ansible_collections.berth.engine.plugins.module_utils.plan import Plan, Step
from ansible_collections.berth.engine.plugins.module_utils.volumes.service import VolumeService
from tests.support.runtime import passwd_only_rootfs
from tests.unit.inprocess import ModuleRun, Roots, run_module

IMAGE = "local/box:1"
BUSY = OSError(errno.EBUSY, "Device or resource busy")


def raising(exc: OSError) -> Any:
    def fault(*_args: Any, **_kwargs: Any) -> Any:
        raise exc
    return fault


@pytest.fixture
def roots(tmp_path: Path) -> Roots:
    """An engine whose store holds one image (a rootfs with /etc/passwd only)."""
    engine = Engine.open(tmp_path / "state", tmp_path / "run")
    rootfs = passwd_only_rootfs(tmp_path)
    import_rootfs(ImageStore(engine), rootfs, ImportConfig(cmd=["sleep", "300"]), parse_reference(IMAGE))
    Engine.open(tmp_path / "state", tmp_path / "run")   # its recovery (pending collection) done, as an apply's is
    return Roots(tmp_path / "state", tmp_path / "run")


def assert_fails_saying(run: ModuleRun, *parts: str) -> None:
    """A failed task (fail_json, not a crash) whose message holds every part, and no traceback."""
    assert run.rc == 1 and run.result.get("failed") is True, run.result
    assert "module_stderr" not in run.result and "MODULE FAILURE" not in run.result["msg"], run.result
    assert "Traceback" not in run.result["msg"], run.result
    for part in parts:
        assert part in run.result["msg"], (part, run.result["msg"])


def test_container_create_fault_names_the_step_and_the_container(roots: Roots,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    rootfs = str(roots.state / "containers" / "x" / "bundle" / "rootfs")
    monkeypatch.setattr(ContainerService, "create", raising(OSError(errno.EBUSY, "Device or resource busy", rootfs)))
    run = run_module("container", {**roots.params, "name": "web", "image": IMAGE, "state": "present"})
    assert_fails_saying(run, "could not create container web: ", f"{rootfs}: [Errno 16] Device or resource busy")
    assert run.result["error"] == {"kind": "os_error", "operation": "create container web", "errno": errno.EBUSY,
                                   "path": rootfs, "message": f"{rootfs}: [Errno 16] Device or resource busy"}
    assert ContainerStore(Engine.open(roots.state, roots.run)).find("web") is None


def test_volume_disk_full_names_the_volume(roots: Roots, monkeypatch: pytest.MonkeyPatch) -> None:
    data = str(roots.state / "volumes" / "data" / "_data")
    monkeypatch.setattr(VolumeService, "create", raising(OSError(errno.ENOSPC, "No space left on device", data)))
    before = roots.fingerprint()
    run = run_module("volume", {**roots.params, "name": "data"})
    assert_fails_saying(run, "could not create volume data: ", "[Errno 28] No space left on device")
    roots.assert_unchanged_since(before)


def test_fault_before_any_step_names_the_task_and_its_object(roots: Roots, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Engine, "open", raising(PermissionError(errno.EACCES, "Permission denied", str(roots.state))))
    run = run_module("volume", {**roots.params, "name": "data"})
    assert_fails_saying(run, "could not run the volume task for volume data: ",
                        f"{roots.state}: [Errno 13] Permission denied")


def test_image_removal_fault_names_the_image(roots: Roots, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ImageStore, "untag", raising(BUSY))
    monkeypatch.setattr(ImageStore, "remove", raising(BUSY))
    run = run_module("image", {**roots.params, "name": IMAGE, "state": "absent"})
    assert_fails_saying(run, "could not delete sha256:", f" for image {IMAGE}: [Errno 16] Device or resource busy")
    assert ImageStore(Engine.open(roots.state, roots.run)).find(IMAGE) is not None


def test_network_netlink_fault_names_the_network(roots: Roots, monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"bft{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(network_service.HostKernel, "ensure_bridge",
                        raising(OSError(errno.EPERM, "Operation not permitted")))
    run = run_module("network", {**roots.params, "name": name, "ipam_config": [{"subnet": "10.253.77.0/24"}]})
    assert_fails_saying(run, f"could not create network {name} (bridge ", "[Errno 1] Operation not permitted")
    assert NetworkStore(Engine.open(roots.state, roots.run)).find(name) is None


@pytest.fixture
def cgroup_path() -> Iterator[str]:
    """A cgroup of this test's own, removed afterwards: a create that fails part way leaves the
    directories it made (the cgroup module does not roll back; a re-run converges)."""
    path = f"berth-fault-{uuid.uuid4().hex[:10]}"
    yield path
    open_manager(path).remove()   # after the test's monkeypatch is undone (fixtures end in reverse order)


def test_cgroup_write_fault_names_the_file_and_the_cgroup(cgroup_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def busy_write(_kernel: Any, path: str, _value: str) -> None:
        raise OSError(errno.EBUSY, "Device or resource busy", path)

    monkeypatch.setattr(cgroup_kernel.Kernel, "write", busy_write)
    run = run_module("cgroup", {"path": cgroup_path, "memory": "64m"})
    # making a v1 cgroup copies the parent's cpuset first: that write is the one that fails
    assert_fails_saying(run, f"could not create cgroup {cgroup_path} (v1): ", f"/{cgroup_path}/",
                        ": [Errno 16] Device or resource busy")


def test_the_traceback_goes_to_exception_only() -> None:
    class FakeModule:
        def fail_json(self, **kwargs: Any) -> None:
            self.failed = kwargs
            raise SystemExit(1)

    def action() -> dict[str, Any]:
        Plan(steps=[Freeze()]).execute(None)
        return {}

    module = FakeModule()
    with pytest.raises(SystemExit):
        glue.run_module(module, action, task="container", params={"name": "web"})
    path = "/sys/fs/cgroup/freezer/berth/web/freezer.state"
    assert module.failed["msg"] == f"could not freeze container web: {path}: [Errno 16] Device or resource busy"
    assert "Traceback" in module.failed["exception"] and "Traceback" not in module.failed["msg"]


class Freeze(Step):
    def describe(self) -> str:
        return "freeze"

    def execute(self, context: Any) -> Any:
        raise OSError(errno.EBUSY, "Device or resource busy", "/sys/fs/cgroup/freezer/berth/web/freezer.state")


def test_done_steps_are_named() -> None:
    class Done(Step):
        def describe(self) -> str:
            return "pull busybox"

        def execute(self, context: Any) -> Any:
            return None

    with pytest.raises(OSError) as raised:
        Plan(steps=[Done(), Freeze()]).execute(None)
    failed = glue.task_failure(raised.value, "container", {"name": "web"})
    assert failed["msg"].endswith("(done before it: pull busybox)")
    assert failed["error"]["done"] == ["pull busybox"]


def test_a_bug_in_the_agent_names_the_step_too() -> None:
    class Broken(Step):
        def describe(self) -> str:
            return "start"

        def execute(self, context: Any) -> Any:
            return {}["missing"]

    with pytest.raises(KeyError) as caught:
        Plan(steps=[Broken()]).execute(None)
    failed = agent.unexpected_failure(caught.value, "container", {"name": "web"})
    assert failed["msg"].startswith("berth's engine failed unexpectedly: could not start container web: KeyError: ")
    assert "a bug in berth" in failed["msg"] and "Traceback" in failed["exception"]


def test_cli_prints_the_operation_and_exits_125(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """cli/base.run, the loop every verb runs in, with a verb whose plan step meets a busy freezer (the
    verb table is this test's own: what is checked is the run loop's answer, whatever the verbs)."""
    parser, sub, common = cli_base.global_parser()
    sub.add_parser("pause", parents=[common])
    sub.add_parser("prune", parents=[common])
    commands: cli_base.Commands = {
        "pause": (lambda _engine, _args: Plan(steps=[Freeze()]).execute(None), True),   # type: ignore[arg-type,return-value]
        "prune": (raising(OSError(errno.ENOSPC, "No space left on device")), True),
    }
    roots = ["--state-root", str(tmp_path / "s"), "--run-root", str(tmp_path / "r")]
    monkeypatch.delenv("BERTH_DEBUG", raising=False)
    assert cli_base.run(parser, commands, [*roots, "pause"]) == 125
    path = "/sys/fs/cgroup/freezer/berth/web/freezer.state"
    assert capsys.readouterr().err == f"berth: error: freeze: {path}: [Errno 16] Device or resource busy\n"
    assert cli_base.run(parser, commands, [*roots, "prune"]) == 125
    assert capsys.readouterr().err == "berth: error: berth prune: [Errno 28] No space left on device\n"
    monkeypatch.setenv("BERTH_DEBUG", "1")
    assert cli_base.run(parser, commands, [*roots, "prune"]) == 125
    assert "Traceback" in capsys.readouterr().err
