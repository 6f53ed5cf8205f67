"""Small filesystem primitives with crash-safety: atomic replace and usage."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: berth-runtime's delete path imports
if TYPE_CHECKING:      # this module, and pathlib + typing cost it more than the removal itself
    from collections.abc import Callable
    from pathlib import Path
    from typing import Any


def fsync_dir(path: Path) -> None:
    """Persist a directory entry change (create/rename/unlink) in ``path``."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` so readers see the old or the new file, never
    a mix: temp file in the same directory, fsync, rename, fsync the dir."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # imported here: tempfile imports shutil, random and the compressors, which every berth
    # command would pay at start-up; only writers need it
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def atomic_write_json(path: Path, document: Any, *, mode: int = 0o600) -> None:
    data = json.dumps(document, indent=2, sort_keys=True).encode() + b"\n"
    atomic_write_bytes(path, data, mode=mode)


def read_json(path: Path) -> Any:
    with path.open("rb") as handle:
        return json.load(handle)


def remove_tree(path: Path | str) -> None:
    """Remove ``path`` and everything under it, tolerating its absence.

    The last component is never followed (a symlink there is unlinked, its
    target left alone); see ``remove_at`` for the rest.
    """
    parent, name = os.path.split(os.path.normpath(os.fspath(path)))
    try:
        parent_fd = os.open(parent or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        remove_at(parent_fd, name)
    finally:
        os.close(parent_fd)


def remove_at(parent_fd: int, name: str) -> None:
    """Remove the entry ``name`` of the directory ``parent_fd`` with everything
    under it: iterative (no recursion limit, however deep the tree), through
    descriptors (``*at`` calls, ``O_NOFOLLOW``: a symlink inside is unlinked,
    never followed), on one filesystem (a mount point met inside is left in
    place and reported as EBUSY, not emptied), tolerant of entries that vanish
    meanwhile and of read-only directories (made writable first).

    Only the current directory is held open: going back up opens ``..`` and
    checks it is the directory that was left (device and inode), so a tree
    moved away during removal is never walked out of.
    """
    try:
        top = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(top.st_mode):
        _unlink(parent_fd, name)
        return
    _remove_dir_tree(parent_fd, name, top.st_dev)


def _remove_dir_tree(parent_fd: int, name: str, device: int) -> None:
    fd = _open_dir(parent_fd, name)
    if fd is None:
        return
    # one frame per directory being emptied: (its name in its parent, its
    # (dev, ino), the names in it still to visit); only ``fd`` is open
    stack: list[_Frame] = []
    busy: OSError | None = None
    mounts: list[str] = []  # mount points met (left in place)
    try:
        st = os.fstat(fd)
        stack.append((name, (st.st_dev, st.st_ino), os.listdir(fd)))
        while stack:
            _name, _ident, todo = stack[-1]
            child = _next_subdir(fd, todo, device, mounts)
            if child is not None:
                os.close(fd)
                fd, child_name = child
                st = os.fstat(fd)
                stack.append((child_name, (st.st_dev, st.st_ino), os.listdir(fd)))
                continue
            done_name, _ident, _todo = stack.pop()
            up, intact = _climb(fd, stack, parent_fd)
            os.close(fd)
            fd = up
            if not intact:
                continue  # someone else removed the directories above it meanwhile
            try:
                _rmdir(fd, done_name)
            except OSError as err:  # a mount point left in place, or a directory refilled meanwhile
                busy = busy or err
    finally:
        os.close(fd)
    if mounts:
        raise OSError(errno.EBUSY, f"{len(mounts)} mount point(s) inside were left in place", mounts[0])
    if busy is not None:
        raise busy


def _next_subdir(fd: int, todo: list[str], device: int, mounts: list[str]) -> tuple[int, str] | None:
    """Unlink the non-directories of ``todo`` until a directory to descend
    into turns up: its descriptor and name (None when only unlinks remained)."""
    while todo:
        name = todo.pop()
        try:
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            continue
        if not stat.S_ISDIR(st.st_mode):
            _unlink(fd, name)
            continue
        if st.st_dev != device:
            mounts.append(name)  # a mount point: not ours to empty
            continue
        child = _open_dir(fd, name)
        if child is None:
            continue
        if os.fstat(child).st_dev != device:  # mounted meanwhile
            os.close(child)
            mounts.append(name)
            continue
        return child, name
    return None


def _open_dir(parent_fd: int, name: str) -> int | None:
    """The directory ``name`` opened without following; None when it is gone.
    One that is not readable is made so first (its owner removes it anyway)."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    for attempt in (1, 2):
        try:
            return os.open(name, flags, dir_fd=parent_fd)
        except FileNotFoundError:
            return None
        except NotADirectoryError:  # swapped for a file or symlink meanwhile
            _unlink(parent_fd, name)
            return None
        except PermissionError:
            if attempt == 2:
                raise
            os.chmod(name, 0o700, dir_fd=parent_fd, follow_symlinks=False)
    return None


_Frame = tuple[str, tuple[int, int], list[str]]


def _climb(fd: int, stack: list[_Frame], parent_fd: int) -> tuple[int, bool]:
    """The directory of the frame now on top of ``stack`` (``parent_fd`` when
    empty), reached from ``fd`` (its child) by ``..``; and whether the path
    down to it is intact. When ``..`` is gone (a concurrent remover got there
    first), the path is walked again from ``parent_fd`` and the frames of
    directories no longer there are dropped."""
    if not stack:
        return os.dup(parent_fd), True
    try:
        return _checked_open(fd, "..", stack[-1][1]), True
    except FileNotFoundError:
        pass
    fd = os.dup(parent_fd)
    for depth, (name, ident, _todo) in enumerate(stack):
        try:
            child = _checked_open(fd, name, ident)
        except (FileNotFoundError, NotADirectoryError):
            del stack[depth:]
            return fd, False
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
        fd = child
    return fd, True


def _checked_open(dir_fd: int, name: str, expected: tuple[int, int]) -> int:
    """Open a directory seen before; a different one there now means the
    tree was moved during removal, and the remover stops."""
    fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    st = os.fstat(fd)
    if (st.st_dev, st.st_ino) != expected:
        os.close(fd)
        raise OSError(errno.ESTALE, "a directory being removed was moved away meanwhile", name)
    return fd


def _unlink(dir_fd: int, name: str) -> None:
    _writable_retry(dir_fd, lambda: os.unlink(name, dir_fd=dir_fd))


def _rmdir(dir_fd: int, name: str) -> None:
    _writable_retry(dir_fd, lambda: os.rmdir(name, dir_fd=dir_fd))


def _writable_retry(dir_fd: int, remove: Callable[[], None]) -> None:
    """Remove, tolerating absence; on EACCES make the directory writable
    (a read-only dir in an image) and try once more."""
    try:
        remove()
    except FileNotFoundError:
        pass
    except PermissionError:
        os.fchmod(dir_fd, 0o700)
        with contextlib.suppress(FileNotFoundError):
            remove()


def disk_usage(path: Path) -> int:
    """Bytes allocated on disk under ``path``, counting each hardlinked inode
    once (like ``du``), without following symlinks or crossing mounts.
    Iterative, so a tree of any depth is measured without recursion."""
    seen: set[tuple[int, int]] = set()
    total = 0
    try:
        root_dev = path.lstat().st_dev
    except FileNotFoundError:
        return 0
    pending = [str(path)]
    while pending:
        try:
            with os.scandir(pending.pop()) as entries:
                for entry in entries:
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except FileNotFoundError:
                        continue
                    if st.st_dev != root_dev or (st.st_dev, st.st_ino) in seen:
                        continue
                    seen.add((st.st_dev, st.st_ino))
                    total += st.st_blocks * 512
                    if stat.S_ISDIR(st.st_mode):
                        pending.append(entry.path)
        except OSError:  # vanished meanwhile, or a path past PATH_MAX: not counted
            continue
    return total
