"""An overlay upper dir as an OCI layer tar (what moby's overlay2 ``Diff``
and BuildKit's overlay differ produce).

The upper dir of a container is already the layer, in overlayfs' own
notation; this translates it into the image spec's:

- a whiteout (a 0/0 character device ``x``) becomes the empty regular file
  ``.wh.x`` (mode 0600, the node's owner and mtime, as moby's converter);
- an opaque directory (``trusted.overlay.opaque=y``: it replaced a lower
  one) is written, then the empty file ``<dir>/.wh..wh..opq``;
- ``trusted.overlay.*`` xattrs are overlay's bookkeeping and never copied;
  the others (``security.capability``, ``user.*``, ACLs) go as PAX
  ``SCHILY.xattr.<name>`` records;
- regular files seen twice (same inode in the layer) become tar hardlinks;
  sockets have no tar form and are skipped; devices and fifos are kept;
- entries in sorted order, directory first then its contents; mtimes in
  whole seconds (moby truncates too), uname/gname empty; the root of the
  upper dir itself is not an entry (as moby: it is the container's ``/``).

``exclude`` names container paths the runtime made as mount points (``/proc``,
``/etc/hosts``, ...; the caller passes those the lower layers lack): such a
path is left out only while it is still the empty stub the runtime made (an
empty regular file, or a directory holding only such stubs) — a RUN that
wrote real content there keeps it.

The walk never follows a symlink: every directory is opened ``O_NOFOLLOW``
relative to its parent's descriptor, entries are ``lstat``-ed through that
descriptor, and a file is read only after ``fstat`` of the opened descriptor
shows the inode that was listed (a container still running cannot swap in a
link to somewhere outside).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..errors import InvalidState
from ..saferoot import fd_path

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
OVERLAY_XATTRS = "trusted.overlay."
OPAQUE_XATTR = "trusted.overlay.opaque"
COPY_BUFFER = 1 << 20
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_TYPES = {stat.S_IFDIR: tarfile.DIRTYPE, stat.S_IFREG: tarfile.REGTYPE, stat.S_IFLNK: tarfile.SYMTYPE,
          stat.S_IFCHR: tarfile.CHRTYPE, stat.S_IFBLK: tarfile.BLKTYPE, stat.S_IFIFO: tarfile.FIFOTYPE}


@dataclass
class _Entry:
    info: tarfile.TarInfo
    dir_fd: int          # the directory holding it (valid while the walk is at this entry)
    name: str            # its name in that directory
    st: os.stat_result   # as listed (a file read must be this inode)


def diff_upper(upper: Path, sink: BinaryIO, *, exclude: Iterable[str] = ()) -> int:
    """Write the layer tar of ``upper`` into ``sink`` (a LayerSink or any
    binary writer); returns the number of entries written. The caller closes
    the sink (for the digests)."""
    written = 0
    tar = tarfile.open(fileobj=_Positioned(sink), mode="w", format=tarfile.PAX_FORMAT)  # noqa: SIM115
    tar.copybufsize = COPY_BUFFER
    try:
        for entry in _walk(Path(upper), _normalised(exclude)):
            info = entry.info
            if info.isreg() and info.size:
                with _open_checked(entry) as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)
            written += 1
    finally:
        tar.close()
    return written


def is_empty(upper: Path, exclude: Iterable[str] = ()) -> bool:
    """Whether the layer of ``upper`` has no entry (the step changed nothing
    but the runtime's own stubs)."""
    return next(iter(_walk(Path(upper), _normalised(exclude))), None) is None


def drop_stubs(upper: Path, exclude: Iterable[str] = ()) -> None:
    """Remove from ``upper`` the stubs ``diff_upper`` leaves out, so the
    directory holds exactly the layer's tree and can become its snapshot
    (shallowest first: a stub directory goes with the stubs inside it)."""
    from ..fsutil import remove_at
    from ..saferoot import open_in_root, open_root, split_parent

    root = open_root(upper)
    try:
        for rel in sorted(_normalised(exclude), key=lambda r: r.count("/")):
            parent, name = split_parent(rel)
            try:
                parent_fd = open_in_root(root, parent or ".", _DIR_FLAGS)
            except OSError:
                continue   # gone with a stub above it, or never there
            try:
                st = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
                if _is_stub(parent_fd, name, st, rel, _normalised(exclude)):
                    remove_at(parent_fd, name)
            except FileNotFoundError:
                pass
            finally:
                os.close(parent_fd)
    finally:
        os.close(root)


def _normalised(paths: Iterable[str]) -> frozenset[str]:
    return frozenset(p.strip("/") for p in paths if p.strip("/"))


# -- the walk --------------------------------------------------------------------------
def _walk(upper: Path, exclude: frozenset[str]) -> Iterator[_Entry]:
    try:
        root = os.open(upper, _DIR_FLAGS)
    except OSError as err:
        raise InvalidState(f"cannot read the writable layer {upper}: {err.strerror}", field="upper",
                           hint="the container's directory is gone or is not a directory") from None
    links: dict[tuple[int, int], str] = {}
    try:
        yield from _walk_dir(root, "", exclude, links)
    finally:
        os.close(root)


def _walk_dir(dir_fd: int, prefix: str, exclude: frozenset[str], links: dict[tuple[int, int], str]
              ) -> Iterator[_Entry]:
    for name in sorted(os.listdir(dir_fd)):
        rel = prefix + name
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        if rel in exclude and _is_stub(dir_fd, name, st, rel, exclude):
            continue
        kind = stat.S_IFMT(st.st_mode)
        if kind == stat.S_IFSOCK:
            continue
        if kind == stat.S_IFCHR and st.st_rdev == 0:
            yield _Entry(_whiteout(prefix + WHITEOUT_PREFIX + name, st), dir_fd, name, st)
            continue
        if kind == stat.S_IFDIR:
            yield from _directory(dir_fd, name, rel, st, exclude, links)
            continue
        info = _info(rel, st, _xattrs(dir_fd, name, None))
        if kind == stat.S_IFLNK:
            info.linkname = os.readlink(name, dir_fd=dir_fd)
        elif kind == stat.S_IFREG and st.st_nlink > 1:
            first = links.setdefault((st.st_dev, st.st_ino), rel)
            if first != rel:
                info.type, info.linkname, info.size = tarfile.LNKTYPE, first, 0
        yield _Entry(info, dir_fd, name, st)


def _directory(dir_fd: int, name: str, rel: str, st: os.stat_result, exclude: frozenset[str],
               links: dict[tuple[int, int], str]) -> Iterator[_Entry]:
    child = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    try:
        _same_inode(child, st, rel)
        xattrs = _xattrs(child, None, child)
        opaque = xattrs.pop(OPAQUE_XATTR, None) == "y"
        yield _Entry(_info(rel, st, {k: v for k, v in xattrs.items() if not k.startswith(OVERLAY_XATTRS)}),
                     dir_fd, name, st)
        if opaque:
            marker = _whiteout(f"{rel}/{OPAQUE_MARKER}", st)
            marker.mode = stat.S_IMODE(st.st_mode)
            yield _Entry(marker, child, OPAQUE_MARKER, st)
        yield from _walk_dir(child, rel + "/", exclude, links)
    finally:
        os.close(child)


def _is_stub(dir_fd: int, name: str, st: os.stat_result, rel: str, exclude: frozenset[str]) -> bool:
    """An empty file, or a (not opaque) directory of nothing but excluded stubs."""
    if stat.S_ISREG(st.st_mode):
        return st.st_size == 0
    if not stat.S_ISDIR(st.st_mode):
        return False
    child = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    try:
        if _xattrs(child, None, child).get(OPAQUE_XATTR) == "y":   # it replaced a lower dir: a real change
            return False
        for sub in os.listdir(child):
            sub_rel = f"{rel}/{sub}"
            sub_st = os.stat(sub, dir_fd=child, follow_symlinks=False)
            if sub_rel not in exclude or not _is_stub(child, sub, sub_st, sub_rel, exclude):
                return False
        return True
    finally:
        os.close(child)


# -- headers ---------------------------------------------------------------------------
def _info(rel: str, st: os.stat_result, xattrs: dict[str, str]) -> tarfile.TarInfo:
    info = tarfile.TarInfo(rel)
    info.type = _TYPES[stat.S_IFMT(st.st_mode)]
    info.mode = stat.S_IMODE(st.st_mode)
    info.uid, info.gid = st.st_uid, st.st_gid
    info.uname = info.gname = ""
    info.mtime = int(st.st_mtime)
    info.size = st.st_size if info.type == tarfile.REGTYPE else 0
    if info.type in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    info.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in sorted(xattrs.items())}
    return info


def _whiteout(rel: str, st: os.stat_result) -> tarfile.TarInfo:
    info = tarfile.TarInfo(rel)
    info.type, info.mode, info.size = tarfile.REGTYPE, 0o600, 0
    info.uid, info.gid = st.st_uid, st.st_gid
    info.uname = info.gname = ""
    info.mtime = int(st.st_mtime)
    return info


def _xattrs(dir_fd: int, name: str | None, fd: int | None) -> dict[str, str]:
    """The entry's xattrs but overlay's (for a directory: with overlay's, so
    the caller sees the opaque flag). ``fd``: an open descriptor of it; else
    the name in ``dir_fd``, not followed (through /proc/self/fd, as the
    *xattr calls take no dir fd)."""
    target: int | str = fd if fd is not None else f"{fd_path(dir_fd)}/{name}"
    try:
        names = os.listxattr(target, follow_symlinks=False) if fd is None else os.listxattr(target)
    except OSError:   # a filesystem without xattrs, or a symlink on one that has none for links
        return {}
    found: dict[str, str] = {}
    for key in names:
        if key.startswith(OVERLAY_XATTRS) and key != OPAQUE_XATTR:
            continue
        with contextlib.suppress(OSError):   # removed meanwhile
            value = os.getxattr(target, key, follow_symlinks=False) if fd is None else os.getxattr(target, key)
            found[key] = value.decode("utf-8", "surrogateescape")
    if fd is None:
        found.pop(OPAQUE_XATTR, None)
    return found


def _same_inode(fd: int, st: os.stat_result, rel: str) -> None:
    now = os.fstat(fd)
    if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
        raise InvalidState(f"{rel} changed while its layer was written", field="upper",
                           hint="pause or stop the container while it is committed")


@contextlib.contextmanager
def _open_checked(entry: _Entry) -> Iterator[BinaryIO]:
    fd = os.open(entry.name, _FILE_FLAGS, dir_fd=entry.dir_fd)
    handle = os.fdopen(fd, "rb", buffering=0)
    with handle:
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != (entry.st.st_dev, entry.st.st_ino) or st.st_size < entry.info.size:
            raise InvalidState(f"{entry.info.name} changed while its layer was written", field="upper",
                               hint="pause or stop the container while it is committed")
        yield handle  # type: ignore[misc]


class _Positioned:
    """tarfile's "w" mode asks the file where it is; a sink only goes forward."""

    def __init__(self, sink: BinaryIO) -> None:
        self.sink = sink
        self.offset = 0

    def write(self, data: bytes) -> int:
        self.sink.write(data)
        self.offset += len(data)
        return len(data)

    def tell(self) -> int:
        return self.offset
