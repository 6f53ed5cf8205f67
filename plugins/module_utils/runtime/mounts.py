"""The container's mount namespace: root, spec mounts, pivot_root, masked and
read-only paths.

Before pivot_root the root is a directory of the host that its image's author
shaped, so nothing inside it is named by a path string: every target is
opened from the root's descriptor with saferoot (openat2 RESOLVE_IN_ROOT,
symlinks followed *within* the root), created through the descriptor of its
parent when missing, and mounted on as ``/proc/self/fd/N``. The kernel never
walks the image's path a second time, so a symlink swapped in meanwhile
cannot move a mount onto the host (CVE-2021-30465, CVE-2024-45310). Where a
target really lands is then checked before anything is mounted on it: over
``/``, ``/proc``, ``/sys`` and ``/dev`` only the runtime's own kinds of mount
are accepted, and under ``/proc`` only the files lxcfs emulates (runc's
``checkProcMount``, extended to the other three).

After pivot_root the root is ``/`` and paths cannot leave it.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import stat

from .. import saferoot
from .. import syscalls as sc
from ..errors import InvalidInput, InvalidState, SystemCallError
from ..mountopts import PROPAGATION, parse_options

# statvfs f_flag bits -> mount flags a remount must keep (the kernel locks
# them inside user namespaces).
_LOCKED = ((1, sc.MS_RDONLY), (2, sc.MS_NOSUID), (4, sc.MS_NODEV), (8, sc.MS_NOEXEC), (1024, sc.MS_NOATIME),
           (2048, sc.MS_NODIRATIME), (4096, sc.MS_RELATIME))
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
# Under /proc only what lxcfs emulates may be mounted over (runc's list).
LXCFS_PROC_FILES = ("/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat", "/proc/swaps",
                    "/proc/uptime", "/proc/loadavg", "/proc/slabinfo", "/proc/net/dev",
                    "/proc/sys/kernel/ns_last_pid", "/proc/sys/crypto/fips_enabled")
# statfs f_type of the filesystems the runtime itself puts on /proc, /sys, /dev
_PROC_MAGIC, _SYSFS_MAGIC, _TMPFS_MAGIC, _RAMFS_MAGIC = 0x9FA0, 0x62656572, 0x01021994, 0x858458F6
# destination -> (mount types, filesystems a bind over it may come from: devtmpfs is tmpfs or ramfs)
_OWN_KINDS = {"/proc": (("proc",), (_PROC_MAGIC,)), "/sys": (("sysfs",), (_SYSFS_MAGIC,)),
              "/dev": (("tmpfs", "devtmpfs"), (_TMPFS_MAGIC, _RAMFS_MAGIC))}


def kept_flags(path: str | int) -> int:
    """The flags of the mount at ``path`` (or descriptor) a bind remount must repeat."""
    bits = os.statvfs(path).f_flag
    return sum(flag for bit, flag in _LOCKED if bits & bit)


def make_dir_in_root(root_fd: int, rel: str, hops: int = 0) -> int:
    """A descriptor of the directory ``rel`` inside the root, created where
    missing. Unlike saferoot.make_dirs, a dangling symlink on the way is
    followed (within the root) and its target created, as runc does: an
    image's ``/var/run -> /run`` still gets its mount."""
    with contextlib.suppress(FileNotFoundError):
        return saferoot.open_in_root(root_fd, rel, _DIR)
    parent, name = saferoot.split_parent(rel)
    if not name:
        raise FileNotFoundError(errno.ENOENT, "the container's root directory is gone", rel)
    parent_fd = make_dir_in_root(root_fd, parent, hops)
    try:
        if name == "..":  # the parent exists now, so ``rel`` resolves
            return saferoot.open_in_root(root_fd, rel, _DIR)
        with contextlib.suppress(FileExistsError):
            os.mkdir(name, 0o755, dir_fd=parent_fd)
        try:
            return os.open(name, _DIR | os.O_NOFOLLOW, dir_fd=parent_fd)
        except OSError as err:
            if err.errno not in (errno.ELOOP, errno.ENOTDIR) or hops >= saferoot.MAX_SYMLINK_HOPS:
                raise
            if not stat.S_ISLNK(os.stat(name, dir_fd=parent_fd, follow_symlinks=False).st_mode):
                raise
            link = os.readlink(name, dir_fd=parent_fd)
    finally:
        os.close(parent_fd)
    return make_dir_in_root(root_fd, link if link.startswith("/") else f"{parent}/{link}", hops + 1)


def open_target(root_fd: int, destination: str, directory: bool) -> int:
    """A descriptor of the mount target inside the root; a missing one is
    created (a directory, or an empty file to bind a file on)."""
    try:
        return saferoot.open_in_root(root_fd, destination, os.O_PATH)
    except FileNotFoundError:
        pass
    if directory:
        return make_dir_in_root(root_fd, destination)
    parent, _name = saferoot.split_parent(destination)
    os.close(make_dir_in_root(root_fd, parent))
    # O_CREAT through the root: a dangling symlink is created where it points, inside the root
    return saferoot.open_in_root(root_fd, destination, os.O_RDONLY | os.O_CREAT | os.O_NONBLOCK, 0o644)


def where(fd: int, rootfs: str) -> str:
    """The absolute path inside the container of a descriptor opened in the root."""
    path = os.readlink(saferoot.fd_path(fd))
    if path == rootfs:
        return "/"
    if not path.startswith(rootfs + "/"):
        raise InvalidState(f"{path} is outside the container's root {rootfs}", hint="report this: it is a bug")
    return path[len(rootfs):]


def check_destination(resolved: str, mount: dict, field: str) -> None:
    """Refuse a mount that would replace the root, /proc, /sys or /dev with
    something that is not what the runtime puts there, or that lands inside
    /proc (except lxcfs's files). ``resolved`` is where the target really is."""
    destination = mount["destination"]
    shown = destination if resolved == destination else f"{destination} (resolves to {resolved})"
    if resolved == "/":
        raise InvalidInput(f"cannot mount over the container's root: {shown}", field=field,
                           hint="the root is given by root.path or a single mount on /")
    if resolved.startswith("/proc/") and resolved not in LXCFS_PROC_FILES:
        raise InvalidInput(f"cannot mount inside /proc: {shown}", field=field,
                           hint="only lxcfs's files (" + ", ".join(LXCFS_PROC_FILES) + ") may be mounted there")
    if resolved not in _OWN_KINDS:
        return
    types, magics = _OWN_KINDS[resolved]
    kind = mount.get("type") or ""
    if kind in types and not _is_bind(mount):
        return
    if _is_bind(mount) and _fs_type(mount.get("source") or "") in magics:
        return
    raise InvalidInput(f"cannot mount {kind or 'bind'} {mount.get('source') or ''} over {shown}", field=field,
                       hint=f"{resolved} takes only a {' or '.join(types)} mount (or a bind of one)")


def _is_bind(mount: dict) -> bool:
    return mount.get("type") == "bind" or bool(parse_options(mount.get("options") or [])[0] & sc.MS_BIND)


class _Statfs(ctypes.Structure):
    _fields_ = [("f_type", ctypes.c_long), ("rest", ctypes.c_byte * 112)]


def _fs_type(path: str) -> int | None:
    """statfs(2)'s f_type (os.statvfs does not report it)."""
    buf = _Statfs()
    libc = ctypes.CDLL(None, use_errno=True)
    return None if libc.statfs(os.fsencode(path), ctypes.byref(buf)) != 0 else int(buf.f_type)


def check_root_mounts(root_mounts: list[dict]) -> None:
    if len(root_mounts) > 1:
        raise InvalidInput(f"{len(root_mounts)} mounts on /: the root can be mounted only once",
                           field="mounts", hint="keep one mount with destination / (the root filesystem)")


def prepare_root(rootfs: str, propagation: str | None, root_mounts: list[dict], calls: sc.Syscalls) -> int:
    """Stop mount events leaking to the host, make ``rootfs`` a mount point
    (the engine's overlay -- a mount with destination / -- or a self bind) and
    return a descriptor of the new root."""
    check_root_mounts(root_mounts)
    calls.mount(None, "/", None, sc.MS_REC | PROPAGATION.get(propagation or "rslave", sc.MS_SLAVE | sc.MS_REC))
    if propagation in ("shared", "rshared"):
        # pivot_root refuses a shared new root or parent (as runc, make the parent private first, so the
        # root mounted below it is private too); binds keep their own shared propagation.
        from ..mountinfo import holding  # rare (shared binds); kept off the runtime's lean import path

        parent = holding(os.path.dirname(rootfs))
        calls.mount(None, parent.mount_point if parent else "/", None, sc.MS_PRIVATE)
    under = saferoot.open_root(rootfs)
    try:
        target = saferoot.fd_path(under)
        for mount in root_mounts:
            flags, _prop, data = parse_options(mount.get("options") or [])
            calls.mount(mount.get("source") or mount["type"], target, mount["type"], flags, data or None)
        if not root_mounts:
            calls.mount(target, target, None, sc.MS_BIND | sc.MS_REC)
    finally:
        os.close(under)
    return saferoot.open_root(rootfs)  # the mount's root now, not the directory beneath it


def mount_entry(root_fd: int, rootfs: str, bundle: str, mount: dict, calls: sc.Syscalls, cgroup_mount: object,
                field: str) -> None:
    """One spec mount, its target opened in the root and checked first."""
    kind = mount.get("type") or ""
    flags, propagation, data = parse_options(mount.get("options") or [])
    source = mount.get("source") or kind
    is_bind = bool(flags & sc.MS_BIND) or kind == "bind"
    if is_bind:
        source = source if source.startswith("/") else os.path.join(bundle, source)
        if not os.path.exists(source):
            raise InvalidInput(f"bind source {source} does not exist", field=field,
                               hint="create it on the host first, or fix the source path")
    fd = open_target(root_fd, mount["destination"], directory=not is_bind or os.path.isdir(source))
    try:
        resolved = where(fd, rootfs)
        check_destination(resolved, {**mount, "source": source}, field)
        _mount_on(fd, kind, source, flags, data, is_bind, calls, cgroup_mount,
                  lambda: saferoot.open_in_root(root_fd, resolved, os.O_PATH, follow_last=False))
    finally:
        os.close(fd)
    if propagation:
        _on_fresh(lambda: saferoot.open_in_root(root_fd, resolved, os.O_PATH, follow_last=False),
                  lambda target: calls.mount(None, target, None, propagation))


def _mount_on(fd: int, kind: str, source: str, flags: int, data: str, is_bind: bool, calls: sc.Syscalls,
              cgroup_mount: object, reopen: object) -> None:
    """Mount on the target ``fd``; ``reopen`` opens the target afresh (the
    mount's root, for remounts: ``fd`` still names the directory beneath)."""
    target = saferoot.fd_path(fd)
    if is_bind:
        calls.mount(source, target, None, sc.MS_BIND | (flags & sc.MS_REC))
        extra = flags & ~(sc.MS_BIND | sc.MS_REC | sc.MS_REMOUNT)
        if extra:
            _on_fresh(reopen, lambda fresh: calls.mount(None, fresh, None,
                                                        sc.MS_BIND | sc.MS_REMOUNT | extra | kept_flags(fresh)))
    elif kind == "cgroup":
        cgroup_mount(target, flags, calls, reopen)  # type: ignore[operator]
    else:
        try:
            calls.mount(source, target, kind, flags, data or None)
        except SystemCallError as err:
            if kind != "sysfs" or err.errno != errno.EPERM:
                raise
            # sysfs in a user namespace without its own network namespace: use the host's, read-only.
            calls.mount("/sys", target, None, sc.MS_BIND | sc.MS_REC)
            _on_fresh(reopen, lambda fresh: calls.mount(None, fresh, None, sc.MS_BIND | sc.MS_REMOUNT
                                                        | sc.MS_RDONLY | kept_flags(fresh)))


def _on_fresh(reopen: object, action: object) -> None:
    fd = reopen()  # type: ignore[operator]
    try:
        action(saferoot.fd_path(fd))  # type: ignore[operator]
    finally:
        os.close(fd)


def pivot(root_fd: int, calls: sc.Syscalls) -> None:
    """pivot_root(".", ".") as runc does: no put_old directory needed, and the
    old root is detached right away."""
    old_root = os.open("/", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    try:
        calls.fchdir(root_fd)
        calls.pivot_root(".", ".")
        calls.fchdir(old_root)
        calls.mount(None, ".", None, sc.MS_SLAVE | sc.MS_REC)
        calls.umount2(".", sc.MNT_DETACH)
        calls.chdir("/")
    finally:
        os.close(old_root)


def mask_paths(paths: list[str], calls: sc.Syscalls) -> None:
    """Hide each path: a read-only tmpfs over a directory, /dev/null over
    anything else (after pivot_root: these paths are the container's)."""
    null_checked = False
    for path in paths:
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                calls.mount("tmpfs", path, "tmpfs", sc.MS_RDONLY)
            elif os.path.lexists(path):
                if not null_checked:
                    _check_null()
                    null_checked = True
                calls.mount("/dev/null", path, None, sc.MS_BIND)
        except SystemCallError as err:
            if err.errno not in (errno.ENOENT, errno.EACCES):
                raise


def _check_null() -> None:
    """The /dev/null a masked file is covered with must be the null device:
    an image's own /dev (no tmpfs there) could make it a symlink or a file
    (runc CVE-2025-31133)."""
    try:
        info = os.stat("/dev/null", follow_symlinks=False)
    except FileNotFoundError:
        info = None
    if info is None or not stat.S_ISCHR(info.st_mode) or info.st_rdev != os.makedev(1, 3):
        raise InvalidState("the container's /dev/null is not the null device: cannot mask paths with it",
                           field="linux.maskedPaths", hint="mount a tmpfs on /dev (the default) or fix the image")


def readonly_paths(paths: list[str], calls: sc.Syscalls) -> None:
    for path in paths:
        if not os.path.exists(path):
            continue
        calls.mount(path, path, None, sc.MS_BIND | sc.MS_REC)
        extra = sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC if path.startswith("/proc/") else 0
        calls.mount(None, path, None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | extra | kept_flags(path))


def readonly_root(calls: sc.Syscalls) -> None:
    calls.mount(None, "/", None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | kept_flags("/"))
