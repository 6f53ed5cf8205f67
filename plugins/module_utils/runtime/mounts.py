"""The container's mount namespace: root, spec mounts, /dev, pivot_root,
masked and read-only paths.

Every destination is resolved inside the root with symlinks followed *within*
the root (a symlink in an image can never make a mount land on the host).
"""

from __future__ import annotations

import errno
import os
import stat

from .. import syscalls as sc
from ..errors import InvalidInput, SystemCallError

_FLAGS = {  # option -> (set?, flag)
    "ro": (True, sc.MS_RDONLY), "rw": (False, sc.MS_RDONLY), "nosuid": (True, sc.MS_NOSUID),
    "suid": (False, sc.MS_NOSUID), "nodev": (True, sc.MS_NODEV), "dev": (False, sc.MS_NODEV),
    "noexec": (True, sc.MS_NOEXEC), "exec": (False, sc.MS_NOEXEC), "sync": (True, sc.MS_SYNCHRONOUS),
    "async": (False, sc.MS_SYNCHRONOUS), "dirsync": (True, sc.MS_DIRSYNC), "remount": (True, sc.MS_REMOUNT),
    "mand": (True, sc.MS_MANDLOCK), "nomand": (False, sc.MS_MANDLOCK), "atime": (False, sc.MS_NOATIME),
    "noatime": (True, sc.MS_NOATIME), "diratime": (False, sc.MS_NODIRATIME), "nodiratime": (True, sc.MS_NODIRATIME),
    "relatime": (True, sc.MS_RELATIME), "norelatime": (False, sc.MS_RELATIME),
    "strictatime": (True, sc.MS_STRICTATIME), "nostrictatime": (False, sc.MS_STRICTATIME),
    "bind": (True, sc.MS_BIND), "rbind": (True, sc.MS_BIND | sc.MS_REC), "nosymfollow": (True, sc.MS_NOSYMFOLLOW),
}
PROPAGATION = {"private": sc.MS_PRIVATE, "rprivate": sc.MS_PRIVATE | sc.MS_REC, "shared": sc.MS_SHARED,
               "rshared": sc.MS_SHARED | sc.MS_REC, "slave": sc.MS_SLAVE, "rslave": sc.MS_SLAVE | sc.MS_REC,
               "unbindable": sc.MS_UNBINDABLE, "runbindable": sc.MS_UNBINDABLE | sc.MS_REC}
_IGNORED = ("tmpcopyup", "copy-symlink", "notmpcopyup", "z", "Z", "U")
# statvfs f_flag bits -> mount flags a remount must keep (the kernel locks
# them inside user namespaces).
_LOCKED = ((1, sc.MS_RDONLY), (2, sc.MS_NOSUID), (4, sc.MS_NODEV), (8, sc.MS_NOEXEC), (1024, sc.MS_NOATIME),
           (2048, sc.MS_NODIRATIME), (4096, sc.MS_RELATIME))
DEFAULT_DEVICES = (("/dev/null", 1, 3), ("/dev/zero", 1, 5), ("/dev/full", 1, 7), ("/dev/random", 1, 8),
                   ("/dev/urandom", 1, 9), ("/dev/tty", 5, 0))
_DEV_LINKS = (("/proc/self/fd", "/dev/fd"), ("/proc/self/fd/0", "/dev/stdin"), ("/proc/self/fd/1", "/dev/stdout"),
              ("/proc/self/fd/2", "/dev/stderr"))


def parse_options(options: list[str]) -> tuple[int, int, str]:
    """(mount flags, propagation flags, data string) of a spec mount's options."""
    flags = propagation = 0
    data: list[str] = []
    for option in options:
        if option in _FLAGS:
            on, flag = _FLAGS[option]
            flags = flags | flag if on else flags & ~flag
        elif option in PROPAGATION:
            propagation |= PROPAGATION[option]
        elif option not in _IGNORED:
            data.append(option)
    return flags, propagation, ",".join(data)


def secure_join(root: str, path: str) -> str:
    """``root``/``path`` with every symlink resolved as if ``root`` were /."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    resolved = ""
    links = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            resolved = resolved.rsplit("/", 1)[0]
            continue
        candidate = f"{resolved}/{part}"
        try:
            target = os.readlink(root + candidate)
        except OSError:
            resolved = candidate
            continue
        links += 1
        if links > 255:
            raise InvalidInput(f"too many symlinks resolving {path}", field="mounts", hint="fix the image's symlinks")
        if target.startswith("/"):
            resolved = ""
        parts = [p for p in target.split("/") if p not in ("", ".")] + parts
    return root + resolved if resolved else root


def kept_flags(path: str) -> int:
    """The flags of the mount at ``path`` a bind remount must repeat."""
    bits = os.statvfs(path).f_flag
    return sum(flag for bit, flag in _LOCKED if bits & bit)


def prepare_root(rootfs: str, propagation: str | None, root_mounts: list[dict], calls: sc.Syscalls) -> None:
    """Stop mount events leaking to the host, then make ``rootfs`` a mount
    point: the engine's overlay (a mount with destination /) or a self bind."""
    calls.mount(None, "/", None, sc.MS_REC | PROPAGATION.get(propagation or "rslave", sc.MS_SLAVE | sc.MS_REC))
    if propagation in ("shared", "rshared"):
        # pivot_root refuses a shared new root or parent (as runc, make the parent private first, so the
        # root mounted below it is private too); binds keep their own shared propagation.
        from ..mountinfo import holding  # rare (shared binds); kept off the runtime's lean import path

        parent = holding(os.path.dirname(rootfs))
        calls.mount(None, parent.mount_point if parent else "/", None, sc.MS_PRIVATE)
    for mount in root_mounts:
        flags, _prop, data = parse_options(mount.get("options") or [])
        calls.mount(mount.get("source") or mount["type"], rootfs, mount["type"], flags, data or None)
    if not root_mounts:
        calls.mount(rootfs, rootfs, None, sc.MS_BIND | sc.MS_REC)


def mount_entry(rootfs: str, bundle: str, mount: dict, calls: sc.Syscalls, cgroup_mount: object) -> None:
    kind = mount.get("type") or ""
    options = mount.get("options") or []
    flags, propagation, data = parse_options(options)
    target = secure_join(rootfs, mount["destination"])
    source = mount.get("source") or kind
    is_bind = bool(flags & sc.MS_BIND) or kind == "bind"
    if is_bind:
        source = source if source.startswith("/") else os.path.join(bundle, source)
        if not os.path.exists(source):
            raise InvalidInput(f"bind source {source} does not exist", field=f"mounts ({mount['destination']})",
                               hint="create it on the host first, or fix the source path")
        _make_target(target, directory=os.path.isdir(source))
        calls.mount(source, target, None, sc.MS_BIND | (flags & sc.MS_REC))
        extra = flags & ~(sc.MS_BIND | sc.MS_REC | sc.MS_REMOUNT)
        if extra:
            calls.mount(None, target, None, sc.MS_BIND | sc.MS_REMOUNT | extra | kept_flags(target))
    elif kind == "cgroup":
        _make_target(target, directory=True)
        cgroup_mount(target, flags, calls)  # type: ignore[operator]
    else:
        _make_target(target, directory=True)
        try:
            calls.mount(source, target, kind, flags, data or None)
        except SystemCallError as err:
            if kind != "sysfs" or err.errno != errno.EPERM:
                raise
            # sysfs in a user namespace without its own network namespace: use the host's, read-only.
            calls.mount("/sys", target, None, sc.MS_BIND | sc.MS_REC)
            calls.mount(None, target, None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | kept_flags(target))
    if propagation:
        calls.mount(None, target, None, propagation)


def _make_target(target: str, directory: bool) -> None:
    if directory:
        os.makedirs(target, exist_ok=True)
    elif not os.path.exists(target):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.close(os.open(target, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))


def create_devices(rootfs: str, devices: list[dict], bind_only: bool, calls: sc.Syscalls) -> None:
    """The default devices plus the spec's, by mknod (bind from the host
    where mknod is not allowed, as in a user namespace)."""
    wanted = {path: {"path": path, "type": "c", "major": major, "minor": minor, "fileMode": 0o666}
              for path, major, minor in DEFAULT_DEVICES}
    wanted.update({d["path"]: d for d in devices})
    old_umask = os.umask(0)
    try:
        for device in wanted.values():
            _create_device(rootfs, device, bind_only, calls)
    finally:
        os.umask(old_umask)


def _create_device(rootfs: str, device: dict, bind_only: bool, calls: sc.Syscalls) -> None:
    target = secure_join(rootfs, device["path"])
    os.makedirs(os.path.dirname(target), exist_ok=True)
    kind = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}.get(device.get("type", "c"))
    if kind is None:
        raise InvalidInput(f"unknown device type {device.get('type')!r}", field=f"linux.devices ({device['path']})",
                           hint="use c, b, u or p")
    mode = device.get("fileMode", 0o666) & 0o7777
    if not bind_only:
        try:
            if os.path.lexists(target):
                os.unlink(target)
            calls.mknod(target, kind | mode, os.makedev(device.get("major", 0), device.get("minor", 0)))
            os.chown(target, device.get("uid", 0), device.get("gid", 0))
            return
        except (OSError, SystemCallError) as err:
            if err.errno != errno.EPERM:
                raise
    _make_target(target, directory=False)
    calls.mount(device["path"], target, None, sc.MS_BIND)


def dev_symlinks(rootfs: str, with_pts: bool) -> None:
    links = list(_DEV_LINKS)
    if os.path.exists("/proc/kcore"):
        links.append(("/proc/kcore", "/dev/core"))
    for source, link in links:
        target = rootfs + link
        if os.path.isdir(os.path.dirname(target)) and not os.path.lexists(target):
            os.symlink(source, target)
    if with_pts:
        ptmx = rootfs + "/dev/ptmx"
        if os.path.lexists(ptmx):
            os.unlink(ptmx)
        os.symlink("pts/ptmx", ptmx)


def pivot(rootfs: str, calls: sc.Syscalls) -> None:
    """pivot_root(".", ".") as runc does: no put_old directory needed, and the
    old root is detached right away."""
    old_root = os.open("/", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    new_root = os.open(rootfs, os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fchdir(new_root)
        calls.pivot_root(".", ".")
        os.fchdir(old_root)
        calls.mount(None, ".", None, sc.MS_SLAVE | sc.MS_REC)
        calls.umount2(".", sc.MNT_DETACH)
        os.chdir("/")
    finally:
        os.close(old_root)
        os.close(new_root)


def mask_paths(paths: list[str], calls: sc.Syscalls) -> None:
    for path in paths:
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                calls.mount("tmpfs", path, "tmpfs", sc.MS_RDONLY)
            elif os.path.lexists(path):
                calls.mount("/dev/null", path, None, sc.MS_BIND)
        except SystemCallError as err:
            if err.errno not in (errno.ENOENT, errno.EACCES):
                raise


def readonly_paths(paths: list[str], calls: sc.Syscalls) -> None:
    for path in paths:
        if not os.path.exists(path):
            continue
        calls.mount(path, path, None, sc.MS_BIND | sc.MS_REC)
        extra = sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC if path.startswith("/proc/") else 0
        calls.mount(None, path, None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | extra | kept_flags(path))


def readonly_root(calls: sc.Syscalls) -> None:
    calls.mount(None, "/", None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | kept_flags("/"))
