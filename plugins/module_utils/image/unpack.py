"""Unpacking one layer tar into its own overlay-ready directory.

Each layer gets a directory of its own (a snapshot), so the tar's whiteouts
are *translated*, not applied: ``.wh.<name>`` becomes a 0/0 character device
``<name>`` and ``.wh..wh..opq`` the ``trusted.overlay.opaque=y`` xattr on its
directory — what overlayfs reads when the layers are stacked.

Security: the tar is untrusted, and berth unpacks it as root. So no path
string is ever handed to the kernel from the top again:

* the snapshot directory is held as a descriptor opened ``O_DIRECTORY |
  O_NOFOLLOW`` (``saferoot.open_root``), and every entry's *parent* is resolved
  inside it by the kernel (``openat2`` with ``RESOLVE_IN_ROOT``, or saferoot's
  per-component walk): ``..`` stops at the root and a symlink met on the way
  is followed as if the snapshot were ``/``;
* every create, unlink, link, mknod, symlink, chown, chmod, utime and setxattr
  is an ``*at`` call on that parent descriptor (or on the new file's own
  descriptor) that does not follow the final component;
* an entry naming the layer root (``.``, ``./``, ``x/..``, ``/``) only sets
  the root's metadata when it is a directory and is skipped otherwise, as
  containerd and moby do: the snapshot directory itself is never replaced;
* hardlinks must name an earlier non-directory entry, resolved the same way
  and never through a final symlink; a layer may not set
  ``trusted.overlay.*`` xattrs itself (that would forge whiteouts or
  redirects);
* bounds: path depth, header and sparse-map sizes (``tarlimits``), an optional
  unpacked-size budget. Whatever a bad entry makes the kernel say (a name too
  long, a NUL, an invalid xattr) becomes an ``InvalidInput`` naming the layer
  and the entry.

Speed (shared/MACHINE.md: file creation is slow on the root disk): one pass
over the stream, no per-file fsync (the caller does one syncfs per
operation), parent descriptors cached (tars list a directory's entries
together), creates tried first and the old entry removed only on EEXIST,
directory times set last so children do not disturb them.
"""

from __future__ import annotations

import ctypes
import errno
import math
import os
import stat
import tarfile
from pathlib import Path
from typing import BinaryIO, Literal

from .. import saferoot
from ..crashpoint import crash_point
from ..errors import BerthError, InvalidInput
from ..fsutil import remove_at
from .tarlimits import MAX_SPARSE_SEGMENTS, BoundedTarInfo, TarLimitExceeded

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
AUFS_META_PREFIX = ".wh..wh."  # aufs's own bookkeeping (.wh..wh.plnk, ...): not content
OPAQUE_XATTR = "trusted.overlay.opaque"
CHUNK = 1 << 20
# Deepest entry name accepted (path components). Real images stay far below
# (Debian's deepest is ~15); PATH_MAX would stop names near 2,000 anyway.
MAX_PATH_DEPTH = 256
# Linux's own limits (XATTR_NAME_MAX, XATTR_SIZE_MAX): refused with a clear
# error before the kernel says E2BIG/ERANGE.
MAX_XATTR_NAME = 255
MAX_XATTR_VALUE = 1 << 16
# The unpacked-size budget: off unless the caller passes max_bytes. Each entry
# costs its content size plus ENTRY_COST (its inode and directory entry), so a
# million empty files count too.
NO_BUDGET: int | None = None
DEFAULT_LAYER_BUDGET = NO_BUDGET
ENTRY_COST = 512
PARENT_CACHE_SIZE = 256  # open directory descriptors kept per layer being unpacked
_MAX_ID = 2**32 - 2  # (uid_t)-1 means "leave unchanged" to chown
# errnos that say something about the host (full disk, fd limits), not the layer
_HOST_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EMFILE, errno.ENFILE, errno.ENOMEM,
                          errno.EROFS})
_CREATE_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
DevicePolicy = Literal["create", "skip", "reject"]


class UnsafeLayer(InvalidInput):
    """A tar entry that would escape its directory or forge overlay metadata."""


def apply_layer(stream: BinaryIO, dest: Path, *, layer: str = "layer", devices: DevicePolicy = "create",
                max_bytes: int | None = DEFAULT_LAYER_BUDGET) -> int:
    """Unpack the tar ``stream`` into the directory ``dest``; returns the
    number of entries. ``max_bytes`` bounds what the layer may unpack to."""
    root_fd = saferoot.open_root(dest)
    unpacker = _Unpacker(root_fd, layer, devices, max_bytes)
    try:
        with tarfile.open(fileobj=stream, mode="r|", errorlevel=2, bufsize=CHUNK,  # type: ignore[call-overload]
                          tarinfo=BoundedTarInfo) as tar:
            for member in tar:
                unpacker.apply(tar, member)
                crash_point("image.unpack.mid")
        unpacker.finish()
    except TarLimitExceeded as err:
        raise InvalidInput(f"layer {layer} has {err}", field="layers",
                           hint="the image is malformed or malicious; do not use it") from None
    except (tarfile.TarError, EOFError, RecursionError) as err:  # RecursionError: chained headers
        raise InvalidInput(f"layer {layer} is not a valid tar archive: {err}", field="layers",
                           hint="the blob is damaged or not a layer; pull, load or build it again") from None
    finally:
        unpacker.close()
        os.close(root_fd)
    return unpacker.count


def sync_filesystem(path: Path) -> None:
    """Flush the filesystem holding ``path`` (one syncfs for many files)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.syncfs(fd) != 0:
            os.sync()
    except (AttributeError, OSError):
        os.sync()
    finally:
        os.close(fd)


def clean_name(name: str, layer: str) -> str:
    """The entry's path relative to the layer root ('' for the root)."""
    if "\0" in name:
        raise UnsafeLayer(f"layer {layer} has an entry {name!r} with a NUL byte in its name", field="layers",
                          hint="the image is malformed or malicious; do not use it")
    parts: list[str] = []
    for part in name.replace("\\", "/").split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise UnsafeLayer(f"layer {layer} has an entry {name!r} that points outside the layer",
                                  field="layers", hint="the image is malformed or malicious; do not use it")
            parts.pop()
            continue
        parts.append(part)
    if len(parts) > MAX_PATH_DEPTH:
        raise UnsafeLayer(f"layer {layer} has an entry {name[:80]!r}... nested {len(parts)} directories deep "
                          f"(at most {MAX_PATH_DEPTH})", field="layers",
                          hint="the image is malformed or malicious; do not use it")
    return "/".join(parts)


class _Unpacker:
    def __init__(self, root_fd: int, layer: str, devices: DevicePolicy, max_bytes: int | None) -> None:
        self.root_fd = root_fd
        self.layer = layer
        self.devices = devices
        self.max_bytes = max_bytes
        self.used = 0
        self.count = 0
        self.dir_times: dict[str, int] = {}  # directory (relative) -> mtime in ns, applied by finish()
        # parent dir (relative) -> its open descriptor. Dropped whenever a
        # symlink or directory is removed, the only change that can alter what
        # an existing path resolves to; retired fds close between entries, as
        # a caller up the stack may still be using one.
        self._dirs: dict[str, int] = {}
        self._retired: list[int] = []

    def apply(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        self.count += 1
        try:
            self._apply(tar, member)
        except BerthError:
            raise
        except OSError as err:
            if err.errno in _HOST_ERRNOS:
                raise  # the disk or the host's limits, not the layer (the caller says so)
            raise self._bad(member, err.strerror or str(err)) from None
        except (ValueError, OverflowError, UnicodeError) as err:
            raise self._bad(member, str(err)) from None
        finally:
            self._close_retired()

    def _bad(self, member: tarfile.TarInfo, reason: str) -> InvalidInput:
        return InvalidInput(f"layer {self.layer}: entry {member.name[:200]!r} ({_kind(member)}) cannot be "
                            f"unpacked: {reason}", field="layers",
                            hint="the image is malformed or malicious; do not use it")

    def _apply(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        rel = clean_name(member.name, self.layer)
        self._charge(member)
        parent_rel, _sep, name = rel.rpartition("/")
        if name.startswith(WHITEOUT_PREFIX):
            self._whiteout(parent_rel, name)
        elif not rel:
            if member.isdir():  # the root: its metadata only, never replaced
                self._fd_metadata(self.root_fd, member)
                self.dir_times[""] = _ns(member.mtime)
        elif member.isdir():
            self._directory(self._parent(parent_rel), name, rel, member)
        elif member.isreg():
            self._regular(tar, self._parent(parent_rel), name, member)
        elif member.issym():
            self._symlink(self._parent(parent_rel), name, member)
        elif member.islnk():
            self._hardlink(self._parent(parent_rel), name, member)
        elif member.ischr() or member.isblk() or member.isfifo():
            self._device(self._parent(parent_rel), name, member)
        else:
            raise self._bad(member, f"unknown tar entry type {member.type!r}")

    def _charge(self, member: tarfile.TarInfo) -> None:
        if self.max_bytes is None:
            return
        self.used += ENTRY_COST + (member.size if member.isreg() else 0)
        if self.used > self.max_bytes:
            raise InvalidInput(f"layer {self.layer} unpacks to more than its budget of {self.max_bytes} bytes "
                               f"(reached at entry {member.name[:200]!r})", field="layers",
                               hint="use a smaller image or raise the layer size budget")

    # -- resolving parents --------------------------------------------------
    def _parent(self, rel: str, *, create: bool = True) -> int:
        """The directory ``rel`` (resolved inside the root), created as tar
        implies when missing (Docker's 0755)."""
        if not rel:
            return self.root_fd
        fd = self._dirs.get(rel)
        if fd is None:
            fd = self._open_dir(rel, create)
            self._remember(rel, fd)
        return fd

    def _open_dir(self, rel: str, create: bool) -> int:
        try:
            return saferoot.open_in_root(self.root_fd, rel, os.O_RDONLY | os.O_DIRECTORY)
        except (FileNotFoundError, NotADirectoryError):
            if not create:
                raise
        # make the last component a directory inside its own (resolved) parent
        above, _sep, name = rel.rpartition("/")
        parent = self._parent(above)
        try:
            os.mkdir(name, 0o755, dir_fd=parent)
        except FileExistsError:  # a file, or a symlink leading nowhere useful
            self._replace(parent, name)
            os.mkdir(name, 0o755, dir_fd=parent)
        return os.open(name, _OPEN_DIR, dir_fd=parent)

    def _remember(self, rel: str, fd: int) -> None:
        if len(self._dirs) >= PARENT_CACHE_SIZE:
            self._retired.append(self._dirs.pop(next(iter(self._dirs))))  # the oldest
        self._dirs[rel] = fd

    def _invalidate(self) -> None:
        self._retired.extend(self._dirs.values())
        self._dirs.clear()

    def _close_retired(self) -> None:
        while self._retired:
            os.close(self._retired.pop())

    def close(self) -> None:
        self._invalidate()
        self._close_retired()

    # -- entry kinds --------------------------------------------------------
    def _replace(self, parent: int, name: str) -> None:
        """Make room for a new entry: tar semantics say the later one wins."""
        try:
            mode = os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode
        except FileNotFoundError:
            return
        if stat.S_ISDIR(mode):
            remove_at(parent, name)
            self._invalidate()
        else:
            os.unlink(name, dir_fd=parent)
            if stat.S_ISLNK(mode):
                self._invalidate()

    def _whiteout(self, parent_rel: str, base: str) -> None:
        if base.startswith(AUFS_META_PREFIX) and base != OPAQUE_MARKER:
            return  # aufs bookkeeping, skipped as moby does
        parent = self._parent(parent_rel)
        if base == OPAQUE_MARKER:
            os.setxattr(parent, OPAQUE_XATTR, b"y")
            return
        name = base[len(WHITEOUT_PREFIX):]
        if not name or name in (".", ".."):
            raise UnsafeLayer(f"layer {self.layer} has a malformed whiteout {base!r} in {parent_rel or '/'!r}",
                              field="layers", hint="the layer tar is malformed")
        self._replace(parent, name)
        os.mknod(name, stat.S_IFCHR | 0o000, os.makedev(0, 0), dir_fd=parent)

    def _directory(self, parent: int, name: str, rel: str, member: tarfile.TarInfo) -> None:
        try:
            os.mkdir(name, 0o700, dir_fd=parent)
        except FileExistsError:
            if not stat.S_ISDIR(os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode):
                self._replace(parent, name)
                os.mkdir(name, 0o700, dir_fd=parent)
        fd = self._dirs.get(rel)
        if fd is None:
            fd = os.open(name, _OPEN_DIR, dir_fd=parent)
            self._remember(rel, fd)  # its children usually follow
        self._fd_metadata(fd, member)
        self.dir_times[rel] = _ns(member.mtime)

    def _regular(self, tar: tarfile.TarFile, parent: int, name: str, member: tarfile.TarInfo) -> None:
        """Write and describe the file through one descriptor."""
        try:
            fd = os.open(name, _CREATE_FILE, 0o600, dir_fd=parent)
        except FileExistsError:
            self._replace(parent, name)
            fd = os.open(name, _CREATE_FILE, 0o600, dir_fd=parent)
        try:
            if member.sparse is not None:
                self._write_sparse(tar, fd, member)
            else:
                _copy(tar.extractfile(member), fd, member.size)
            self._fd_metadata(fd, member)
            mtime = _ns(member.mtime)
            os.utime(fd, ns=(mtime, mtime))
        finally:
            os.close(fd)

    def _write_sparse(self, tar: tarfile.TarFile, fd: int, member: tarfile.TarInfo) -> None:
        """Data runs written where they belong, holes left as holes. In a
        stream the member's data is its runs back to back from offset_data."""
        runs = [(offset, length) for offset, length in member.sparse or [] if length]  # GNU pads with (x, 0)
        end = 0
        for offset, length in runs:
            if offset < end or length < 0 or offset + length > member.size or len(runs) > MAX_SPARSE_SEGMENTS:
                raise self._bad(member, "its sparse map is out of order, overlapping or beyond the file size")
            end = offset + length
        source = tar.fileobj
        source.seek(member.offset_data)  # type: ignore[union-attr]  # forward: streams allow it
        for offset, length in runs:
            os.lseek(fd, offset, os.SEEK_SET)
            _copy(source, fd, length)  # type: ignore[arg-type]
        os.ftruncate(fd, member.size)

    def _symlink(self, parent: int, name: str, member: tarfile.TarInfo) -> None:
        try:
            os.symlink(member.linkname, name, dir_fd=parent)
        except FileExistsError:
            self._replace(parent, name)
            os.symlink(member.linkname, name, dir_fd=parent)
        self._path_metadata(parent, name, member)

    def _hardlink(self, parent: int, name: str, member: tarfile.TarInfo) -> None:
        target_rel = clean_name(member.linkname, self.layer)
        above, _sep, target = target_rel.rpartition("/")
        try:
            source = self._parent(above, create=False)
            mode = os.stat(target, dir_fd=source, follow_symlinks=False).st_mode if target else stat.S_IFDIR
        except (FileNotFoundError, NotADirectoryError):
            mode = None
        if mode is None or stat.S_ISDIR(mode):
            raise InvalidInput(f"layer {self.layer}: hardlink {member.name!r} points at {member.linkname!r}, "
                               "which is not an earlier file of this layer", field="layers",
                               hint="the layer tar is malformed")
        # no AT_SYMLINK_FOLLOW: a final symlink is linked itself, never its target
        try:
            os.link(target, name, src_dir_fd=source, dst_dir_fd=parent, follow_symlinks=False)
        except FileExistsError:
            self._replace(parent, name)
            os.link(target, name, src_dir_fd=source, dst_dir_fd=parent, follow_symlinks=False)
        # a hardlink shares its target's inode: no metadata of its own

    def _device(self, parent: int, name: str, member: tarfile.TarInfo) -> None:
        if not member.isfifo() and self.devices != "create":
            if self.devices == "reject":
                raise UnsafeLayer(f"layer {self.layer} contains device node {member.name!r}", field="layers",
                                  hint="device nodes are not allowed here")
            return
        kind = stat.S_IFIFO if member.isfifo() else stat.S_IFCHR if member.ischr() else stat.S_IFBLK
        device = os.makedev(member.devmajor, member.devminor)
        try:
            os.mknod(name, kind | 0o600, device, dir_fd=parent)
        except FileExistsError:
            self._replace(parent, name)
            os.mknod(name, kind | 0o600, device, dir_fd=parent)
        self._path_metadata(parent, name, member)

    # -- metadata -----------------------------------------------------------
    def _fd_metadata(self, fd: int, member: tarfile.TarInfo) -> None:
        os.fchown(fd, *_ids(member))
        self._xattrs(fd, member)
        os.fchmod(fd, stat.S_IMODE(member.mode))  # after chown, which clears setuid bits

    def _path_metadata(self, parent: int, name: str, member: tarfile.TarInfo) -> None:
        """Metadata of an entry that cannot be opened safely (a symlink, a
        device, a fifo): ``*at`` calls on its parent, never following it."""
        os.chown(name, *_ids(member), dir_fd=parent, follow_symlinks=False)
        self._xattrs(f"{saferoot.fd_path(parent)}/{name}", member)
        if not member.issym():
            os.chmod(name, stat.S_IMODE(member.mode), dir_fd=parent, follow_symlinks=False)
        mtime = _ns(member.mtime)
        os.utime(name, ns=(mtime, mtime), dir_fd=parent, follow_symlinks=False)

    def _xattrs(self, target: str | int, member: tarfile.TarInfo) -> None:
        for key, value in member.pax_headers.items():
            if not key.startswith("SCHILY.xattr."):
                continue
            name = key[len("SCHILY.xattr."):]
            if name.startswith("trusted.overlay."):
                continue  # only the unpacker may write overlay's own markers
            raw = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
            if not name or "\0" in name or len(name.encode("utf-8", "surrogateescape")) > MAX_XATTR_NAME \
                    or len(raw) > MAX_XATTR_VALUE:
                raise self._bad(member, f"its xattr {name[:64]!r} ({len(raw)} bytes) is beyond Linux's limits")
            try:
                if isinstance(target, int):
                    os.setxattr(target, name, raw)
                else:
                    os.setxattr(target, name, raw, follow_symlinks=False)
            except OSError as err:
                if err.errno not in (errno.ENOTSUP, errno.EPERM):
                    raise

    def finish(self) -> None:
        """Directory times, once nothing more is created in them. Each is
        re-resolved inside the root; one replaced meanwhile is skipped."""
        for rel, mtime in self.dir_times.items():
            fd = self._dirs.get(rel, self.root_fd if not rel else None)
            owned = fd is None
            if fd is None:
                try:
                    fd = saferoot.open_in_root(self.root_fd, rel, os.O_RDONLY | os.O_DIRECTORY, follow_last=False)
                except (FileNotFoundError, NotADirectoryError):
                    continue
                except OSError as err:
                    if err.errno == errno.ELOOP:
                        continue  # now a symlink
                    raise
            try:
                os.utime(fd, ns=(mtime, mtime))
            finally:
                if owned:
                    os.close(fd)


def _copy(source: BinaryIO | None, fd: int, size: int) -> None:
    """Copy ``size`` bytes in bounded chunks (tar raises on a short member)."""
    remaining = size
    while source is not None and remaining > 0 and (chunk := source.read(min(CHUNK, remaining))):
        remaining -= len(chunk)
        view = memoryview(chunk)
        while view:
            view = view[os.write(fd, view):]


def _ids(member: tarfile.TarInfo) -> tuple[int, int]:
    if not (0 <= member.uid <= _MAX_ID and 0 <= member.gid <= _MAX_ID):
        raise ValueError(f"owner {member.uid}:{member.gid} is not a valid uid:gid")
    return member.uid, member.gid


def _ns(mtime: float) -> int:
    if not math.isfinite(mtime):
        raise ValueError(f"modification time {mtime} is not a number")
    return int(mtime * 1_000_000_000)


def _kind(member: tarfile.TarInfo) -> str:
    kinds = {tarfile.DIRTYPE: "directory", tarfile.SYMTYPE: "symlink", tarfile.LNKTYPE: "hardlink",
             tarfile.CHRTYPE: "character device", tarfile.BLKTYPE: "block device", tarfile.FIFOTYPE: "fifo"}
    return "file" if member.isreg() else kinds.get(member.type, f"type {member.type!r}")
