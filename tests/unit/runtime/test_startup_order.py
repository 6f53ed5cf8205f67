"""The init's start-up order, pinned with the recording syscalls fake.

The order is where the defences are: non-dumpable before the container's
root is touched, every mount inside the root made through /proc/self/fd,
pivot_root before masked and read-only paths, /dev made through the root's
descriptor after the root and its /dev are mounted, seccomp before the
capability drop (it needs CAP_SYS_ADMIN) unless no_new_privs is set (then as
late as possible, like runc's standard_init: the filter is allowed
unprivileged and should see as few of the runtime's own calls as it can),
no_new_privs before execve, and the execve through the sealed helper, last.

The forked code runs here in-process: every call that changes the process
or the kernel (namespaces, mounts, pivot_root, prctl, setsid, credentials,
capset, rlimits, seccomp, chdir, execve) goes through the ``Syscalls``
interface to ``RecordingSyscalls``, which records it and makes none. Only
``_close_inherited`` (it would mark this test process's descriptors) is
replaced; ``open_root`` and ``os.symlink`` are wrapped to be observed.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils import saferoot
from ansible_collections.berth.engine.plugins.module_utils import syscalls as sc
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput
from ansible_collections.berth.engine.plugins.module_utils.runtime import caps, channel, init, process, trampoline
from ansible_collections.berth.engine.plugins.module_utils.syscalls_fake import Call, Execed, RecordingSyscalls

NOFILE = resource.RLIMIT_NOFILE


class _Kernel(RecordingSyscalls):
    """Records like the fake; mknod also leaves a file, so chown finds one."""

    def mknod(self, path: Any, mode: int, dev: int) -> None:
        super().mknod(path, mode, dev)
        Path(path).touch()


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
        "process": {"args": ["/bin/sh"], "env": ["PATH=/bin"], "cwd": "/work",
                    "user": {"uid": 1000, "gid": 1000, "additionalGids": [10]},
                    "capabilities": {k: caps_ for k in ("bounding", "effective", "permitted")},
                    "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 4096}],
                    "noNewPrivileges": nnp},
        "root": {"path": str(rootfs)},
        "hostname": "box",
        "mounts": _mounts(["/sys/fs/cgroup"]),
        "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "uts"}, {"type": "cgroup"}],
                  "maskedPaths": ["/proc/version", "/sys/kernel"], "readonlyPaths": ["/proc/sys"]},
    }


PROGRAM = b"\x06\x00\x00\x00\x00\x00\xff\x7f"  # one BPF instruction: return SECCOMP_RET_ALLOW


class Run:
    """One in-process run of the intermediate's and the init's steps."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, nnp: bool = False,
                 shape: Callable[[Path], None] | None = None) -> None:
        self.rootfs = tmp_path / "bundle" / "rootfs"
        self.rootfs.mkdir(parents=True)
        if shape:
            shape(self.rootfs)
        self.kernel = _Kernel()
        self._patch(monkeypatch)
        launch = init.Launch(_config(self.rootfs, nnp), str(tmp_path / "bundle"), None, None, self.kernel,
                             cgroup_mount=self._cgroup_mount)
        launch.seccomp = PROGRAM
        parent, child = channel.pair()
        channel.send(parent, "go")
        try:
            init.prepare_intermediate(launch, child, None)
            with pytest.raises(Execed) as execed:
                init._init(launch, child)
            self.messages = _drain(parent)
        finally:
            parent.close()
        self.calls = self.kernel.calls
        self.execve = execed.value.call
        if isinstance(self.execve.args[0], int):
            os.close(self.execve.args[0])  # the sealed helper's memfd, made for real

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

        monkeypatch.setattr(saferoot, "open_root", open_root)
        monkeypatch.setattr(os, "symlink", symlink)
        monkeypatch.setattr(init, "_close_inherited", lambda first: self.note("close_inherited", first))

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

    def checklist(self) -> list[str]:
        """The start-up's milestones in the order they happened (each named once)."""
        seen: list[str] = []
        for call in self.calls:
            step = _milestone(call)
            if step and step not in seen:
                seen.append(step)
        return seen


def _milestone(call: Call) -> str | None:
    name, args = call.name, call.args
    if name == "prctl":
        return {sc.PR_CAPBSET_DROP: "capability drop", sc.PR_SET_NO_NEW_PRIVS: "no_new_privs"}.get(args[0])
    if name == "mount" and args[:2] == (None, "/"):
        return "mounts"
    if name == "mount" and args[1] in ("/proc/version", "/sys/kernel"):
        return "masked paths"
    if name == "mount" and args[1] == "/proc/sys":
        return "readonly paths"
    return {"unshare": "namespaces", "pivot_root": "pivot_root", "sethostname": "hostname",
            "setrlimit": "rlimits", "seccomp_filter": "seccomp", "setresuid": "user", "capset": "capset",
            "chdir": None, "close_inherited": "close inherited fds", "execve": "execve"}.get(name)


def _drain(sock: Any) -> list[dict]:
    sock.setblocking(False)
    messages = []
    try:
        while True:
            message = channel.receive(sock)
            if message.get("kind") == "eof":
                break
            messages.append(message)
    except BlockingIOError:
        pass
    return messages


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    return Run(tmp_path, monkeypatch)


@pytest.fixture
def nnp_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    return Run(tmp_path, monkeypatch, nnp=True)


def _before_pivot_mounts(run: Run) -> list[Call]:
    pivot = run.first("pivot_root")
    return [c for c in run.calls[:pivot] if c.name == "mount"]


# -- the whole checklist ---------------------------------------------------------------------------
def test_the_checklist_in_order(run: Run) -> None:
    assert run.checklist() == [
        "namespaces", "mounts", "pivot_root", "masked paths", "readonly paths", "hostname", "rlimits",
        "seccomp",  # without no_new_privs: needs CAP_SYS_ADMIN, so before the drop
        "capability drop", "user", "capset", "close inherited fds", "execve"]


def test_the_checklist_in_order_with_no_new_privs(nnp_run: Run) -> None:
    assert nnp_run.checklist() == [
        "namespaces", "mounts", "pivot_root", "masked paths", "readonly paths", "hostname", "rlimits",
        "capability drop", "user", "capset", "no_new_privs", "close inherited fds",
        "seccomp",  # allowed unprivileged now: as late as possible
        "execve"]


@pytest.mark.parametrize("nnp", [False, True])
def test_execve_is_the_last_call_and_the_only_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, nnp: bool) -> None:
    each = Run(tmp_path, monkeypatch, nnp=nnp)
    assert each.calls[-1] == each.execve
    assert [c.name for c in each.calls].count("execve") == 1


# -- the steps, one by one ----------------------------------------------------------------------------
def test_non_dumpable_before_anything_touches_the_root(run: Run) -> None:
    dumpable = run.first("prctl", sc.PR_SET_DUMPABLE, 0)
    assert dumpable == 0, "the intermediate's very first step"
    assert dumpable < run.first("unshare") < run.first("mount") < run.first("open_root")


def test_namespaces_are_unshared_at_once_and_cgroup_after_the_go(run: Run) -> None:
    unshares = [c.args[0] for c in run.calls if c.name == "unshare"]
    assert unshares == [sc.CLONE_NEWPID | sc.CLONE_NEWNS | sc.CLONE_NEWUTS, sc.CLONE_NEWCGROUP]
    cgroup_ns = run.last("unshare", sc.CLONE_NEWCGROUP)
    cgroup_mount = run.index(lambda c: c.name == "mount" and c.args[2] == "cgroup2", "the cgroup mount")
    assert run.first("mount") < cgroup_ns < cgroup_mount < run.first("pivot_root")


def test_non_dumpable_again_after_the_uid_switch(run: Run) -> None:
    """A uid change resets dumpable to fs.suid_dumpable: it is set again."""
    assert run.last("setresuid") < run.last("prctl", sc.PR_SET_DUMPABLE, 0) < run.first("execve")


def test_a_new_session_before_the_root_is_built(run: Run) -> None:
    assert run.first("setsid") < run.first("open_root")


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


def test_pivot_root_dot_dot_then_the_old_root_detached(run: Run) -> None:
    pivot = run.first("pivot_root")
    assert run.calls[pivot].args == (".", ".")
    assert run.calls[pivot - 1].name == "fchdir", "into the new root first"
    after = [c.name for c in run.calls[pivot + 1:pivot + 5]]
    assert after == ["fchdir", "mount", "umount2", "chdir"]
    assert run.calls[pivot + 3].args == (".", sc.MNT_DETACH)
    assert run.calls[pivot + 4].args == ("/",)


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


def test_hostname_in_the_new_uts_namespace_after_pivot(run: Run) -> None:
    assert run.calls[run.first("sethostname")].args == ("box",)
    assert run.first("pivot_root") < run.first("sethostname")


def test_rlimits_before_seccomp_and_the_user_switch(run: Run) -> None:
    setrlimit = run.first("setrlimit")
    assert run.calls[setrlimit].args == (NOFILE, 1024, 4096)
    assert run.first("getrlimit", NOFILE) < setrlimit < run.first("seccomp_filter") < run.first("setresuid")


def test_seccomp_before_the_capability_drop(run: Run) -> None:
    assert run.first("seccomp_filter") < run.first("prctl", sc.PR_CAPBSET_DROP) < run.first("capset")
    assert run.calls[run.first("seccomp_filter")].args == (PROGRAM,)
    assert "no_new_privs" not in run.checklist()


def test_with_no_new_privs_seccomp_comes_last(nnp_run: Run) -> None:
    nnp = nnp_run.first("prctl", sc.PR_SET_NO_NEW_PRIVS, 1)
    assert nnp_run.first("capset") < nnp < nnp_run.first("close_inherited") < nnp_run.first("seccomp_filter")
    assert nnp_run.first("seccomp_filter") == len(nnp_run.calls) - 2, "only execve after it"


def test_no_new_privs_before_execve_through_the_helper(nnp_run: Run) -> None:
    execve = nnp_run.execve
    assert nnp_run.first("prctl", sc.PR_SET_NO_NEW_PRIVS, 1) < nnp_run.first("execve")
    assert isinstance(execve.args[0], int), "exec'd by descriptor: the sealed helper"
    assert execve.args[1] == (trampoline.MARKER, "/bin/sh", "/bin/sh")
    assert execve.args[2]["PATH"] == "/bin"


def test_user_switch_in_runcs_order(run: Run) -> None:
    """Bounding set dropped while privileged, caps kept across the uid change,
    groups before gid before uid, then capset and the ambient set."""
    names = [c.name for c in run.calls]
    drop = run.first("prctl", sc.PR_CAPBSET_DROP)
    keep = run.first("prctl", sc.PR_SET_KEEPCAPS, 1)
    assert drop < keep < names.index("setgroups") < names.index("setresgid") < names.index("setresuid")
    assert run.calls[names.index("setgroups")].args == ((10,),)
    assert run.calls[names.index("setresuid")].args == (1000, 1000, 1000)
    assert names.index("setresuid") < run.first("prctl", sc.PR_SET_KEEPCAPS, 0) < names.index("capset")
    wanted = caps.mask({caps.NUMBERS["CAP_CHOWN"], caps.NUMBERS["CAP_KILL"]})
    assert run.calls[names.index("capset")].args == (wanted, wanted, 0)
    assert names.index("capset") < run.first("prctl", sc.PR_CAP_AMBIENT, sc.PR_CAP_AMBIENT_CLEAR_ALL)
    dropped = {c.args[1] for c in run.calls if c.name == "prctl" and c.args[0] == sc.PR_CAPBSET_DROP}
    assert dropped == set(range(caps.last_cap() + 1)) - {caps.NUMBERS["CAP_CHOWN"], caps.NUMBERS["CAP_KILL"]}


def test_cwd_checked_after_chdir_and_user_switch(run: Run) -> None:
    assert run.last("setresuid") < run.first("chdir", "/work") < run.first("execve")
    assert (run.rootfs / "work").is_dir(), "a missing cwd is made inside the root"


def test_the_init_reports_ready_before_it_waits(run: Run) -> None:
    assert [m["kind"] for m in run.messages] == ["ready"]


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


# -- the steps' own rules, through the fake ----------------------------------------------------------
def test_an_rlimit_above_the_hosts_hard_limit_is_lowered_with_a_warning() -> None:
    """MACHINE.md: the hard nofile limit here is 20000; asking for more must not fail the start."""
    kernel = RecordingSyscalls()
    kernel.rlimits[NOFILE] = (1024, 20000)
    warnings: list[str] = []
    process.set_rlimits([{"type": "RLIMIT_NOFILE", "soft": 1048576, "hard": 1048576}], warnings, kernel)
    assert kernel.last("setrlimit").args == (NOFILE, 20000, 20000)
    assert warnings == ["RLIMIT_NOFILE hard 1048576 lowered to the host's hard limit 20000"]


def test_a_refused_rlimit_names_the_limit() -> None:
    kernel = RecordingSyscalls().fail_on("setrlimit", 1)
    with pytest.raises(InvalidInput, match="cannot set RLIMIT_NOFILE to soft 10, hard 20") as caught:
        process.set_rlimits([{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 20}], [], kernel)
    assert caught.value.field == "process.rlimits"


def test_setgroups_denied_in_a_user_namespace_is_ignored_as_runc_does() -> None:
    kernel = RecordingSyscalls().fail_on("setgroups", 1)
    sets = {name: set() for name in caps.SETS}
    process.switch_user({"uid": 5, "gid": 5}, sets, kernel)
    assert kernel.last("setresuid").args == (5, 5, 5)


def test_a_missing_cwd_is_an_input_error() -> None:
    kernel = RecordingSyscalls().fail_on("chdir", 2)
    with pytest.raises(InvalidInput, match="cannot enter working directory /nope") as caught:
        process.enter_cwd("/nope", kernel)
    assert caught.value.field == "process.cwd"
