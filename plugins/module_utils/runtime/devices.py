"""The container's /dev: device nodes and the links runc makes (fd, stdin,
stdout, stderr, core, ptmx).

Made before pivot_root, in a root the image's author shaped: an image whose
/dev is a symlink (``/dev -> /tmp/x``, ``/dev -> /``) must get its nodes and
links inside its own root, never in a host directory. So nothing here names a
path: /dev (wherever it resolves within the root) is opened from the root's
descriptor, and every node and link is made relative to that descriptor
(``mknodat`` through ``/proc/self/fd/N``, ``symlinkat``, ``unlinkat``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat

from .. import saferoot
from .. import syscalls as sc
from ..errors import InvalidInput, SystemCallError
from .mounts import make_dir_in_root

DEFAULT_DEVICES = (("/dev/null", 1, 3), ("/dev/zero", 1, 5), ("/dev/full", 1, 7), ("/dev/random", 1, 8),
                   ("/dev/urandom", 1, 9), ("/dev/tty", 5, 0))
_LINKS = (("/proc/self/fd", "fd"), ("/proc/self/fd/0", "stdin"), ("/proc/self/fd/1", "stdout"),
          ("/proc/self/fd/2", "stderr"))
_KINDS = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}


def create_devices(root_fd: int, devices: list[dict], bind_only: bool, calls: sc.Syscalls) -> None:
    """The default devices plus the spec's, by mknod (bind from the host
    where mknod is not allowed, as in a user namespace)."""
    wanted = {path: {"path": path, "type": "c", "major": major, "minor": minor, "fileMode": 0o666}
              for path, major, minor in DEFAULT_DEVICES}
    wanted.update({d["path"]: d for d in devices})
    old_umask = os.umask(0)
    try:
        for device in wanted.values():
            _create_device(root_fd, device, bind_only, calls)
    finally:
        os.umask(old_umask)


def _create_device(root_fd: int, device: dict, bind_only: bool, calls: sc.Syscalls) -> None:
    field = f"linux.devices ({device['path']})"
    kind = _KINDS.get(device.get("type", "c"))
    if kind is None:
        raise InvalidInput(f"unknown device type {device.get('type')!r}", field=field, hint="use c, b, u or p")
    parent, name = saferoot.split_parent(device["path"])
    if not name or name == "..":
        raise InvalidInput(f"device path {device['path']!r} names no file", field=field,
                           hint="give the device's full path, e.g. /dev/fuse")
    dir_fd = make_dir_in_root(root_fd, parent)
    try:
        if not bind_only and _mknod(dir_fd, name, device, kind, calls):
            return
        _bind_device(dir_fd, name, device["path"], calls)
    finally:
        os.close(dir_fd)


def _mknod(dir_fd: int, name: str, device: dict, kind: int, calls: sc.Syscalls) -> bool:
    """mknod in the directory ``dir_fd``; False where the kernel says EPERM."""
    mode = device.get("fileMode", 0o666) & 0o7777
    try:
        _remove_entry(dir_fd, name)
        calls.mknod(f"{saferoot.fd_path(dir_fd)}/{name}", kind | mode,
                    os.makedev(device.get("major", 0), device.get("minor", 0)))
        os.chown(name, device.get("uid", 0), device.get("gid", 0), dir_fd=dir_fd, follow_symlinks=False)
        return True
    except (OSError, SystemCallError) as err:
        if err.errno != errno.EPERM:
            raise
        return False


def _bind_device(dir_fd: int, name: str, host_path: str, calls: sc.Syscalls) -> None:
    """Bind the host's node onto an empty file made in ``dir_fd`` (never onto
    whatever the image had there: that could be a symlink out of the root)."""
    _remove_entry(dir_fd, name)
    fd = os.open(name, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=dir_fd)
    try:
        calls.mount(host_path, saferoot.fd_path(fd), None, sc.MS_BIND)
    finally:
        os.close(fd)


def _remove_entry(dir_fd: int, name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(name, dir_fd=dir_fd)


def dev_symlinks(root_fd: int) -> None:
    """/dev/fd, stdin, stdout, stderr (and core where the host has
    /proc/kcore) unless the image has them; ptmx -> pts/ptmx when /dev/pts is
    a mount of its own (a devpts instance)."""
    try:
        dev = saferoot.open_in_root(root_fd, "dev", os.O_RDONLY | os.O_DIRECTORY)
    except (FileNotFoundError, NotADirectoryError):
        return
    try:
        links = list(_LINKS)
        if os.path.exists("/proc/kcore"):
            links.append(("/proc/kcore", "core"))
        for source, name in links:
            with contextlib.suppress(FileExistsError):
                os.symlink(source, name, dir_fd=dev)
        if _pts_mounted(dev):
            _remove_entry(dev, "ptmx")
            os.symlink("pts/ptmx", "ptmx", dir_fd=dev)
    finally:
        os.close(dev)


def _pts_mounted(dev: int) -> bool:
    try:
        pts = os.stat("pts", dir_fd=dev, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return stat.S_ISDIR(pts.st_mode) and pts.st_dev != os.fstat(dev).st_dev
