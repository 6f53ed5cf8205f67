"""LinuxSyscalls against the real kernel.

Every test runs its system calls in a forked child (``in_child``) that
reports back through a pipe and always leaves with ``os._exit``, so the
pytest process never changes namespace, hostname, root or mounts. The
``workdir`` fixture, used by every test, checks afterwards that the parent's
mount table did not change.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import select
import shutil
import signal
import stat
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.errors import SystemCallError
from ansible_collections.berth.engine.plugins.module_utils.mountinfo import parse_line, read_mounts
from ansible_collections.berth.engine.plugins.module_utils.syscalls import (
    CLONE_NEWNS,
    CLONE_NEWUTS,
    MNT_DETACH,
    MS_BIND,
    MS_NODEV,
    MS_NOSUID,
    MS_PRIVATE,
    MS_REC,
    PR_CAPBSET_DROP,
    PR_CAPBSET_READ,
    PR_GET_NO_NEW_PRIVS,
    PR_SET_NO_NEW_PRIVS,
    LinuxSyscalls,
    default_syscalls,
)

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root: real namespaces and mounts")]

CHILD_TIMEOUT = 30.0
CAP_SYS_ADMIN = 21


# --- running code in a child ---------------------------------------------------


def in_child(body: Callable[[], Any]) -> Any:
    """Run ``body`` in a forked child and return its JSON-able result; an
    exception in the child fails the test with the child's traceback."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _child_main(body, write_fd)  # never returns
    os.close(write_fd)
    try:
        raw = _read_until_eof(read_fd, pid)
    finally:
        os.close(read_fd)
    _pid, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, f"child exited with status {status}"
    reply = json.loads(raw or b'{"error": "the child sent nothing"}')
    if "error" in reply:
        pytest.fail(f"child failed:\n{reply['error']}")
    return reply["ok"]


def _child_main(body: Callable[[], Any], write_fd: int) -> None:
    # Whatever happens, leave with os._exit: returning or raising here would
    # run the rest of the pytest session a second time, in the child.
    try:
        try:
            data = json.dumps({"ok": body()})
        except BaseException:
            data = json.dumps({"error": traceback.format_exc()})
        with os.fdopen(write_fd, "wb") as pipe:
            pipe.write(data.encode())
    finally:
        os._exit(0)


def _read_until_eof(fd: int, pid: int) -> bytes:
    """The child's whole reply; kills the child if it takes too long."""
    chunks: list[bytes] = []
    deadline = time.monotonic() + CHILD_TIMEOUT
    while True:
        ready, _w, _x = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail(f"child did not answer within {CHILD_TIMEOUT}s")
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _error_facts(call: Callable[[], object]) -> dict[str, Any]:
    """Run ``call``, which must fail; the SystemCallError as plain data."""
    try:
        call()
    except SystemCallError as exc:
        return {"call": exc.call, "errno": exc.errno, "message": str(exc), "hint": exc.hint}
    raise AssertionError("the call succeeded but should have failed")


def _private_mount_ns(linux: LinuxSyscalls) -> None:
    """A mount namespace of our own whose mounts cannot propagate to the host."""
    linux.unshare(CLONE_NEWNS)
    linux.mount(None, "/", None, MS_REC | MS_PRIVATE)


def _mount_at(path: Path) -> dict[str, Any] | None:
    """The top mount on ``path`` in this process's mount table, if any."""
    found = [m for m in read_mounts() if m.mount_point == str(path)]
    if not found:
        return None
    top = found[-1]
    return {"fstype": top.fstype, "options": list(top.options), "super_options": list(top.super_options)}


# --- fixtures ------------------------------------------------------------------


@pytest.fixture
def linux() -> LinuxSyscalls:
    return default_syscalls()


def _mount_lines() -> set[str]:
    return set(Path("/proc/self/mountinfo").read_text().splitlines())


def _concerns(line: str, workdir: Path) -> bool:
    # Only our temp tree and "/" (its propagation) can be touched by these
    # tests; other suites running on the same host may mount elsewhere.
    point = parse_line(line).mount_point
    return point == "/" or (point + "/").startswith(f"{workdir}/")


def _unmount_under(workdir: Path) -> None:
    """Best-effort cleanup of mounts a broken test leaked, deepest first."""
    for entry in reversed(read_mounts()):
        if (entry.mount_point + "/").startswith(f"{workdir}/"):
            with contextlib.suppress(SystemCallError):
                default_syscalls().umount2(entry.mount_point, MNT_DETACH)


@pytest.fixture(autouse=True)
def workdir() -> Iterator[Path]:
    """A fresh temp dir, removed afterwards; fails the test if the parent's
    mount table changed under it (or at "/")."""
    before = _mount_lines()
    path = Path(tempfile.mkdtemp(prefix="berth-syscalls-"))
    yield path
    leaked = sorted(line for line in before ^ _mount_lines() if _concerns(line, path))
    _unmount_under(path)
    shutil.rmtree(path)
    assert not leaked, "the parent's mount table changed:\n" + "\n".join(leaked)


# --- namespaces ----------------------------------------------------------------


def test_unshare_uts_then_sethostname_changes_only_the_child(linux: LinuxSyscalls) -> None:
    host_name = os.uname().nodename
    host_domain = Path("/proc/sys/kernel/domainname").read_text()

    def child() -> list[str]:
        linux.unshare(CLONE_NEWNS | CLONE_NEWUTS)
        linux.sethostname("berth-syscalls-test")
        linux.setdomainname("berth.test")
        return [os.uname().nodename, Path("/proc/sys/kernel/domainname").read_text().strip()]

    assert in_child(child) == ["berth-syscalls-test", "berth.test"]
    assert os.uname().nodename == host_name
    assert Path("/proc/sys/kernel/domainname").read_text() == host_domain


def test_tmpfs_in_a_private_mount_namespace_is_seen_only_by_the_child(
        linux: LinuxSyscalls, workdir: Path) -> None:
    target = workdir / "mnt"
    target.mkdir()

    def child() -> dict[str, Any]:
        _private_mount_ns(linux)
        linux.mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0700")
        mounted = _mount_at(target)
        (target / "inside").write_text("x")
        linux.umount2(target)
        return {"mounted": mounted, "after_umount": _mount_at(target), "file_left": (target / "inside").exists()}

    result = in_child(child)
    mounted = result["mounted"]
    assert mounted is not None and mounted["fstype"] == "tmpfs"
    assert {"nosuid", "nodev"} <= set(mounted["options"])
    assert "mode=700" in mounted["super_options"]
    assert result["after_umount"] is None and not result["file_left"]
    assert _mount_at(target) is None
    assert list(target.iterdir()) == []


def test_setns_returns_to_the_parents_mount_namespace(linux: LinuxSyscalls, workdir: Path) -> None:
    target = workdir / "mnt"
    target.mkdir()
    parent_ns = os.readlink("/proc/self/ns/mnt")

    def child() -> dict[str, Any]:
        _private_mount_ns(linux)
        linux.mount("tmpfs", target, "tmpfs")
        inside = {"ns": os.readlink("/proc/self/ns/mnt"), "mounted": _mount_at(target) is not None}
        fd = os.open(f"/proc/{os.getppid()}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
        try:
            linux.setns(fd, CLONE_NEWNS)
        finally:
            os.close(fd)
        back = {"ns": os.readlink("/proc/self/ns/mnt"), "mounted": _mount_at(target) is not None}
        return {"inside": inside, "back": back}

    result = in_child(child)
    assert result["inside"]["ns"] != parent_ns and result["inside"]["mounted"]
    # Back in the parent's namespace, the child's tmpfs is not there.
    assert result["back"] == {"ns": parent_ns, "mounted": False}


# --- root filesystem -----------------------------------------------------------


def test_pivot_root_into_a_tmpfs_tree(linux: LinuxSyscalls, workdir: Path) -> None:
    new_root = workdir / "root"
    new_root.mkdir()

    def child() -> dict[str, Any]:
        _private_mount_ns(linux)
        linux.mount("tmpfs", new_root, "tmpfs", 0, "size=1m")
        (new_root / "bin").mkdir()
        (new_root / "etc").mkdir()
        (new_root / "etc" / "hostname").write_text("berth\n")
        # The runtime's sequence: make sure new_root is a mount point, then
        # stack the old root on top of it and detach that.
        linux.mount(new_root, new_root, None, MS_BIND | MS_REC)
        os.chdir(new_root)
        linux.pivot_root(".", ".")
        linux.umount2(".", MNT_DETACH)
        os.chdir("/")
        return {"listing": sorted(os.listdir("/")), "hostname": Path("/etc/hostname").read_text()}

    assert in_child(child) == {"listing": ["bin", "etc"], "hostname": "berth\n"}
    assert os.listdir(new_root) == []  # the tree only ever existed in the child's tmpfs


def test_mknod_and_chroot(linux: LinuxSyscalls, workdir: Path) -> None:
    root = workdir / "root"
    root.mkdir()

    def child() -> dict[str, Any]:
        _private_mount_ns(linux)
        linux.mount("tmpfs", root, "tmpfs", 0, "size=1m")
        linux.mknod(root / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
        exists = _error_facts(lambda: linux.mknod(root / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3)))
        info = os.stat(root / "null")
        linux.chroot(root)
        os.chdir("/")
        return {"chr": stat.S_ISCHR(info.st_mode), "dev": [os.major(info.st_rdev), os.minor(info.st_rdev)],
                "listing": os.listdir("/"), "exists": exists}

    result = in_child(child)
    assert result["chr"] and result["dev"] == [1, 3] and result["listing"] == ["null"]
    assert result["exists"]["errno"] == errno.EEXIST and "already exists" in result["exists"]["hint"]
    assert os.listdir(root) == []


def test_prctl_no_new_privs_and_bounding_set(linux: LinuxSyscalls) -> None:
    def child() -> list[int]:
        before = linux.prctl(PR_GET_NO_NEW_PRIVS)
        linux.prctl(PR_SET_NO_NEW_PRIVS, 1)
        had_admin = linux.prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN)
        linux.prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN)
        return [before, linux.prctl(PR_GET_NO_NEW_PRIVS), had_admin, linux.prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN)]

    before = _status_fields("NoNewPrivs", "CapBnd")
    assert in_child(child) == [0, 1, 1, 0]
    assert _status_fields("NoNewPrivs", "CapBnd") == before


def _status_fields(*names: str) -> dict[str, str]:
    lines = (line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return {key: value.strip() for key, value in lines if key in names}


# --- errors --------------------------------------------------------------------


def test_mount_on_a_missing_target_names_the_path(linux: LinuxSyscalls, workdir: Path) -> None:
    missing = workdir / "no" / "such" / "dir"

    def child() -> dict[str, Any]:
        _private_mount_ns(linux)  # so even a surprise success could not reach the host
        return _error_facts(lambda: linux.mount("tmpfs", missing, "tmpfs"))

    facts = in_child(child)
    assert (facts["call"], facts["errno"]) == ("mount", errno.ENOENT)
    assert repr(str(missing)) in facts["message"]
    assert facts["message"].startswith(f"mount('tmpfs', {str(missing)!r}, 'tmpfs', 0, None) failed: [Errno 2]")
    assert "does not exist" in facts["hint"]


def test_unshare_with_an_invalid_flag_is_einval(linux: LinuxSyscalls) -> None:
    # 0x1 lies in clone()'s exit-signal byte, which unshare() rejects.
    facts = in_child(lambda: _error_facts(lambda: linux.unshare(0x1)))
    assert (facts["call"], facts["errno"]) == ("unshare", errno.EINVAL)
    assert facts["message"].startswith("unshare(0x1) failed: [Errno 22]")


def test_pivot_root_refusals_explain_the_rules(linux: LinuxSyscalls, workdir: Path) -> None:
    on_root_fs = workdir / "plain"
    (on_root_fs / "old").mkdir(parents=True)
    fs = workdir / "fs"
    fs.mkdir()

    def child() -> dict[str, Any]:
        _private_mount_ns(linux)
        same_fs = _error_facts(lambda: linux.pivot_root(on_root_fs, on_root_fs / "old"))
        # On another filesystem, a directory that is not itself a mount point.
        linux.mount("tmpfs", fs, "tmpfs", 0, "size=1m")
        (fs / "dir" / "old").mkdir(parents=True)
        not_mount_point = _error_facts(lambda: linux.pivot_root(fs / "dir", fs / "dir" / "old"))
        return {"same_fs": same_fs, "not_mount_point": not_mount_point}

    facts = in_child(child)
    assert (facts["same_fs"]["call"], facts["same_fs"]["errno"]) == ("pivot_root", errno.EBUSY)
    assert "current root filesystem" in facts["same_fs"]["hint"]
    assert (facts["not_mount_point"]["call"], facts["not_mount_point"]["errno"]) == ("pivot_root", errno.EINVAL)
    assert str(fs / "dir") in facts["not_mount_point"]["message"]
    assert "mount point" in facts["not_mount_point"]["hint"]


def test_umount_setns_and_sethostname_errors(linux: LinuxSyscalls, workdir: Path) -> None:
    def child() -> dict[str, Any]:
        _private_mount_ns(linux)
        linux.unshare(CLONE_NEWUTS)  # so even a surprise success keeps the host's name
        closed = os.open("/dev/null", os.O_RDONLY)
        os.close(closed)
        ns_fd = os.open("/proc/self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
        try:
            wrong_type = _error_facts(lambda: linux.setns(ns_fd, CLONE_NEWUTS))
        finally:
            os.close(ns_fd)
        return {
            "not_mounted": _error_facts(lambda: linux.umount2(workdir)),
            "bad_fd": _error_facts(lambda: linux.setns(closed, CLONE_NEWNS)),
            "wrong_type": wrong_type,
            "long_name": _error_facts(lambda: linux.sethostname("h" * 65)),
        }

    facts = in_child(child)
    calls = {key: (value["call"], value["errno"]) for key, value in facts.items()}
    assert calls == {"not_mounted": ("umount2", errno.EINVAL), "bad_fd": ("setns", errno.EBADF),
                     "wrong_type": ("setns", errno.EINVAL), "long_name": ("sethostname", errno.EINVAL)}
    assert "not a mount point" in facts["not_mounted"]["hint"]
    assert str(workdir) in facts["not_mounted"]["message"]
    assert "CLONE_NEWUTS" in facts["wrong_type"]["message"]
    assert "64 bytes" in facts["long_name"]["hint"]
