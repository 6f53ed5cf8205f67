"""The init's start-up order, pinned with the recording syscalls fake.

The order is where the defences are: non-dumpable before the container's
root is touched, every mount inside the root made through /proc/self/fd,
pivot_root before masked paths, /dev made through the root's descriptor after
the root and its /dev are mounted, seccomp before the capability drop (unless
no_new_privs), no_new_privs before execve, and the execve through the sealed
helper. The forked code runs here in-process: mounts, pivot_root and prctl go
to ``RecordingSyscalls``; the few calls that would change the test process
itself (setsid, the uid switch, capset, seccomp, execve) are recorded instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils import saferoot
from ansible_collections.berth.engine.plugins.module_utils import syscalls as sc
from ansible_collections.berth.engine.plugins.module_utils.runtime import (
    caps,
    channel,
    init,
    process,
    seccomp,
    trampoline,
)
from ansible_collections.berth.engine.plugins.module_utils.syscalls_fake import Call, RecordingSyscalls


class _Kernel(RecordingSyscalls):
    """Records like the fake; mknod also leaves a file, so chown finds one."""

    def mknod(self, path: Any, mode: int, dev: int) -> None:
        super().mknod(path, mode, dev)
        Path(path).touch()


class _Execed(Exception):
    """Raised in place of execve: the checklist got to its end."""


def _mounts(cgroup_points: list[str]) -> list[dict]:
    return [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["newinstance"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["ro"]},
        *({"destination": point, "type": "cgroup", "source": "cgroup", "options": ["ro"]} for point in cgroup_points),
    ]


def _config(rootfs: Path, nnp: bool) -> dict:
    caps_ = ["CAP_CHOWN", "CAP_KILL"]
    return {
        "process": {"args": ["/bin/sh"], "env": ["PATH=/bin"], "cwd": "/work", "user": {"uid": 1000, "gid": 1000},
                    "capabilities": {k: caps_ for k in ("bounding", "effective", "permitted")},
                    "noNewPrivileges": nnp},
        "root": {"path": str(rootfs)},
        "mounts": _mounts(["/sys/fs/cgroup"]),
        "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "cgroup"}],
                  "maskedPaths": ["/proc/version", "/sys/kernel"], "readonlyPaths": ["/proc/sys"]},
    }


class Run:
    """One in-process run of the intermediate's and the init's steps."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, nnp: bool = False,
                 shape: Callable[[Path], None] | None = None) -> None:
        self.rootfs = tmp_path / "bundle" / "rootfs"
        self.rootfs.mkdir(parents=True)
        if shape:
            shape(self.rootfs)
        self.kernel = _Kernel()
        monkeypatch.chdir(tmp_path)  # pivot() fchdirs (recorded, not made); restored afterwards
        self._patch(monkeypatch)
        launch = init.Launch(_config(self.rootfs, nnp), str(tmp_path / "bundle"), None, None, self.kernel,
                             cgroup_mount=self._cgroup_mount)
        launch.seccomp = "profile"
        parent, child = channel.pair()
        channel.send(parent, "go")
        try:
            init.prepare_intermediate(launch, child, None)
            with pytest.raises(_Execed):
                init._init(launch, child)
        finally:
            parent.close()
        self.calls = self.kernel.calls

    def note(self, name: str, *args: Any) -> None:
        self.kernel.calls.append(Call(name, args))

    def _cgroup_mount(self, target: str, flags: int, calls: sc.Syscalls, _reopen: object) -> None:
        calls.mount("cgroup", target, "cgroup2", flags)

    def _patch(self, monkeypatch: pytest.MonkeyPatch) -> None:
        real_open_root, real_symlink = saferoot.open_root, os.symlink

        def open_root(path: Any) -> int:
            self.note("open_root", str(path))
            return real_open_root(path)

        def symlink(source: str, name: str, *, dir_fd: int | None = None, **_kw: Any) -> None:
            where = os.readlink(saferoot.fd_path(dir_fd)) if dir_fd is not None else os.getcwd()
            self.note("symlink", name, where)
            real_symlink(source, name, dir_fd=dir_fd)

        def execve(path: Any, args: list[str], env: dict) -> None:
            self.note("execve", path, tuple(args))
            raise _Execed

        monkeypatch.setattr(saferoot, "open_root", open_root)
        monkeypatch.setattr(os, "symlink", symlink)
        monkeypatch.setattr(os, "execve", execve)
        monkeypatch.setattr(os, "setsid", lambda: self.note("setsid"))
        monkeypatch.setattr(os, "setgroups", lambda groups: self.note("setgroups", tuple(groups)))
        monkeypatch.setattr(os, "setresgid", lambda *ids: self.note("setresgid", *ids))
        monkeypatch.setattr(os, "setresuid", lambda *ids: self.note("setresuid", *ids))
        monkeypatch.setattr(os, "chdir", lambda path: self.note("chdir", str(path)))
        monkeypatch.setattr(os, "getcwd", lambda: "/work")
        monkeypatch.setattr(os, "fchdir", lambda fd: self.note("fchdir", os.readlink(saferoot.fd_path(fd))))
        monkeypatch.setattr(caps, "apply", lambda sets, calls: self.note("capset"))
        monkeypatch.setattr(seccomp, "load", lambda compiled: self.note("seccomp"))
        monkeypatch.setattr(init, "_close_inherited", lambda first: self.note("close_inherited", first))
        monkeypatch.setattr(process, "lookup", lambda command, env: command)

    # -- queries -------------------------------------------------------------------------------
    def index(self, match: Callable[[Call], bool], what: str) -> int:
        for number, call in enumerate(self.calls):
            if match(call):
                return number
        raise AssertionError(f"no {what} in {[c.name for c in self.calls]}")

    def first(self, name: str, *args: Any) -> int:
        return self.index(lambda c: c.name == name and c.args[:len(args)] == args, f"{name}{args}")

    def last(self, name: str, *args: Any) -> int:
        found = [n for n, c in enumerate(self.calls) if c.name == name and c.args[:len(args)] == args]
        assert found, f"no {name}{args}"
        return found[-1]

    def mount_on(self, destination_suffix: str) -> int:
        """The mount whose target resolved to rootfs + suffix (recorded as /proc/self/fd/N: see targets)."""
        return self.index(lambda c: c.name == "mount" and c.args[1] == destination_suffix, destination_suffix)


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    return Run(tmp_path, monkeypatch)


def _before_pivot_mounts(run: Run) -> list[Call]:
    pivot = run.first("pivot_root")
    return [c for c in run.calls[:pivot] if c.name == "mount"]


def test_non_dumpable_before_anything_touches_the_root(run: Run) -> None:
    dumpable = run.first("prctl", sc.PR_SET_DUMPABLE, 0)
    assert dumpable == 0, "the intermediate's very first step"
    assert dumpable < run.first("unshare") < run.first("mount") < run.first("open_root")


def test_non_dumpable_again_after_the_uid_switch(run: Run) -> None:
    """A uid change resets dumpable to fs.suid_dumpable: it is set again."""
    assert run.last("setresuid") < run.last("prctl", sc.PR_SET_DUMPABLE, 0) < run.first("execve")


def test_mounts_in_the_root_go_through_proc_self_fd(run: Run) -> None:
    mounts = _before_pivot_mounts(run)
    assert mounts[0].args[:2] == (None, "/"), "first: stop propagation to the host"
    targets = [c.args[1] for c in mounts[1:]]
    assert len(targets) >= 6
    assert all(t.startswith("/proc/self/fd/") for t in targets), targets


def test_device_nodes_are_made_through_the_roots_descriptor(run: Run) -> None:
    nodes = [c.args[0] for c in run.calls if c.name == "mknod"]
    assert len(nodes) == 6
    assert all(n.startswith("/proc/self/fd/") for n in nodes), nodes
    assert (run.rootfs / "dev" / "null").exists()


def test_pivot_root_before_masked_and_readonly_paths(run: Run) -> None:
    pivot = run.first("pivot_root")
    masked = run.index(lambda c: c.name == "mount" and c.args[:2] == ("/dev/null", "/proc/version"),
                       "/dev/null over /proc/version")
    assert run.calls[run.first("mount", "tmpfs", "/sys/kernel")].args[3] & sc.MS_RDONLY
    readonly = run.index(lambda c: c.name == "mount" and c.args[1] == "/proc/sys", "ro bind of /proc/sys")
    assert pivot < masked and pivot < readonly


def test_dev_links_after_the_root_and_its_dev_are_mounted(run: Run) -> None:
    links = [n for n, c in enumerate(run.calls) if c.name == "symlink"]
    assert links
    root_mount = run.index(lambda c: c.name == "mount" and c.args[1] != "/", "the root's mount")
    assert run.calls[root_mount].args[3] & sc.MS_BIND, "the self bind that makes rootfs a mount point"
    dev_tmpfs = run.index(lambda c: c.name == "mount" and c.args[2] == "tmpfs", "the /dev tmpfs")
    assert root_mount < dev_tmpfs < links[0] and links[-1] < run.first("pivot_root")
    assert {run.calls[n].args[1] for n in links} == {str(run.rootfs / "dev")}


def test_seccomp_before_the_capability_drop(run: Run) -> None:
    assert run.first("seccomp") < run.first("prctl", sc.PR_CAPBSET_DROP) < run.first("capset")


def test_with_no_new_privs_seccomp_comes_last(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = Run(tmp_path, monkeypatch, nnp=True)
    nnp = run.first("prctl", sc.PR_SET_NO_NEW_PRIVS, 1)
    assert run.first("capset") < nnp < run.first("close_inherited") < run.first("seccomp") < run.first("execve")


def test_no_new_privs_before_execve_through_the_helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = Run(tmp_path, monkeypatch, nnp=True)
    execve = run.calls[run.first("execve")]
    assert run.first("prctl", sc.PR_SET_NO_NEW_PRIVS, 1) < run.first("execve")
    assert isinstance(execve.args[0], int), "exec'd by descriptor: the sealed helper"
    assert execve.args[1] == (trampoline.MARKER, "/bin/sh", "/bin/sh")
    assert execve == run.calls[-1]


def test_cwd_checked_after_chdir_and_user_switch(run: Run) -> None:
    assert run.last("setresuid") < run.first("chdir", "/work") < run.first("execve")
    assert (run.rootfs / "work").is_dir(), "a missing cwd is made inside the root"


def test_a_dev_symlink_to_a_host_directory_stays_in_the_root(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    host = tmp_path / "host-dev"
    host.mkdir()

    def shape(rootfs: Path) -> None:
        (rootfs / "dev").symlink_to(host)

    run = Run(tmp_path, monkeypatch, shape=shape)
    assert list(host.iterdir()) == []
    inside = run.rootfs / str(host).lstrip("/")
    assert {run.calls[n].args[1] for n, c in enumerate(run.calls) if c.name == "symlink"} == {str(inside)}
    assert (inside / "null").exists() and (inside / "stdin").is_symlink()
