"""Opening paths *inside* a directory that strangers control.

Image layers, image root filesystems and container roots come from people
berth does not trust. A path such as ``etc/passwd`` inside an image must name
a file of that image even when ``etc`` is a symlink to ``/etc`` or ``../..``:
resolution has to treat the image root as ``/``, the way a chroot would, and
the check must be the kernel's, not a string walk followed by a second lookup
(the CVE-2021-30465 / CVE-2024-45310 race class).

So every lookup starts from a directory descriptor and goes through
``openat2(2)`` with ``RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS`` (Linux 5.6+,
through ctypes: Python has no wrapper). Where the kernel lacks it, a careful
walk does the same one component at a time: each step ``openat(O_PATH |
O_NOFOLLOW)`` from the descriptor of the step before, symlinks read with
``readlinkat`` and re-rooted by hand, ``..`` never above the root. The result
is a descriptor: callers act on it (``fstat``, ``read``, ``*at`` calls, or a
mount through ``/proc/self/fd/N``), never on the path again.

Standard library only: the runtime imports this on its lean start-up path.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import stat

RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10
IN_ROOT = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS
MAX_SYMLINK_HOPS = 40  # Linux's own limit (ELOOP past it)
_SYS_OPENAT2 = 437  # the same number on every architecture (a "new" syscall)


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
# None until first use; tests set it to False to exercise the walk.
have_openat2: bool | None = None


def openat2(dirfd: int, path: str, flags: int, mode: int = 0, resolve: int = 0) -> int:
    """The raw syscall; raises OSError (ENOSYS where the kernel lacks it)."""
    how = _OpenHow(flags | os.O_CLOEXEC, mode, resolve)
    fd = _libc.syscall(_SYS_OPENAT2, ctypes.c_int(dirfd), os.fsencode(path), ctypes.byref(how),
                       ctypes.c_size_t(ctypes.sizeof(how)))
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), path)
    return int(fd)


def _openat2_works() -> bool:
    global have_openat2
    if have_openat2 is None:
        try:
            os.close(openat2(-100, "/", os.O_PATH | os.O_DIRECTORY, 0, IN_ROOT))  # AT_FDCWD
            have_openat2 = True
        except OSError:
            have_openat2 = False
    return have_openat2


def open_root(path: str | os.PathLike[str]) -> int:
    """A descriptor of the directory ``path`` itself: a symlink there is refused
    (ELOOP/ENOTDIR), so a root that was swapped for a link is never used."""
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)


def open_in_root(root_fd: int, rel: str, flags: int = os.O_RDONLY, mode: int = 0, *,
                 follow_last: bool = True) -> int:
    """Open ``rel`` resolved inside the root ``root_fd`` (absolute symlinks and
    ``..`` stop at that root). With ``follow_last=False`` a final symlink is
    not followed: with ``O_PATH`` it is opened itself, otherwise ELOOP."""
    rel = rel.lstrip("/") or "."
    if not follow_last:
        flags |= os.O_NOFOLLOW
    if _openat2_works():
        while True:
            try:
                return openat2(root_fd, rel, flags, mode, IN_ROOT)
            except InterruptedError:
                continue
            except OSError as err:
                if err.errno != errno.EAGAIN:  # EAGAIN: a rename raced the lookup; try again
                    raise
    return _walk_open(root_fd, rel, flags, mode)


def _walk_open(root_fd: int, rel: str, flags: int, mode: int) -> int:
    """openat2's IN_ROOT resolution, by hand, one component at a time."""
    todo = [p for p in rel.split("/") if p not in ("", ".")]
    stack = [os.dup(root_fd)]  # descriptors of the directories walked, root first
    hops = 0
    try:
        while todo:
            part = todo.pop(0)
            if part == "..":
                if len(stack) > 1:
                    os.close(stack.pop())
                continue
            last = not todo
            if last:
                fd = _open_last(stack[-1], part, flags, mode)
                if fd is not None:
                    return fd
            else:
                fd = os.open(part, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=stack[-1])
                if not stat.S_ISLNK(os.fstat(fd).st_mode):
                    stack.append(fd)
                    continue
                os.close(fd)
            hops += 1
            if hops > MAX_SYMLINK_HOPS:
                raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), rel)
            target = os.readlink(part, dir_fd=stack[-1])
            if target.startswith("/"):
                while len(stack) > 1:
                    os.close(stack.pop())
            todo = [p for p in target.split("/") if p not in ("", ".")] + todo
        return os.open(".", flags | os.O_CLOEXEC, mode, dir_fd=stack[-1])
    finally:
        for fd in stack:
            os.close(fd)


def _open_last(dir_fd: int, name: str, flags: int, mode: int) -> int | None:
    """The final component, opened without following; None when it is a
    symlink that the caller wants followed (the walk goes on through it)."""
    follow = not flags & os.O_NOFOLLOW
    try:
        fd = os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dir_fd)
    except OSError as err:
        # a symlink opened with O_NOFOLLOW: ELOOP, or ENOTDIR under O_DIRECTORY
        if follow and err.errno in (errno.ELOOP, errno.ENOTDIR) and _is_symlink(dir_fd, name):
            return None
        raise
    if follow and flags & os.O_PATH and stat.S_ISLNK(os.fstat(fd).st_mode):
        os.close(fd)  # O_PATH|O_NOFOLLOW opened the link itself
        return None
    return fd


def _is_symlink(dir_fd: int, name: str) -> bool:
    return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)


def split_parent(rel: str) -> tuple[str, str]:
    """``(parent, name)`` of a relative path; the root has no name ('')."""
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if not parts:
        return "", ""
    return "/".join(parts[:-1]), parts[-1]


def open_parent(root_fd: int, rel: str) -> tuple[int, str]:
    """The parent directory of ``rel`` (resolved inside the root) and the last
    name, for the ``*at`` calls that act on an entry without following it."""
    parent, name = split_parent(rel)
    return open_in_root(root_fd, parent, os.O_PATH | os.O_DIRECTORY), name


def make_dirs(root_fd: int, rel: str, mode: int = 0o755) -> int:
    """Open the directory ``rel`` inside the root, creating what is missing
    (each step created by ``mkdirat`` in the directory resolved before it)."""
    try:
        return open_in_root(root_fd, rel, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        pass
    parent, name = split_parent(rel)
    if not name:
        raise FileNotFoundError(errno.ENOENT, "the root directory is gone", rel)
    parent_fd = make_dirs(root_fd, parent, mode)
    try:
        if name == "..":  # never openat(parent, ".."): at the root that is outside it
            return open_in_root(root_fd, rel, os.O_RDONLY | os.O_DIRECTORY)
        # made meanwhile, or a dangling symlink: the open below decides
        with contextlib.suppress(FileExistsError):
            os.mkdir(name, mode, dir_fd=parent_fd)
        return os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent_fd)
    finally:
        os.close(parent_fd)


def read_in_root(root_fd: int, rel: str, limit: int) -> bytes | None:
    """At most ``limit`` bytes of the regular file ``rel`` inside the root;
    None when it is missing or not a regular file. More than ``limit`` bytes
    raise ValueError (the caller names the file and the bound)."""
    try:
        fd = open_in_root(root_fd, rel, os.O_RDONLY | os.O_NONBLOCK)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        data = b""
        while len(data) <= limit and (chunk := os.read(fd, min(1 << 16, limit + 1 - len(data)))):
            data += chunk
        if len(data) > limit:
            raise ValueError(f"{rel} is larger than {limit} bytes")
        return data
    finally:
        os.close(fd)


def lstat_at(dir_fd: int, name: str) -> os.stat_result | None:
    """``name``'s own stat in the directory ``dir_fd`` (a link is not followed); None when it is missing."""
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def fd_path(fd: int) -> str:
    """The path that names an open descriptor (to mount on it, or setxattr it)."""
    return f"/proc/self/fd/{fd}"
