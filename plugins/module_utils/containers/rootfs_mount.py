"""A stopped container's root filesystem as a *detached* overlay mount.

The new mount API (fsopen/fsconfig/fsmount, Linux 5.2+; Python has no
wrapper) makes a mount that is attached nowhere: the caller gets a directory
descriptor of its root and nothing else. No mount point is created, no other
process sees it, and it goes away when the descriptor is closed, so a reader
(check mode included) leaves no trace on the host and a crash leaves no mount
behind. Writes go through the container's writable layer (``upper``), as they
would from inside the container.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import InvalidState

_SYS_FSOPEN, _SYS_FSCONFIG, _SYS_FSMOUNT = 430, 431, 432   # the same on every architecture
_FSOPEN_CLOEXEC = 0x1
_FSMOUNT_CLOEXEC = 0x1
_FSCONFIG_SET_STRING = 1
_FSCONFIG_CMD_CREATE = 6
_MOUNT_ATTR_RDONLY = 0x1

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _call(number: int, *args: object) -> int:
    result = _libc.syscall(number, *args)
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return int(result)


def _set(fs_fd: int, key: str, value: str) -> None:
    _call(_SYS_FSCONFIG, ctypes.c_int(fs_fd), ctypes.c_uint(_FSCONFIG_SET_STRING), key.encode(),
          os.fsencode(value), ctypes.c_int(0))


def overlay_options(lowerdirs: list[Path], upper: Path, work: Path, *, writable: bool) -> dict[str, list[Path]]:
    """The overlay's layers: read-only, the writable layer is the top lower
    (its whiteouts still hide what the container deleted); writable, it is the
    upper dir with its work dir, as the container's own root mount has it."""
    if not writable:
        return {"lowerdir": [upper, *lowerdirs]}
    return {"lowerdir": list(lowerdirs), "upperdir": [upper], "workdir": [work]}


def _configure(fs_fd: int, layers: dict[str, list[Path]]) -> None:
    """Name each layer by a descriptor (``/proc/self/fd/N``): fsconfig takes
    at most 256 bytes a value, which a state root's paths soon exceed. Lower
    layers go one at a time (``lowerdir+``, Linux 6.8+), or joined in one
    value where the kernel is older."""
    fds: list[int] = []
    try:
        named: dict[str, list[str]] = {}
        for key, paths in layers.items():
            for path in paths:
                fds.append(os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC))
                named.setdefault(key, []).append(f"/proc/self/fd/{fds[-1]}")
        lowers = named.pop("lowerdir")
        try:
            _set(fs_fd, "lowerdir+", lowers[0])
        except OSError:   # an older kernel: all of them in one value
            _set(fs_fd, "lowerdir", ":".join(lowers))
        else:
            for lower in lowers[1:]:
                _set(fs_fd, "lowerdir+", lower)
        for key, values in named.items():
            _set(fs_fd, key, values[0])
        _call(_SYS_FSCONFIG, ctypes.c_int(fs_fd), ctypes.c_uint(_FSCONFIG_CMD_CREATE), None, None, ctypes.c_int(0))
    finally:
        for fd in fds:
            os.close(fd)


def _kernel_says(fs_fd: int) -> str:
    """The filesystem's own reason for a failed fsconfig (the new mount API
    queues it on the descriptor: "e overlayfs: ..."), when there is one."""
    try:
        message = os.read(fs_fd, 1024).decode(errors="replace").strip()
    except OSError:
        return ""
    return f" ({message[2:]})" if message[:2] in ("e ", "w ") else ""


@contextmanager
def detached_overlay(options: dict[str, list[Path]], *, writable: bool, label: str) -> Iterator[int]:
    """A descriptor of the root of a new overlay mount attached nowhere;
    closed (and the mount gone) when the block ends. ``label`` names the
    container in errors."""
    try:
        fs_fd = _call(_SYS_FSOPEN, b"overlay", ctypes.c_uint(_FSOPEN_CLOEXEC))
    except OSError as err:
        raise InvalidState(f"cannot reach the filesystem of {label}: fsopen(overlay) failed: {err.strerror}",
                           hint="berth needs Linux 5.2 or later with overlayfs") from None
    try:
        _configure(fs_fd, options)
        attributes = 0 if writable else _MOUNT_ATTR_RDONLY
        root_fd = _call(_SYS_FSMOUNT, ctypes.c_int(fs_fd), ctypes.c_uint(_FSMOUNT_CLOEXEC), ctypes.c_uint(attributes))
    except OSError as err:
        raise InvalidState(f"cannot mount the filesystem of {label}: {err.strerror}{_kernel_says(fs_fd)}",
                           hint="its layers may be missing or damaged; re-create the container") from None
    finally:
        os.close(fs_fd)
    try:
        yield root_fd
    finally:
        os.close(root_fd)
