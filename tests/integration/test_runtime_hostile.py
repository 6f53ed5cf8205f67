"""berth-runtime against a hostile root filesystem and config, the way runc
defends: the host interpreter out of reach through /proc/self/exe
(CVE-2019-5736), a non-dumpable init, /dev made inside the root, mount
targets that cannot be steered onto the host or over /proc, /sys, /dev and
/ (CVE-2021-30465, CVE-2024-45310), a cwd that must be inside the root and
no leaked descriptors (CVE-2024-21626), and a create that can be killed at
any point and run again. Each test checks the host afterwards."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.hostile import Canary
from tests.support.runtime import (
    berth,
    berth_detached,
    container_leaks,
    make_rootfs,
    mounts_under,
    runc_spec,
    wait_for,
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    return make_rootfs(tmp_path)


def _interpreters() -> dict[str, str]:
    """sha256 of every interpreter a container could reach through the runtime."""
    paths = {os.path.realpath(sys.executable), os.path.realpath(shutil.which("python3") or sys.executable)}
    return {path: hashlib.sha256(Path(path).read_bytes()).hexdigest() for path in paths}


def _run(tmp_path: Path, bundle: Path, cid: str) -> subprocess.CompletedProcess[str]:
    result = berth(tmp_path / "root", "run", "--bundle", str(bundle), cid)
    assert not container_leaks(cid, tmp_path / "root")
    assert not mounts_under(tmp_path)
    return result


# -- 1. /proc/self/exe and a non-dumpable init ---------------------------------------------------

def _write_script(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


@pytest.mark.parametrize("entrypoint", ["script", "direct"])
def test_proc_self_exe_never_reaches_the_host_interpreter(tmp_path: Path, rootfs: Path, entrypoint: str) -> None:
    """A command whose interpreter is /proc/self/exe would be the host's
    python3 inside the container; it must be refused, and the script's
    attempts to open the runtime's executables for writing must never run."""
    _write_script(rootfs / "evil", "#!/proc/self/exe\n"
                  "exec 3>>/proc/self/exe && echo OPENED-SELF\n"
                  "for p in /proc/[0-9]*; do (exec 3>>$p/exe) 2>/dev/null && echo OPENED-$p; done\n")
    args = ["/evil"] if entrypoint == "script" else ["/proc/self/exe", "-c", "print('HOST PYTHON RAN')"]
    before = _interpreters()
    bundle = tmp_path / "bundle"
    runc_spec(bundle, rootfs, args)
    result = _run(tmp_path, bundle, f"berth-rt-exe-{entrypoint}")
    assert result.returncode == 126, (result.returncode, result.stdout, result.stderr)
    assert "refused" in result.stderr and "/proc/self/exe" in result.stderr, result.stderr
    assert "OPENED" not in result.stdout and "HOST PYTHON" not in result.stdout
    assert _interpreters() == before


def test_exec_of_a_proc_self_exe_script_is_refused(tmp_path: Path, rootfs: Path) -> None:
    """The same through `exec`, whose process is also the runtime's fork until it execs."""
    _write_script(rootfs / "evil", "#!/proc/self/exe\necho RAN\n")
    root, cid = tmp_path / "root", "berth-rt-exe-exec"
    bundle = tmp_path / "bundle"
    runc_spec(bundle, rootfs, ["sleep", "30"])
    before = _interpreters()
    assert berth_detached(root, "run", "--detach", "--bundle", str(bundle), cid,
                          logs=tmp_path / "logs").returncode == 0
    try:
        result = berth(root, "exec", cid, "/evil")
    finally:
        berth(root, "delete", "--force", cid)
    assert result.returncode == 126 and "refused" in result.stderr and "RAN" not in result.stdout, result
    assert _interpreters() == before
    assert not container_leaks(cid, root)


def test_runtime_exe_cannot_be_opened_for_writing(tmp_path: Path, rootfs: Path) -> None:
    """Without a pid namespace the container sees the runtime (its
    subreaper parent, a host python3): its exe must not open for writing."""
    _write_script(rootfs / "probe", "#!/bin/sh\n"
                  "(exec 3>>/proc/$PPID/exe) 2>/dev/null && echo OPENED-WRITE || echo refused-write\n"
                  "(exec 3</proc/$PPID/exe) 2>/dev/null && echo OPENED-READ || echo refused-read\n")
    before = _interpreters()
    bundle = tmp_path / "bundle"
    config = runc_spec(bundle, rootfs, ["/probe"])
    config["linux"]["namespaces"] = [n for n in config["linux"]["namespaces"] if n["type"] != "pid"]
    (bundle / "config.json").write_text(json.dumps(config))
    result = _run(tmp_path, bundle, "berth-rt-exe-parent")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["refused-write", "refused-read"], result.stdout
    assert _interpreters() == before


def _as(uid: int, *command: str) -> subprocess.CompletedProcess[str]:
    """``command`` as ``uid`` with no capabilities at all (a container process, in effect)."""
    return subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
                           "--bounding-set=-all", *command], capture_output=True, text=True, timeout=30, check=False)


@pytest.mark.parametrize("uid", [0, 65534])
def test_init_is_not_dumpable_until_it_execs(tmp_path: Path, rootfs: Path, uid: int) -> None:
    """A created container's init (still the runtime's python3, already the
    container's user without capabilities) is closed to a process of that
    same user; after its execve it is an ordinary process of that user."""
    root, cid = tmp_path / "root", f"berth-rt-dumpable-{uid}"
    bundle = tmp_path / "bundle"
    runc_spec(bundle, rootfs, ["sleep", "30"], **{"process.user": {"uid": uid, "gid": uid},
                                                  "process.capabilities": {}})
    created = berth_detached(root, "create", "--bundle", str(bundle), cid, logs=tmp_path / "logs")
    assert created.returncode == 0, created.stderr
    try:
        pid = json.loads(berth(root, "state", cid).stdout)["pid"]
        closed = _as(uid, "cat", f"/proc/{pid}/environ")
        assert closed.returncode != 0 and "Permission denied" in closed.stderr, closed
        assert berth(root, "start", cid).returncode == 0
        assert wait_for(lambda: os.path.realpath(f"/proc/{pid}/exe").endswith("busybox"))
        opened = _as(uid, "cat", f"/proc/{pid}/environ")
        assert opened.returncode == 0, opened.stderr  # the same check passes once it is the command
    finally:
        berth(root, "delete", "--force", cid)
    assert not container_leaks(cid, root)


# -- 2. /dev inside the root ---------------------------------------------------------------------

@pytest.mark.parametrize("dev_mount", [True, False], ids=["dev-tmpfs", "no-dev-mount"])
def test_dev_symlink_to_a_host_directory(tmp_path: Path, rootfs: Path, dev_mount: bool) -> None:
    """/dev -> <host dir>: nodes and links land in the root's own copy of
    that path, never in the host directory."""
    canary = Canary.plant(tmp_path / "hostdir")
    shutil.rmtree(rootfs / "dev", ignore_errors=True)
    (rootfs / "dev").symlink_to(canary.directory)
    bundle = tmp_path / "bundle"
    config = runc_spec(bundle, rootfs, ["sh", "-c", "ls /dev; test -c /dev/null && echo NULL-OK"])
    if not dev_mount:
        config["mounts"] = [m for m in config["mounts"] if not m["destination"].startswith("/dev")]
        (bundle / "config.json").write_text(json.dumps(config))
    result = _run(tmp_path, bundle, f"berth-rt-devlink-{int(dev_mount)}")
    assert result.returncode == 0, result.stderr
    assert "NULL-OK" in result.stdout and "stdin" in result.stdout.split()
    assert canary.intact(), sorted(p.name for p in canary.directory.iterdir())
    inside = rootfs / str(canary.directory).lstrip("/")
    assert (inside / "null").exists() or dev_mount  # without a tmpfs the nodes stay in the image's copy


def test_dev_symlink_to_the_host_root(tmp_path: Path, rootfs: Path) -> None:
    """/dev -> /: the /dev tmpfs would cover the container's root; refused,
    and nothing is made in the host's /."""
    before = sorted(os.listdir("/"))
    shutil.rmtree(rootfs / "dev", ignore_errors=True)
    (rootfs / "dev").symlink_to("/")
    bundle = tmp_path / "bundle"
    runc_spec(bundle, rootfs, ["true"])
    result = _run(tmp_path, bundle, "berth-rt-devroot")
    assert result.returncode != 0
    assert "mounts[1]" in result.stderr and "root" in result.stderr, result.stderr
    assert sorted(os.listdir("/")) == before


# -- 3. mount targets ----------------------------------------------------------------------------

def _bind(source: Path, destination: str) -> dict:
    return {"destination": destination, "type": "bind", "source": str(source), "options": ["rbind"]}


REFUSED = {
    "tmpfs-over-proc": ({"destination": "/proc", "type": "tmpfs", "source": "tmpfs"}, "/proc"),
    "bind-over-sys": ("bind:/sys", "/sys"),
    "bind-over-dev": ("bind:/dev", "/dev"),
    "bind-inside-proc": ("bind:/proc/sys/kernel/core_pattern", "inside /proc"),
    "symlink-to-proc": ("bind:/to-proc", "/proc"),
    "symlink-into-proc": ("bind:/to-proc-sys/kernel", "inside /proc"),
    "dotdot-to-root": ({"destination": "/tmp/..", "type": "tmpfs", "source": "tmpfs"}, "root"),
    "second-root": ("bind:/", "mounted only once"),  # the spec has no / mount: this is a second
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_mounts_over_the_runtimes_own_are_refused(tmp_path: Path, rootfs: Path, case: str) -> None:
    extra, named = REFUSED[case]
    (rootfs / "to-proc").symlink_to("/proc")
    (rootfs / "to-proc-sys").symlink_to("../proc/sys")
    source = tmp_path / "src"
    source.mkdir()
    (source / "file").write_text("x")
    if isinstance(extra, str):
        destination = extra.removeprefix("bind:")
        extra = _bind(source / "file" if "core_pattern" in destination else source, destination)
    bundle = tmp_path / "bundle"
    config = runc_spec(bundle, rootfs, ["true"])
    config["mounts"].append(extra)
    if case == "second-root":
        config["mounts"].insert(0, _bind(rootfs, "/"))
    (bundle / "config.json").write_text(json.dumps(config))
    result = _run(tmp_path, bundle, f"berth-rt-refuse-{case}")
    print(result.stderr)
    assert result.returncode != 0
    assert "mounts" in result.stderr and named in result.stderr and "(" in result.stderr, result.stderr
    assert (source / "file").read_text() == "x" and sorted(os.listdir(source)) == ["file"]


def test_lxcfs_files_may_be_mounted_in_proc(tmp_path: Path, rootfs: Path) -> None:
    fake = tmp_path / "uptime"
    fake.write_text("12345.00 0.00\n")
    bundle = tmp_path / "bundle"
    config = runc_spec(bundle, rootfs, ["cat", "/proc/uptime"])
    config["mounts"].append({**_bind(fake, "/proc/uptime"), "options": ["bind", "ro"]})
    (bundle / "config.json").write_text(json.dumps(config))
    result = _run(tmp_path, bundle, "berth-rt-lxcfs")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "12345.00 0.00\n"


@pytest.mark.parametrize("link", ["absolute", "dotdot", "dangling"])
def test_bind_through_an_image_symlink_stays_in_the_root(tmp_path: Path, rootfs: Path, link: str) -> None:
    """A destination through an image symlink that names a host directory
    lands in the root's copy of that path; the host directory is untouched."""
    canary = Canary.plant(tmp_path / "victim")
    target = {"absolute": str(canary.directory), "dotdot": "../../../../../../../.." + str(canary.directory),
              "dangling": str(canary.directory) + "/not-there"}[link]
    (rootfs / "escape").symlink_to(target)
    source = tmp_path / "payload"
    source.mkdir()
    (source / "planted").write_text("payload")
    bundle = tmp_path / "bundle"
    config = runc_spec(bundle, rootfs, ["ls", "/escape"])
    config["mounts"].append(_bind(source, "/escape"))
    (bundle / "config.json").write_text(json.dumps(config))
    result = _run(tmp_path, bundle, f"berth-rt-escape-{link}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["planted"]
    assert canary.intact()


def test_magic_link_destination_is_refused(tmp_path: Path, rootfs: Path) -> None:
    """/proc/self/root in a destination would jump to the host's root:
    openat2's RESOLVE_NO_MAGICLINKS stops it."""
    (rootfs / "jump").symlink_to("/proc/self/root/tmp")
    source = tmp_path / "src"
    source.mkdir()
    bundle = tmp_path / "bundle"
    config = runc_spec(bundle, rootfs, ["true"])
    config["mounts"].append(_bind(source, "/jump/x"))
    (bundle / "config.json").write_text(json.dumps(config))
    result = _run(tmp_path, bundle, "berth-rt-magic")
    assert result.returncode != 0 and "mounts[" in result.stderr, result.stderr


# -- 3b. cwd and descriptors ---------------------------------------------------------------------

def test_cwd_through_a_leaked_descriptor_is_refused(tmp_path: Path, rootfs: Path) -> None:
    """exec with cwd /proc/self/fd/N, N a host directory the runtime's caller
    left open (runc CVE-2024-21626): getcwd after chdir says it is outside."""
    canary = Canary.plant(tmp_path / "hostdir")
    root, cid = tmp_path / "root", "berth-rt-cwd"
    bundle = tmp_path / "bundle"
    runc_spec(bundle, rootfs, ["sleep", "30"])
    assert berth_detached(root, "run", "--detach", "--bundle", str(bundle), cid,
                          logs=tmp_path / "logs").returncode == 0
    leaked = os.open(canary.directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        result = subprocess.run([sys.executable, str(Path(__file__).parents[2] / "bin" / "berth-runtime"),
                                 "--root", str(root), "exec", "--cwd", f"/proc/self/fd/{leaked}", cid,
                                 "sh", "-c", "touch planted; echo RAN"],
                                capture_output=True, text=True, timeout=60, check=False, pass_fds=(leaked,))
    finally:
        os.close(leaked)
        berth(root, "delete", "--force", cid)
    assert result.returncode != 0 and "RAN" not in result.stdout
    assert "outside the container" in result.stderr and "process.cwd" in result.stderr, result.stderr
    assert canary.intact()
    assert not container_leaks(cid, root)


def test_no_descriptor_reaches_the_container(tmp_path: Path, rootfs: Path) -> None:
    """Only stdio (and what --preserve-fds names) is open at execve; a host
    directory the caller leaked into the runtime is not."""
    canary = Canary.plant(tmp_path / "hostdir")
    bundle = tmp_path / "bundle"
    runc_spec(bundle, rootfs, ["sh", "-c", "ls /proc/self/fd; readlink /proc/self/fd/* 2>/dev/null; true"])
    leaked = os.open(canary.directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        result = subprocess.run([sys.executable, str(Path(__file__).parents[2] / "bin" / "berth-runtime"),
                                 "--root", str(tmp_path / "root"), "run", "--bundle", str(bundle), "berth-rt-fds"],
                                capture_output=True, text=True, timeout=60, check=False, pass_fds=(leaked,))
    finally:
        os.close(leaked)
    assert result.returncode == 0, result.stderr
    fds = [int(word) for word in result.stdout.split() if word.isdigit()]
    assert set(fds) <= {0, 1, 2, 3}, result.stdout  # 3: the directory ls itself reads
    assert str(canary.directory) not in result.stdout and "memfd" not in result.stdout
    assert not container_leaks("berth-rt-fds", tmp_path / "root")


# -- 5. crash safety -----------------------------------------------------------------------------

def test_create_killed_midway_then_created_again(tmp_path: Path, rootfs: Path) -> None:
    """kill -9 of the runtime inside create leaves a state dir without
    state.json (its lock now free) and an init waiting in the cgroup; a new
    create of the same id cleans both up and succeeds."""
    root, cid = tmp_path / "root", "berth-rt-crash"
    bundle = tmp_path / "bundle"
    runc_spec(bundle, rootfs, ["sleep", "30"])
    env = {**os.environ, "BERTH_CRASH_AT": "runtime.create.mid"}
    logs = tmp_path / "logs"
    logs.mkdir()
    with open(logs / "out", "w") as out:
        crashed = subprocess.run([sys.executable, str(Path(__file__).parents[2] / "bin" / "berth-runtime"),
                                  "--root", str(root), "create", "--bundle", str(bundle), cid],
                                 stdout=out, stderr=out, env=env, timeout=60, check=False)
    assert crashed.returncode == -9
    directory = root / cid
    assert directory.is_dir() and not (directory / "state.json").exists()
    pending = json.loads((directory / "creating.json").read_text())
    orphans = [int(p) for p in Path(f"/sys/fs/cgroup/pids/{pending['cgroup']}/cgroup.procs").read_text().split()
               ] if Path("/sys/fs/cgroup/pids").is_dir() else []
    assert berth(root, "state", cid).returncode != 0  # no state.json: not a container yet
    again = berth_detached(root, "create", "--bundle", str(bundle), cid, logs=tmp_path / "logs2")
    assert again.returncode == 0, again.stderr
    try:
        assert json.loads(berth(root, "state", cid).stdout)["status"] == "created"
        assert all(not os.path.exists(f"/proc/{pid}") or _zombie(pid) for pid in orphans)
    finally:
        assert berth(root, "delete", "--force", cid).returncode == 0
    assert not container_leaks(cid, root)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_delete_force_cleans_a_crashed_create_but_not_one_under_way(tmp_path: Path) -> None:
    root, cid = tmp_path / "root", "berth-rt-locked"
    directory = root / cid
    directory.mkdir(parents=True)
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as a create under way holds it
        busy = berth(root, "delete", "--force", cid)
        assert busy.returncode != 0 and "being created" in busy.stderr, busy.stderr
        assert directory.is_dir()
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
    done = berth(root, "delete", "--force", cid)
    assert done.returncode == 0, done.stderr
    assert not directory.exists()
    assert berth(root, "delete", "--force", cid).returncode == 0  # nothing left: still fine
