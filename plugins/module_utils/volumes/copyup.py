"""Docker's copy-up: an empty volume mounted over a directory the image has
receives that directory's content (owners, modes, times, xattrs) first.

The image is a stranger's: its directory is found with ``layered`` (every
path resolved inside the image root, overlay whiteouts and opaque
directories honoured) and the tree is copied descriptor to descriptor — each
source entry opened ``*at()`` its layer directory with ``O_NOFOLLOW``, each
destination entry made ``*at()`` the volume's directory descriptor with
``O_EXCL``/``O_NOFOLLOW`` — so a symlink is copied as a symlink and never
followed, on either side. FIFOs and devices are made again with ``mknod``,
never opened; sockets are skipped (they cannot be copied). Hard links are
copied as separate files, as Docker does.
"""

from __future__ import annotations

import errno
import os
import stat

from ..layered import LayeredRoot, Leaf, MergedDir

_NOFOLLOW_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_CHUNK = 1 << 20
# xattrs overlayfs reads as its own metadata: copying them would forge whiteouts
_SKIPPED_XATTRS = ("trusted.overlay.",)
# what shutil.copystat tolerates too: a filesystem that cannot keep an xattr
_XATTR_IGNORED = (errno.EPERM, errno.ENOTSUP, errno.ENODATA, errno.EINVAL)


def copy_tree(image: LayeredRoot, source: MergedDir, dest_fd: int) -> None:
    """Copy the merged directory ``source`` into the directory ``dest_fd``;
    the directory's own metadata is copied last (after its children, so
    their creation does not change its times and a read-only mode does not
    stop them). Iterative: a deep tree costs descriptors, not recursion."""
    stack: list[tuple[MergedDir, int, list[str]]] = [(source, os.dup(dest_fd), source.names())]
    try:
        while stack:
            directory, target, names = stack[-1]
            if not names:
                _copy_metadata(directory.fds[0], target)
                stack.pop()
                os.close(target)
                if directory is not source:
                    directory.close()
                continue
            name = names.pop(0)
            node = image.lookup(directory, name)
            if node is None:
                continue  # a whiteout, or hidden by one
            if isinstance(node, Leaf):
                with node:
                    _copy_leaf(node, target)
                continue
            try:
                os.mkdir(name, 0o700, dir_fd=target)
                child = os.open(name, _DIR_FLAGS, dir_fd=target)
            except BaseException:
                node.close()
                raise
            stack.append((node, child, node.names()))
    finally:
        for directory, target, _names in stack:
            os.close(target)
            if directory is not source:
                directory.close()


def _copy_leaf(leaf: Leaf, target: int) -> None:
    mode, name = leaf.info.st_mode, leaf.name
    if stat.S_ISLNK(mode):
        os.symlink(os.readlink(name, dir_fd=leaf.dir_fd), name, dir_fd=target)
    elif stat.S_ISREG(mode):
        _copy_file(leaf, target)
        return
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode):
        os.mknod(name, stat.S_IFMT(mode) | 0o600, leaf.info.st_rdev, dir_fd=target)
    else:
        return  # a socket: nothing to copy
    # not followed: if someone swapped the new entry for a link, only the link changes
    os.chown(name, leaf.info.st_uid, leaf.info.st_gid, dir_fd=target, follow_symlinks=False)
    if not stat.S_ISLNK(mode):
        os.chmod(name, stat.S_IMODE(mode), dir_fd=target, follow_symlinks=False)
    os.utime(name, ns=(leaf.info.st_atime_ns, leaf.info.st_mtime_ns), dir_fd=target, follow_symlinks=False)


def _copy_file(leaf: Leaf, target: int) -> None:
    source = os.open(leaf.name, _NOFOLLOW_READ, dir_fd=leaf.dir_fd)
    try:
        if not stat.S_ISREG(os.fstat(source).st_mode):
            return  # replaced since the lookup: copy nothing rather than something else
        dest = os.open(leaf.name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                       dir_fd=target)
        try:
            copy_bytes(source, dest)
            _copy_metadata(source, dest)
        finally:
            os.close(dest)
    finally:
        os.close(source)


def copy_bytes(source: int, dest: int) -> None:
    """The content, holes kept where the source has them (SEEK_DATA/SEEK_HOLE)."""
    size = os.fstat(source).st_size
    offset = 0
    while offset < size:
        try:
            offset = os.lseek(source, offset, os.SEEK_DATA)
        except OSError as err:
            if err.errno == errno.ENXIO:
                break  # only a hole is left
            raise
        end = os.lseek(source, offset, os.SEEK_HOLE)
        while offset < end:
            copied = _copy_range(source, dest, offset, min(_CHUNK, end - offset))
            if not copied:
                break  # the file shrank meanwhile
            offset += copied
    os.ftruncate(dest, size)


_COPY_FILE_RANGE_UNSUPPORTED = (errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP)
_use_copy_file_range = hasattr(os, "copy_file_range")


def _copy_range(source: int, dest: int, offset: int, count: int) -> int:
    """Up to ``count`` bytes at ``offset``, in the kernel where it can (no copy
    through Python), by pread/pwrite where it cannot (across filesystems on
    older kernels)."""
    global _use_copy_file_range
    if _use_copy_file_range:
        try:
            return os.copy_file_range(source, dest, count, offset, offset)
        except OSError as err:
            if err.errno not in _COPY_FILE_RANGE_UNSUPPORTED:
                raise
            _use_copy_file_range = False
    data = os.pread(source, count, offset)
    written = 0
    while written < len(data):
        written += os.pwrite(dest, data[written:], offset + written)
    return len(data)


def _copy_metadata(source: int, dest: int) -> None:
    """Owner, then mode (chown clears set-id bits), xattrs and times, fd to fd."""
    info = os.fstat(source)
    os.fchown(dest, info.st_uid, info.st_gid)
    os.fchmod(dest, stat.S_IMODE(info.st_mode))
    copy_xattrs(source, dest)
    os.utime(dest, ns=(info.st_atime_ns, info.st_mtime_ns))


def copy_xattrs(source: int, dest: int) -> None:
    try:
        names = os.listxattr(source)
    except OSError as err:
        if err.errno in _XATTR_IGNORED:
            return
        raise
    for name in names:
        if name.startswith(_SKIPPED_XATTRS):
            continue
        try:
            os.setxattr(dest, name, os.getxattr(source, name))
        except OSError as err:
            if err.errno not in _XATTR_IGNORED:
                raise


def is_empty(directory_fd: int) -> bool:
    """No entry at all (without listing a large directory whole)."""
    with os.scandir(directory_fd) as entries:
        return next(entries, None) is None
