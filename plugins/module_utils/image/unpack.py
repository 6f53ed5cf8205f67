"""Unpacking one layer tar into its own overlay-ready directory.

Each layer gets a directory of its own (a snapshot), so the tar's whiteouts
are *translated*, not applied: ``.wh.<name>`` becomes a 0/0 character device
``<name>`` and ``.wh..wh..opq`` the ``trusted.overlay.opaque=y`` xattr on its
directory — what overlayfs reads when the layers are stacked.

Security: the tar is untrusted. Every path is resolved inside ``dest`` the way
a chroot would (``..`` stops at the root, a symlink met on the way is followed
as if ``dest`` were ``/``), so neither absolute names, ``..``, symlinked
parents nor hardlinks can reach outside. A layer may not set
``trusted.overlay.*`` xattrs itself (that would forge whiteouts or redirects).
Files are written with O_NOFOLLOW so a planted symlink is replaced, never
written through.

Speed (shared/MACHINE.md: file creation is slow on the root disk): one pass
over the stream, no per-file fsync (the caller does one syncfs per
operation), directory times set last so children do not disturb them.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
import tarfile
from pathlib import Path
from typing import BinaryIO, Literal

from ..errors import InvalidInput

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
MAX_SYMLINK_HOPS = 40
CHUNK = 1 << 20
DevicePolicy = Literal["create", "skip", "reject"]


class UnsafeLayer(InvalidInput):
    """A tar entry that would escape its directory or forge overlay metadata."""


def apply_layer(stream: BinaryIO, dest: Path, *, layer: str = "layer", devices: DevicePolicy = "create") -> int:
    """Unpack the tar ``stream`` into ``dest``; returns the number of entries."""
    unpacker = _Unpacker(Path(dest), layer, devices)
    try:
        with tarfile.open(fileobj=stream, mode="r|", errorlevel=2,  # type: ignore[call-overload]
                          bufsize=CHUNK) as tar:
            for member in tar:
                unpacker.apply(tar, member)
    except (tarfile.TarError, EOFError) as err:
        raise InvalidInput(f"layer {layer} is not a valid tar archive: {err}", field="layers",
                           hint="the blob is damaged or not a layer; pull, load or build it again") from None
    unpacker.finish()
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
    return "/".join(parts)


def resolve_in_root(root: Path, rel: str, *, follow_last: bool = False) -> Path:
    """``root/rel`` with every symlink on the way resolved *inside* root."""
    todo = [p for p in rel.split("/") if p not in ("", ".")]
    done: list[str] = []
    hops = 0
    while todo:
        part = todo.pop(0)
        if part == "..":
            if done:
                done.pop()
            continue
        current = root.joinpath(*done, part)
        is_last = not todo
        if (not is_last or follow_last) and os.path.islink(current):
            hops += 1
            if hops > MAX_SYMLINK_HOPS:
                raise UnsafeLayer(f"too many levels of symlinks under {rel!r}", field="layers")
            target = os.readlink(current)
            if target.startswith("/"):
                done = []
            todo = [p for p in target.split("/") if p not in ("", ".")] + todo
            continue
        done.append(part)
    return root.joinpath(*done)


class _Unpacker:
    def __init__(self, dest: Path, layer: str, devices: DevicePolicy) -> None:
        self.dest = dest
        self.layer = layer
        self.devices = devices
        self.count = 0
        self.dir_times: list[tuple[Path, int]] = []
        # parent dir (relative) -> resolved path; dropped whenever a symlink or
        # directory changes, since either can change what a path resolves to
        self._parents: dict[str, Path] = {}

    def apply(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        self.count += 1
        rel = clean_name(member.name, self.layer)
        base = rel.rsplit("/", 1)[-1]
        if base.startswith(WHITEOUT_PREFIX):
            self._whiteout(rel, base)
            return
        path = self.dest if not rel else self._target(rel)
        if member.isdir():
            self._directory(path, member)
        elif member.isreg():
            self._regular(tar, path, member)
            return  # metadata set through the open descriptor
        elif member.issym():
            self._replace(path)
            os.symlink(member.linkname, path)
            self._parents.clear()
        elif member.islnk():
            self._hardlink(path, member)
            return  # a hardlink shares its target's inode: no metadata of its own
        elif member.ischr() or member.isblk() or member.isfifo():
            if not self._device(path, member):
                return
        else:
            return  # unknown types (e.g. GNU volume headers) carry no file
        self._metadata(path, member)

    # -- entry kinds --------------------------------------------------------
    def _target(self, rel: str) -> Path:
        parent_rel, _sep, name = rel.rpartition("/")
        return self._parent(parent_rel) / name

    def _parent(self, parent_rel: str) -> Path:
        if not parent_rel:
            return self.dest
        parent = self._parents.get(parent_rel)
        if parent is None:
            parent = resolve_in_root(self.dest, parent_rel, follow_last=True)
            _ensure_dir(parent, self.dest)
            self._parents[parent_rel] = parent
        return parent

    def _whiteout(self, rel: str, base: str) -> None:
        parent = self._parent(rel.rpartition("/")[0])
        if base == OPAQUE_MARKER:
            os.setxattr(parent, OPAQUE_XATTR, b"y")
            return
        name = base[len(WHITEOUT_PREFIX):]
        if not name or name in (".", ".."):
            raise UnsafeLayer(f"layer {self.layer} has a malformed whiteout {rel!r}", field="layers")
        target = parent / name
        self._replace(target)
        os.mknod(target, stat.S_IFCHR | 0o000, os.makedev(0, 0))

    def _directory(self, path: Path, member: tarfile.TarInfo) -> None:
        if path != self.dest:
            if os.path.lexists(path) and not (path.is_dir() and not path.is_symlink()):
                os.unlink(path)
                self._parents.clear()
            if not os.path.lexists(path):
                os.mkdir(path, 0o700)
        self.dir_times.append((path, int(member.mtime)))

    def _regular(self, tar: tarfile.TarFile, path: Path, member: tarfile.TarInfo) -> None:
        """Write and describe the file through one descriptor: no path lookups
        after the create (they cost on slow disks)."""
        self._replace(path)
        source = tar.extractfile(member)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            while source is not None and (chunk := source.read(CHUNK)):
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view):]
            os.fchown(fd, member.uid, member.gid)
            self._xattrs(fd, member)
            os.fchmod(fd, stat.S_IMODE(member.mode))  # after chown, which clears setuid bits
            os.utime(fd, ns=(_ns(member.mtime), _ns(member.mtime)))
        finally:
            os.close(fd)

    def _hardlink(self, path: Path, member: tarfile.TarInfo) -> None:
        link_rel = clean_name(member.linkname, self.layer)
        target = resolve_in_root(self.dest, link_rel)
        if not os.path.lexists(target) or (os.path.isdir(target) and not os.path.islink(target)):
            raise InvalidInput(f"layer {self.layer}: hardlink {member.name!r} points at {member.linkname!r}, "
                               "which is not an earlier file of this layer", field="layers",
                               hint="the layer tar is malformed")
        self._replace(path)
        os.link(target, path, follow_symlinks=False)

    def _device(self, path: Path, member: tarfile.TarInfo) -> bool:
        if not member.isfifo() and self.devices != "create":
            if self.devices == "reject":
                raise UnsafeLayer(f"layer {self.layer} contains device node {member.name!r}", field="layers",
                                  hint="device nodes are not allowed here")
            return False
        kind = stat.S_IFIFO if member.isfifo() else stat.S_IFCHR if member.ischr() else stat.S_IFBLK
        self._replace(path)
        os.mknod(path, kind | 0o600, os.makedev(member.devmajor, member.devminor))
        return True

    def _replace(self, path: Path) -> None:
        """Make room for a new entry: tar semantics say the later one wins."""
        if not os.path.lexists(path):
            return
        if os.path.isdir(path) and not os.path.islink(path):
            from ..fsutil import remove_tree

            remove_tree(path)
            self._parents.clear()
        else:
            os.unlink(path)

    # -- metadata -----------------------------------------------------------
    def _metadata(self, path: Path, member: tarfile.TarInfo) -> None:
        os.lchown(path, member.uid, member.gid)
        self._xattrs(path, member)
        if not member.issym():
            os.chmod(path, stat.S_IMODE(member.mode))  # after chown, which clears setuid bits
        if not member.isdir():
            os.utime(path, ns=(_ns(member.mtime), _ns(member.mtime)), follow_symlinks=False)

    def _xattrs(self, path: Path | int, member: tarfile.TarInfo) -> None:
        for key, value in member.pax_headers.items():
            if not key.startswith("SCHILY.xattr."):
                continue
            name = key[len("SCHILY.xattr."):]
            if name.startswith("trusted.overlay."):
                continue  # only the unpacker may write overlay's own markers
            raw = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
            try:
                if isinstance(path, int):
                    os.setxattr(path, name, raw)
                else:
                    os.setxattr(path, name, raw, follow_symlinks=False)
            except OSError as err:
                if err.errno not in (errno.ENOTSUP, errno.EPERM):
                    raise

    def finish(self) -> None:
        for path, mtime in reversed(self.dir_times):  # deepest (latest created) first
            os.utime(path, ns=(_ns(mtime), _ns(mtime)), follow_symlinks=False)


def _ensure_dir(path: Path, root: Path) -> None:
    """Create missing parents (tar may omit them) with Docker's 0755."""
    if path.is_dir():
        return
    rel = os.path.relpath(path, root)
    current = root
    for part in rel.split("/"):
        current = current / part
        if os.path.islink(current) or (os.path.lexists(current) and not current.is_dir()):
            os.unlink(current)  # resolve_in_root left no symlinks; one now would be a race
        if not os.path.lexists(current):
            os.mkdir(current, 0o755)


def _ns(mtime: float) -> int:
    return int(mtime * 1_000_000_000)
