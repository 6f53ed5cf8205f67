"""The trees ``berth cp`` moves: read from a directory descriptor or a tar
stream as entries, written under a directory descriptor or as a tar stream.

Every filesystem step is a ``*at`` call on a descriptor this copy opened
itself, never a path walked again: a name in the tree is opened with
``O_NOFOLLOW``, so a symlink the copy meets (or one a process in the
container swaps in meanwhile) is copied as a link, never walked through,
on either side. Contents stream in chunks of ``CHUNK`` bytes; nothing holds
a whole file. Tar member names are normalised and refused when they climb
out (``..``) — the writer's descriptors would stop them anyway.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
import tarfile
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO

from ..errors import InvalidInput
from ..saferoot import lstat_at, make_dirs, open_parent

CHUNK = 1 << 20
MAX_DEPTH = 256   # directory nesting a walk follows (each level holds one descriptor)
MAX_OPEN_DIRS = 64   # directories a writer keeps open; others are reopened when written into again


@dataclass
class Entry:
    """One node of a copied tree. ``path`` is relative to the tree's top
    ('' is the top itself); ``content`` (files only) is readable until the
    iterator that yielded the entry moves on; ``target`` is a symlink's
    target or a hard link's tree path."""

    path: str
    kind: str
    mode: int
    uid: int
    gid: int
    mtime: float
    size: int = 0
    target: str = ""
    rdev: int = 0
    content: IO[bytes] | None = None


# -- reading a tree ----------------------------------------------------------------------
def entry_of(st: os.stat_result, path: str) -> Entry | None:
    """The entry for a stat result; None for what cannot be copied (a socket)."""
    kinds = {stat.S_IFREG: "file", stat.S_IFDIR: "dir", stat.S_IFLNK: "symlink", stat.S_IFIFO: "fifo",
             stat.S_IFCHR: "char", stat.S_IFBLK: "block"}
    kind = kinds.get(stat.S_IFMT(st.st_mode))
    if kind is None:
        return None
    return Entry(path=path, kind=kind, mode=stat.S_IMODE(st.st_mode), uid=st.st_uid, gid=st.st_gid,
                 mtime=st.st_mtime, size=st.st_size if kind == "file" else 0, rdev=st.st_rdev)


def walk(dir_fd: int, name: str) -> Iterator[Entry]:
    """The tree at ``name`` in ``dir_fd`` in pre-order (a directory before its
    contents); a symlink, the top included, is an entry, never followed."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW
    top = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    yield from _walk_node(dir_fd, name, top, "", flags, 0)


def _walk_node(dir_fd: int, name: str, st: os.stat_result, path: str, flags: int, depth: int) -> Iterator[Entry]:
    entry = entry_of(st, path)
    if entry is None:
        return
    if entry.kind == "symlink":
        entry.target = os.readlink(name, dir_fd=dir_fd)
        yield entry
    elif entry.kind == "file":
        fd = os.open(name, flags, dir_fd=dir_fd)
        with os.fdopen(fd, "rb", buffering=0) as content:
            if not stat.S_ISREG(os.fstat(fd).st_mode):   # swapped since the stat: copy nothing rather than it
                return
            entry.content = content
            yield entry
    elif entry.kind == "dir":
        if depth >= MAX_DEPTH:
            raise InvalidInput(f"{path} is nested deeper than {MAX_DEPTH} directories", field="source",
                               hint="copy a deeper subdirectory by itself")
        yield entry
        yield from _walk_dir(os.open(name, flags | os.O_DIRECTORY, dir_fd=dir_fd), path, depth)
    else:
        yield entry


def _walk_dir(fd: int, path: str, depth: int) -> Iterator[Entry]:
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW
    try:
        with os.scandir(fd) as listing:
            names = sorted(item.name for item in listing)   # a stable order (tar out compares)
        for child in names:
            st = lstat_at(fd, child)
            if st is not None:   # gone meanwhile: a live container's files come and go
                yield from _walk_node(fd, child, st, f"{path}/{child}" if path else child, flags, depth + 1)
    finally:
        os.close(fd)


def read_tar(stream: IO[bytes]) -> Iterator[Entry]:
    """The members of a tar stream (any compression tarfile reads), read
    once, front to back; hard links point at earlier members' paths."""
    with tarfile.open(fileobj=stream, mode="r|*") as tar:
        for member in tar:
            path = member_path(member.name)
            entry = _tar_entry(member, path)
            if entry is None:
                continue
            if entry.kind == "file":
                entry.content = tar.extractfile(member)
            yield entry


def member_path(name: str) -> str:
    """A tar member's name as a tree path: ``./`` and ``/`` prefixes dropped,
    ``..`` refused (it would name something outside the destination)."""
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise InvalidInput(f"tar member {name!r} climbs out of the destination", field="source",
                           hint="a tar for `berth cp -` names paths below its top, without '..'")
    return "/".join(parts)


def _tar_entry(member: tarfile.TarInfo, path: str) -> Entry | None:
    kinds = {tarfile.REGTYPE: "file", tarfile.AREGTYPE: "file", tarfile.CONTTYPE: "file", tarfile.DIRTYPE: "dir",
             tarfile.SYMTYPE: "symlink", tarfile.LNKTYPE: "link", tarfile.FIFOTYPE: "fifo",
             tarfile.CHRTYPE: "char", tarfile.BLKTYPE: "block"}
    kind = kinds.get(member.type)
    if kind is None:
        return None
    target = member_path(member.linkname) if kind == "link" else member.linkname
    return Entry(path=path, kind=kind, mode=member.mode & 0o7777, uid=member.uid, gid=member.gid,
                 mtime=float(member.mtime), size=member.size if kind == "file" else 0, target=target,
                 rdev=os.makedev(member.devmajor, member.devminor) if kind in ("char", "block") else 0)


# -- writing a tree ------------------------------------------------------------------------
class TreeWriter:
    """Writes entries below the directory ``dest_fd``: the top entry ('')
    under the name ``top`` (None: the top *is* ``dest_fd``, its contents are
    merged into it). ``owner`` (uid, gid) replaces every entry's owner; None
    keeps theirs (``-a``). Existing non-directories are replaced (a new file
    is written beside and renamed over it); an existing directory is merged
    into and keeps its own mode and owner."""

    def __init__(self, dest_fd: int, top: str | None, owner: tuple[int, int] | None) -> None:
        self.dest_fd = dest_fd
        self.top = top
        self.owner = owner
        # tree path → descriptor of a directory written into, least recently used first (at most
        # MAX_OPEN_DIRS: a tree of many directories must not run out of descriptors)
        self.dirs: OrderedDict[str, int] = OrderedDict()
        self.dir_times: list[tuple[str, float]] = []
        self.count = 0

    def write_all(self, entries: Iterator[Entry]) -> int:
        try:
            for entry in entries:
                self.write(entry)
            self._set_dir_times()
        finally:
            for fd in self.dirs.values():
                os.close(fd)
            self.dirs.clear()
        return self.count

    def write(self, entry: Entry) -> None:
        parent_fd, name = self._place(entry.path)
        if name is None:   # the merge target itself: only its contents are written
            if entry.kind != "dir":
                raise InvalidInput(f"cannot copy a {entry.kind} onto the directory {entry.path or '.'}",
                                   field="destination", hint="name a file path as the destination")
            return
        writer = {"dir": self._write_dir, "file": self._write_file, "symlink": self._write_symlink,
                  "link": self._write_link}.get(entry.kind, self._write_node)
        writer(parent_fd, name, entry)
        self.count += 1

    def _place(self, path: str) -> tuple[int, str | None]:
        """The directory an entry goes in and its name there."""
        if not path:
            return self.dest_fd, self.top
        parent, _sep, name = path.rpartition("/")
        return self._dir(parent), name

    def _dir(self, path: str) -> int:
        """The descriptor of the tree directory ``path`` (made when a tar never listed it)."""
        if path in self.dirs:
            self.dirs.move_to_end(path)
            return self.dirs[path]
        top = self._top_dir()
        if not path:
            return top
        return self._keep(path, make_dirs(top, path))

    def _top_dir(self) -> int:
        if self.top is None:
            return self.dest_fd
        if "" not in self.dirs:
            self._keep("", make_dirs(self.dest_fd, self.top))
        return self.dirs[""]

    def _keep(self, path: str, fd: int) -> int:
        self.dirs[path] = fd
        while len(self.dirs) > MAX_OPEN_DIRS:
            oldest = next(p for p in self.dirs if p)   # the top stays open
            os.close(self.dirs.pop(oldest))
        return fd

    def _write_dir(self, parent_fd: int, name: str, entry: Entry) -> None:
        existing = lstat_at(parent_fd, name)
        if existing is not None and not stat.S_ISDIR(existing.st_mode):
            raise InvalidInput(f"cannot overwrite non-directory {entry.path or name} with a directory",
                               field="destination", hint="remove it first, or copy to another path")
        if existing is None:
            os.mkdir(name, 0o700, dir_fd=parent_fd)
        fd = self._keep(entry.path, os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                                            dir_fd=parent_fd))
        if existing is None:
            self._own(fd, entry)
        self.dir_times.append((entry.path, entry.mtime))

    def _write_file(self, parent_fd: int, name: str, entry: Entry) -> None:
        def make(temp: str) -> None:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                         dir_fd=parent_fd)
            try:
                if entry.content is not None:
                    _pump(entry.content, fd)
                self._own(fd, entry)
                os.utime(fd, (entry.mtime, entry.mtime))
            finally:
                os.close(fd)
        self._replace(parent_fd, name, entry, make)

    def _write_symlink(self, parent_fd: int, name: str, entry: Entry) -> None:
        def make(temp: str) -> None:
            os.symlink(entry.target, temp, dir_fd=parent_fd)
            uid, gid = self._owner_of(entry)
            os.chown(temp, uid, gid, dir_fd=parent_fd, follow_symlinks=False)
            os.utime(temp, (entry.mtime, entry.mtime), dir_fd=parent_fd, follow_symlinks=False)
        self._replace(parent_fd, name, entry, make)

    def _write_link(self, parent_fd: int, name: str, entry: Entry) -> None:
        """A hard link to an earlier member, resolved inside the destination tree."""
        source_fd, source_name = open_parent(self._top_dir(), entry.target)
        try:
            self._replace(parent_fd, name, entry, lambda temp: os.link(
                source_name, temp, src_dir_fd=source_fd, dst_dir_fd=parent_fd, follow_symlinks=False))
        finally:
            os.close(source_fd)

    def _write_node(self, parent_fd: int, name: str, entry: Entry) -> None:
        type_bits = {"fifo": stat.S_IFIFO, "char": stat.S_IFCHR, "block": stat.S_IFBLK}[entry.kind]

        def make(temp: str) -> None:
            os.mknod(temp, type_bits | 0o600, entry.rdev, dir_fd=parent_fd)
            uid, gid = self._owner_of(entry)
            os.chown(temp, uid, gid, dir_fd=parent_fd, follow_symlinks=False)
            os.chmod(temp, entry.mode, dir_fd=parent_fd)   # a fresh node, no link: chmod follows nothing
        self._replace(parent_fd, name, entry, make)

    def _replace(self, parent_fd: int, name: str, entry: Entry, make: Callable[[str], None]) -> None:
        """Make the entry under a fresh temporary name, then rename it over ``name``."""
        existing = lstat_at(parent_fd, name)
        if existing is not None and stat.S_ISDIR(existing.st_mode):
            raise InvalidInput(f"cannot overwrite directory {entry.path or name} with a non-directory",
                               field="destination", hint="remove it first, or copy to another path")
        temp = f".berth-cp-{secrets.token_hex(6)}"
        try:
            make(temp)
            try:
                os.rename(temp, name, src_dir_fd=parent_fd, dst_dir_fd=parent_fd)
            except OSError as err:
                if err.errno != errno.EBUSY or entry.kind != "file":
                    raise
                _write_in_place(parent_fd, temp, name)   # a bind-mounted file cannot be renamed over
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp, dir_fd=parent_fd)

    def _owner_of(self, entry: Entry) -> tuple[int, int]:
        return self.owner if self.owner is not None else (entry.uid, entry.gid)

    def _own(self, fd: int, entry: Entry) -> None:
        uid, gid = self._owner_of(entry)
        os.fchown(fd, uid, gid)
        os.fchmod(fd, entry.mode)   # after chown, which clears setuid bits

    def _set_dir_times(self) -> None:
        """Directories' times last (writing into one changed its mtime), deepest first."""
        for path, mtime in reversed(self.dir_times):
            if path:
                os.utime(self._dir(path), (mtime, mtime))
            elif self.top is not None:
                os.utime(self._top_dir(), (mtime, mtime))


def _write_in_place(parent_fd: int, temp: str, name: str) -> None:
    source = os.open(temp, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent_fd)
    try:
        target = os.open(name, os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent_fd)
        try:
            with os.fdopen(os.dup(source), "rb", buffering=0) as content:
                _pump(content, target)
        finally:
            os.close(target)
    finally:
        os.close(source)


def _pump(content: IO[bytes], fd: int) -> None:
    while chunk := content.read(CHUNK):
        view = memoryview(chunk)
        while view:
            view = view[os.write(fd, view):]


def write_tar(entries: Iterator[Entry], stream: IO[bytes], top: str) -> int:
    """The entries as a tar stream (POSIX pax) with their own owners, the top
    named ``top`` ('' : its contents at the tar's top); the number written."""
    count = 0
    with tarfile.open(fileobj=stream, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            name = "/".join(part for part in (top, entry.path) if part)
            if not name:
                continue
            info = tarfile.TarInfo(name)
            info.type = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
                         "link": tarfile.LNKTYPE, "fifo": tarfile.FIFOTYPE, "char": tarfile.CHRTYPE,
                         "block": tarfile.BLKTYPE}[entry.kind]
            info.mode, info.uid, info.gid, info.mtime = entry.mode, entry.uid, entry.gid, int(entry.mtime)
            info.linkname = entry.target
            if entry.kind in ("char", "block"):
                info.devmajor, info.devminor = os.major(entry.rdev), os.minor(entry.rdev)
            info.size = entry.size if entry.kind == "file" else 0
            tar.addfile(info, _Exactly(entry.content, info.size) if entry.kind == "file" else None)
            count += 1
    return count


class _Exactly:
    """A file's content cut or padded to the size its header announced: a
    file that grows or shrinks while it is read must not break the tar."""

    def __init__(self, content: IO[bytes] | None, size: int) -> None:
        self.content, self.left = content, size

    def read(self, size: int = -1) -> bytes:
        want = self.left if size < 0 else min(size, self.left)
        data = self.content.read(want) if self.content is not None and want else b""
        if len(data) < want:
            data += b"\0" * (want - len(data))
        self.left -= len(data)
        return data
