"""COPY and ADD into a mounted (or plain) destination root.

The executor mounts the step's writable overlay at ``merged`` and calls
``copy_into``; the layer is what lands in the upper dir. The rules are
BuildKit's (dockerfile2llb's dispatchCopy and fsutil's copy):

* ``dest`` is relative to WORKDIR; ending in ``/`` (or being ``.``) it names
  a directory. The directory that must exist (``dest`` itself with a
  trailing slash, else its parent) is created with its missing parents,
  each new one owned by ``--chown`` (0:0 without) with mode 0755, or the
  octal ``--chmod`` mode (BuildKit's MkdirAll takes that mode too).
* ``dest`` is resolved inside ``merged`` with its symlinks followed *within
  that root* (saferoot): ``/app -> /etc`` in the image sends the copy to the
  image's /etc, never the host's.
* A directory source copies its contents; the destination directory keeps
  its own owner and mode and takes the source's mtime. Subdirectories and
  files take the source's mode (``--chmod`` over it), owner 0:0 (or the
  source's for ``--from``, or ``--chown``), mtime and xattrs (never
  ``trusted.overlay.*``). Symlinks stay symlinks; hardlinks inside one copy
  stay hardlinks; a directory where a file goes (or a file where a
  directory goes) is an error naming the line; other entries are replaced.
* A file source goes inside an existing directory ``dest``, else becomes
  ``dest``. Several sources need a ``/`` destination (the reference's rule).
* ADD: a local regular file whose *content* is a tar (plain, gzip, bzip2,
  xz, zstd) is extracted into ``dest`` (``addarchive``); a URL is
  downloaded (not extracted), mode 0600, mtime from Last-Modified.
* heredocs (``COPY <<EOF``): a file named after the delimiter, mode 0644.
* ``--link``: works the same on an empty ``merged`` (parents are created);
  pass ``users_root`` to resolve --chown names in the image below it.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .. import saferoot
from ..errors import InvalidInput
from ..volumes.copyup import copy_bytes, copy_xattrs  # the fd-to-fd copy volume copy-up uses
from . import addarchive
from .copymeta import Chmod, parse_chmod, resolve_chown
from .sources import Entry, OpenRoot, Selected, SourceRoot, reopen_parent, walk

FIELD = "build.dockerfile"
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
MAX_KEPT_LINKS = 1024  # hardlinked inodes remembered per copy (past that, copies)


@dataclass
class _Step:
    """One COPY/ADD: its options, resolved once."""

    field_line: str
    instruction: str
    owner: tuple[int, int] | None
    chmod: Chmod | None
    exclude: Sequence[str]
    root_fd: int
    real: str
    links: dict[tuple[int, int], int] = field(default_factory=dict)
    keep_owner: bool = False  # the current source's (COPY --from keeps owners)

    def error(self, what: str, hint: str = "check the destination path in the image") -> InvalidInput:
        return InvalidInput(f"{self.field_line}: {self.instruction} failed: {what}", field=FIELD, hint=hint)

    def dir_mode(self) -> int:
        return self.chmod.octal if self.chmod is not None and self.chmod.octal is not None else 0o755

    def rel_of(self, fd: int) -> str:
        """The path inside the root that ``fd`` names ("/x/y")."""
        path = os.readlink(saferoot.fd_path(fd))
        if path == self.real or path.startswith(self.real.rstrip("/") + "/"):
            return "/" + path[len(self.real):].lstrip("/")
        raise self.error(f"{path} moved out of the destination root while copying")


def heredoc_source(name: str, content: str | bytes) -> Selected:
    """A ``COPY <<name`` document as a source for ``copy_into``."""
    data = content.encode() if isinstance(content, str) else content
    return Selected(SourceRoot(Path("/"), label="heredoc"), "<<" + name, name, name, False, kind="heredoc",
                    data=data)


def copy_into(merged: Path, selected: Sequence[Selected], dest: str, *, workdir: str = "/",
              chown: str | tuple[int, int] | None = None, chmod: str | int | None = None,
              field_line: str = "Dockerfile", instruction: str = "COPY", unpack: bool | None = None,
              checksum: str | None = None, exclude: Sequence[str] = (), users_root: Path | None = None,
              parents: bool = False, url_timeout: float = 10.0) -> None:
    """Copy ``selected`` (from ``sources.select``, ``heredoc_source``) to
    ``dest`` inside ``merged``. ``chown`` names are resolved in
    ``users_root`` (default ``merged``); ``unpack`` defaults to True for ADD;
    ``checksum`` ("sha256:...") is verified for an ADD URL; ``exclude`` are
    ``--exclude`` patterns; ``parents`` is ``--parents``."""
    mode = parse_chmod(chmod, field_line)
    owner = resolve_chown(chown, users_root if users_root is not None else merged, field_line)
    target, is_dir_dest = _dest_rel(dest, workdir)
    if len(selected) > 1 and not is_dir_dest:
        raise InvalidInput(f"{field_line}: {instruction} with more than one source needs a destination "
                           f"directory ending in '/' (got {dest!r})", field=FIELD, hint=f"write {dest}/")
    if not selected:
        return  # a wildcard that matched nothing: BuildKit copies nothing and creates nothing
    root_fd = saferoot.open_root(merged)
    step = _Step(field_line, instruction, owner, mode, exclude, root_fd, os.readlink(saferoot.fd_path(root_fd)))
    try:
        os.close(_make_dirs(step, target if is_dir_dest or parents else posixpath.dirname(target)))
        for item in selected:
            item_target = target
            if parents and item.parents and item.kind == "local":
                _parent_dirs(step, item, target)
                item_target = posixpath.join(target, item.parents)
            _copy_one(step, item, item_target, unpack if unpack is not None else instruction == "ADD",
                      checksum, url_timeout)
    except OSError as err:
        if err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS):
            raise
        raise step.error(f"{err.strerror or err}: {err.filename or dest}") from None
    finally:
        for fd in step.links.values():
            os.close(fd)
        os.close(root_fd)


def write_heredoc(merged: Path, name: str, content: str | bytes, dest: str, **options: object) -> None:
    """``COPY <<name dest``: ``copy_into`` with one heredoc source."""
    copy_into(merged, [heredoc_source(name, content)], dest, **options)  # type: ignore[arg-type]


def _dest_rel(dest: str, workdir: str) -> tuple[str, bool]:
    """The destination relative to the root, and whether it names a directory."""
    if dest in ("", "."):
        dest = "./"
    is_dir = dest.endswith("/") or dest.endswith("/.")
    path = posixpath.normpath(posixpath.join("/", workdir or "/", dest))
    return path.lstrip("/"), is_dir


# -- directories ----------------------------------------------------------------
def _parts(rel: str) -> list[str]:
    return [p for p in rel.split("/") if p not in ("", ".")]


def _follow(step: _Step, fd: int, name: str, rest: list[str]) -> list[str]:
    """The components to walk from the root after the symlink ``name`` in
    the directory ``fd``: its target re-rooted (``..`` stops at the root)."""
    link = os.readlink(name, dir_fd=fd)
    return _parts(posixpath.normpath(posixpath.join("/", step.rel_of(fd), link))) + rest


def _restart_at_link(step: _Step, fd: int, part: str, todo: list[str], hops: int,
                     rel: str) -> tuple[int, list[str], int]:
    """The walk after the symlink ``part``: from the root again, with its
    target in front of what is left (bounded like the kernel's hops)."""
    hops += 1
    if hops > saferoot.MAX_SYMLINK_HOPS:
        raise step.error(f"too many levels of symlinks in {'/' + rel!r}")
    todo = _follow(step, fd, part, todo)
    os.close(fd)
    return os.dup(step.root_fd), todo, hops


def _make_dirs(step: _Step, rel: str, mode: int | None = None) -> int:
    """The directory ``rel``, missing components created, each step an
    ``*at`` call on the directory resolved before it. Symlinks (dangling ones
    too, as BuildKit's RootPath) are followed inside the root by hand."""
    todo = _parts(rel)
    fd = os.dup(step.root_fd)
    hops = 0
    try:
        while todo:
            part = todo.pop(0)
            if part == "..":  # only from a link target already normalised: never above the root
                continue
            info = saferoot.lstat_at(fd, part)
            if info is not None and stat.S_ISLNK(info.st_mode):
                fd, todo, hops = _restart_at_link(step, fd, part, todo, hops, rel)
                continue
            if info is not None and not stat.S_ISDIR(info.st_mode):
                raise step.error(f"{step.rel_of(fd).rstrip('/')}/{part} exists and is not a directory")
            next_fd = os.open(part, _DIR_FLAGS, dir_fd=fd) if info is not None else _new_dir(step, fd, part, mode)
            os.close(fd)
            fd = next_fd
        return fd
    except BaseException:
        os.close(fd)
        raise


def _new_dir(step: _Step, parent: int, name: str, mode: int | None) -> int:
    os.mkdir(name, 0o700, dir_fd=parent)
    fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
    os.fchown(fd, *(step.owner or (0, 0)))
    os.fchmod(fd, step.dir_mode() if mode is None else mode)
    return fd


def _resolve(step: _Step, rel: str) -> str:
    """``rel`` with every existing symlink, the last one too, followed inside
    the root (what BuildKit's RootPath gives); missing parts kept as named."""
    todo = _parts(rel)
    fd = os.dup(step.root_fd)
    hops = 0
    try:
        while todo:
            part = todo.pop(0)
            info = saferoot.lstat_at(fd, part)
            if info is None or not (stat.S_ISDIR(info.st_mode) or stat.S_ISLNK(info.st_mode)):
                return "/".join([*_parts(step.rel_of(fd)), part, *todo])
            if stat.S_ISLNK(info.st_mode):
                fd, todo, hops = _restart_at_link(step, fd, part, todo, hops, rel)
                continue
            next_fd = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = next_fd
        return "/".join(_parts(step.rel_of(fd)))
    finally:
        os.close(fd)


# -- one source -------------------------------------------------------------------
def _parent_dirs(step: _Step, item: Selected, target: str) -> None:
    """--parents: the directories between ``target`` and the entry, made as
    copies of the source's own directories (mode, owner, xattrs), as
    BuildKit's createParentDirs does; existing ones are left alone."""
    kept = item.parents.split("/")[:-1]
    above = item.rel.split("/")[:len(item.rel.split("/")) - len(item.parents.split("/"))]
    fd = _make_dirs(step, target)
    try:
        with OpenRoot(item.root) as opened:
            step.keep_owner = opened.root.keep_owner
            for depth, name in enumerate(kept, 1):
                source_fd = opened.open("/".join(above + kept[:depth]))
                if source_fd is None:
                    raise FileNotFoundError(errno.ENOENT, "not found", item.source)
                try:
                    source_parent, source_name = reopen_parent(source_fd)
                finally:
                    os.close(source_fd)
                try:
                    info = os.stat(source_name, dir_fd=source_parent, follow_symlinks=False)
                    entry = Entry(name, info, source_parent, source_name)
                    next_fd = _copy_entry(step, entry, fd, name, f"/{target}/{name}") \
                        if saferoot.lstat_at(fd, name) is None else os.open(name, _DIR_FLAGS, dir_fd=fd)
                finally:
                    os.close(source_parent)
                os.close(fd)
                fd = next_fd if next_fd is not None else os.dup(step.root_fd)
    finally:
        os.close(fd)


def _copy_one(step: _Step, item: Selected, target: str, unpack: bool, checksum: str | None,
              timeout: float) -> None:
    if item.kind == "heredoc":
        _write_data(step, target, item.name, item.data)
    elif item.kind == "url":
        with addarchive.download(item.source, item.name, checksum, step.field_line, timeout) as (folder, name):
            local = Selected(SourceRoot(folder, label="download"), item.source, name, item.name, False)
            with OpenRoot(local.root) as opened:
                _copy_tree(step, opened, local, target)
    else:
        with OpenRoot(item.root) as opened:
            if unpack and not item.is_dir and _try_unpack(step, opened, item, target):
                return
            _copy_tree(step, opened, item, target)


def _try_unpack(step: _Step, opened: OpenRoot, item: Selected, target: str) -> bool:
    source = opened.open(item.rel)
    if source is None:
        raise FileNotFoundError(errno.ENOENT, "not found", item.source)
    try:
        if not stat.S_ISREG(os.fstat(source).st_mode):
            return False
        reader = os.open(saferoot.fd_path(source), _READ_FLAGS & ~os.O_NOFOLLOW)
    finally:
        os.close(source)
    try:
        if not addarchive.is_archive(reader):
            return False
        dest_fd = _make_dirs(step, target, 0o755)  # BuildKit's unpack: 0755 whatever --chmod says
        try:
            addarchive.extract(reader, dest_fd, owner=step.owner, field_line=step.field_line, source=item.source)
        finally:
            os.close(dest_fd)
        return True
    finally:
        os.close(reader)


def _place(step: _Step, target: str, name: str, source_is_dir: bool) -> tuple[int, str]:
    """Where a source lands: (parent fd, name). A file goes inside an
    existing directory; a directory source's contents go into ``target``
    (created when missing), returned as (its fd, ".")."""
    resolved = _resolve(step, target)
    if source_is_dir:
        return _make_dirs(step, resolved), "."
    parent_rel, leaf = saferoot.split_parent(resolved)
    if not leaf:
        return os.dup(step.root_fd), name
    parent = _make_dirs(step, parent_rel)
    info = saferoot.lstat_at(parent, leaf)
    if info is not None and stat.S_ISDIR(info.st_mode):
        inner = os.open(leaf, _DIR_FLAGS, dir_fd=parent)
        os.close(parent)
        return inner, name
    return parent, leaf


def _write_data(step: _Step, target: str, name: str, data: bytes) -> None:
    parent, leaf = _place(step, target, name, False)
    try:
        _clear(step, parent, leaf, False, "/" + target)
        fd = os.open(leaf, _CREATE, 0o600, dir_fd=parent)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fchown(fd, *(step.owner or (0, 0)))
            os.fchmod(fd, step.chmod.apply(0o644, False) if step.chmod else 0o644)
        finally:
            os.close(fd)
    finally:
        os.close(parent)


def _clear(step: _Step, parent: int, name: str, is_dir: bool, shown: str) -> bool:
    """Make room for an entry; True when a directory is already there (and
    one is wanted). A file never replaces a directory, nor the reverse."""
    info = saferoot.lstat_at(parent, name)
    if info is None:
        return False
    if stat.S_ISDIR(info.st_mode):
        if not is_dir:
            raise step.error(f"cannot replace the directory {shown} with a file")
        return True
    if is_dir:
        raise step.error(f"cannot copy a directory to {shown}: a file is there")
    os.unlink(name, dir_fd=parent)
    return False


# -- trees --------------------------------------------------------------------------
def _copy_tree(step: _Step, opened: OpenRoot, item: Selected, target: str) -> None:
    """The source entry (and below) to ``target``. Directory times are set
    when the walk leaves them (their children would change them)."""
    stack: list[tuple[str, int, os.stat_result]] = []  # (source path, dest dir fd, source lstat)
    step.keep_owner = opened.root.keep_owner
    parent, leaf = _place(step, target, item.name, item.is_dir)
    try:
        for entry in walk(opened, item, step.exclude):
            while stack and not _inside(entry.path, stack[-1][0]):
                _leave(stack.pop())
            if entry.path == "":
                if stat.S_ISDIR(entry.info.st_mode):
                    stack.append(("", _open_dest_dir(parent, leaf), entry.info))
                    continue
                _copy_entry(step, entry, parent, leaf, "/" + target)
                continue
            dest_dir = stack[-1][1]
            fd = _copy_entry(step, entry, dest_dir, entry.name, posixpath.join("/" + target, entry.path))
            if fd is not None:
                stack.append((entry.path, fd, entry.info))
        while stack:
            _leave(stack.pop())
    finally:
        for _path, fd, _info in stack:
            os.close(fd)
        os.close(parent)


def _inside(path: str, directory: str) -> bool:
    return directory == "" or path.startswith(directory + "/")


def _open_dest_dir(parent: int, leaf: str) -> int:
    return os.open(leaf, _DIR_FLAGS, dir_fd=parent) if leaf != "." else os.open(".", _DIR_FLAGS, dir_fd=parent)


def _leave(frame: tuple[str, int, os.stat_result]) -> None:
    _path, fd, info = frame
    try:
        os.utime(fd, ns=(info.st_atime_ns, info.st_mtime_ns))
    finally:
        os.close(fd)


def _copy_entry(step: _Step, entry: Entry, parent: int, name: str, shown: str) -> int | None:
    """One entry; returns the new directory's descriptor for a directory."""
    mode = entry.info.st_mode
    if stat.S_ISSOCK(mode):
        return None  # cannot be copied
    if stat.S_ISDIR(mode):
        if not _clear(step, parent, name, True, shown):
            os.mkdir(name, 0o700, dir_fd=parent)
        fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
        _fd_metadata(step, entry, fd)
        return fd
    _clear(step, parent, name, False, shown)
    if stat.S_ISREG(mode):
        _copy_file(step, entry, parent, name)
    elif stat.S_ISLNK(mode):
        os.symlink(os.readlink(entry.name, dir_fd=entry.dir_fd), name, dir_fd=parent)
        os.chown(name, *_owner(step, entry), dir_fd=parent, follow_symlinks=False)
        _times_at(entry, parent, name)
    else:  # fifo or device node, made again, never opened
        os.mknod(name, stat.S_IFMT(mode) | 0o600, entry.info.st_rdev, dir_fd=parent)
        os.chown(name, *_owner(step, entry), dir_fd=parent, follow_symlinks=False)
        os.chmod(name, _mode(step, entry), dir_fd=parent, follow_symlinks=False)
        _times_at(entry, parent, name)
    return None


def _copy_file(step: _Step, entry: Entry, parent: int, name: str) -> None:
    key = (entry.info.st_dev, entry.info.st_ino)
    if entry.info.st_nlink > 1 and key in step.links:
        os.link(saferoot.fd_path(step.links[key]), name, dst_dir_fd=parent, follow_symlinks=True)
        return
    source = os.open(entry.name, _READ_FLAGS, dir_fd=entry.dir_fd)
    try:
        if not stat.S_ISREG(os.fstat(source).st_mode):
            return  # replaced since the walk saw it: copy nothing rather than something else
        fd = os.open(name, _CREATE, 0o600, dir_fd=parent)
        try:
            copy_bytes(source, fd)
            _fd_metadata(step, entry, fd, source)
        finally:
            if entry.info.st_nlink > 1 and len(step.links) < MAX_KEPT_LINKS:
                step.links[key] = os.open(saferoot.fd_path(fd), os.O_PATH | os.O_CLOEXEC)
            os.close(fd)
    finally:
        os.close(source)


def _owner(step: _Step, entry: Entry) -> tuple[int, int]:
    if step.owner is not None:
        return step.owner
    return (entry.info.st_uid, entry.info.st_gid) if step.keep_owner else (0, 0)


def _mode(step: _Step, entry: Entry) -> int:
    bits = stat.S_IMODE(entry.info.st_mode)
    return step.chmod.apply(bits, stat.S_ISDIR(entry.info.st_mode)) if step.chmod else bits


def _fd_metadata(step: _Step, entry: Entry, fd: int, source: int | None = None) -> None:
    """Owner, then mode (chown clears set-id bits), xattrs, times (files)."""
    os.fchown(fd, *_owner(step, entry))
    os.fchmod(fd, _mode(step, entry))
    opened = source if source is not None else _open_source_dir(entry)
    if opened is not None:
        try:
            copy_xattrs(opened, fd)
        finally:
            if source is None:
                os.close(opened)
    if source is not None:
        os.utime(fd, ns=(entry.info.st_atime_ns, entry.info.st_mtime_ns))


def _open_source_dir(entry: Entry) -> int | None:
    try:
        return os.open(entry.name, _DIR_FLAGS, dir_fd=entry.dir_fd)
    except OSError:
        return None


def _times_at(entry: Entry, parent: int, name: str) -> None:
    os.utime(name, ns=(entry.info.st_atime_ns, entry.info.st_mtime_ns), dir_fd=parent, follow_symlinks=False)
