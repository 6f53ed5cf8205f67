"""`docker cp` for berth: a host file or directory (or a tar stream) into a
container path, and a container path out to the host (or as a tar stream).

**Whose filesystem.** A running container is reached through its init's
root as its mount namespace sees it (``/proc/<pid>/root``), so its volumes,
binds and tmpfs mounts are the ones it sees; the pid is checked against the
record's start time after the root is opened (a recycled pid is another
process). A created or stopped container has no mount namespace: its image
layers and writable layer are mounted as an overlay attached nowhere
(rootfs_mount.py) for the copy (read-only for a copy out; writable into the
container's own upper dir for a copy in). Its volumes are then not seen: they are mounted only while
it runs.

**Inside the root.** Every container path is resolved with the container's
root as ``/`` (saferoot: ``openat2(RESOLVE_IN_ROOT)``), and the trees are
read and written through descriptors (copyfs.py), so no symlink, however
placed, takes the copy out of the container.

**Docker's rules** (``resolve_destination``): a file onto a missing path is
created there, onto a file replaces it, into a directory keeps its name; a
directory onto a missing path becomes that path, into a directory keeps its
name — or, when the source ends in ``/.``, has its contents merged there; a
destination ending in ``/`` must be an existing directory; the destination's
parent must exist. Copied in, files belong to root (0:0); copied out, to the
caller; ``archive`` (``-a``) keeps the source's owners. ``follow_link``
(``-L``) copies what a final symlink of the source names.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .. import lifecycle
from ..engine import Engine
from ..errors import BerthError, InvalidInput, InvalidState, NotFound
from ..saferoot import MAX_SYMLINK_HOPS, lstat_at, open_in_root, open_parent, open_root, split_parent
from . import copyfs
from .store import ContainerStore

HOST_ROOT = "/"


@dataclass(frozen=True)
class Source:
    """A resolved path to copy from: the directory holding it and its name there."""

    parent_fd: int
    name: str
    copy_name: str        # the name the copy gets: the link's own with -L
    is_dir: bool
    contents_only: bool   # "dir/.": the directory's contents, not the directory


@dataclass(frozen=True)
class Destination:
    """Where the top of the copied tree goes: under ``name`` in ``dir_fd``, or merged into ``dir_fd`` (None)."""

    dir_fd: int
    name: str | None


def copy_in(engine: Engine, ref: str, source: str | IO[bytes], path: str, *, archive: bool = False,
            follow_link: bool = False) -> dict[str, Any]:
    """Copy the host path ``source`` (or a tar stream) to ``path`` in the container ``ref``."""
    engine.require_writable(f"copy into container {ref}")
    owner = None if archive else (0, 0)
    what = source if isinstance(source, str) else "the tar on stdin"
    with container_root(engine, ref, writable=True) as (root_fd, name):
        where = f"container {name}"
        with _os_errors(f"copying {what} to {name}:{path}"):
            if not isinstance(source, str):
                return {"entries": _untar_into(source, root_fd, path, owner, where)}
            with _host_root() as host_fd:
                return {"entries": copy_tree(host_fd, _absolute(source), "host", root_fd, path, where,
                                             owner=owner, follow_link=follow_link)}


def copy_out(engine: Engine, ref: str, path: str, dest: str | IO[bytes], *, archive: bool = False,
             follow_link: bool = False) -> dict[str, Any]:
    """Copy ``path`` of the container ``ref`` to the host path ``dest`` (or as a tar stream)."""
    owner = None if archive else (os.getuid(), os.getgid())
    what = dest if isinstance(dest, str) else "stdout"
    with container_root(engine, ref, writable=False) as (root_fd, name):
        where = f"container {name}"
        with _os_errors(f"copying {name}:{path} to {what}"):
            if not isinstance(dest, str):
                return {"entries": _tar_out_of(root_fd, path, dest, where, follow_link)}
            with _host_root() as host_fd:
                return {"entries": copy_tree(root_fd, path, where, host_fd, _absolute(dest), "host",
                                             owner=owner, follow_link=follow_link)}


# -- the rules -----------------------------------------------------------------------
def copy_tree(src_root: int, src_path: str, src_where: str, dst_root: int, dst_path: str, dst_where: str, *,
              owner: tuple[int, int] | None, follow_link: bool) -> int:
    """docker cp between two roots; the number of entries written."""
    source = resolve_source(src_root, src_path, src_where, follow_link)
    try:
        dest = resolve_destination(dst_root, dst_path, dst_where, source, src_path)
        try:
            entries = copyfs.walk(source.parent_fd, source.name)
            return copyfs.TreeWriter(dest.dir_fd, dest.name, owner).write_all(entries)
        finally:
            os.close(dest.dir_fd)
    finally:
        os.close(source.parent_fd)


def resolve_source(root_fd: int, path: str, where: str, follow_link: bool) -> Source:
    """The source path opened inside its root; NotFound naming path and side when it is missing.
    With ``follow_link`` a final symlink is followed — inside the root, hop by hop — and what it
    names is copied under the link's own name."""
    wants_dir = path.endswith("/")
    contents_only = path.endswith("/.") or path == "."
    rel = path.rstrip("/")
    if contents_only:
        rel = rel[:-1].rstrip("/") if rel.endswith(".") else rel
    copy_name = split_parent(rel)[1]
    for _hop in range(MAX_SYMLINK_HOPS + 1):
        parent_fd, name, st = _lstat_source(root_fd, rel, path, where)
        if not (follow_link and stat.S_ISLNK(st.st_mode)):
            break
        target = os.readlink(name, dir_fd=parent_fd)
        os.close(parent_fd)
        rel = target if target.startswith("/") else f"{split_parent(rel)[0]}/{target}"
    else:
        raise InvalidInput(f"{path}: too many levels of symbolic links in the {where}", field="source",
                           hint="copy the link itself (without -L)")
    is_dir = stat.S_ISDIR(st.st_mode)
    if (wants_dir or contents_only) and not is_dir:
        os.close(parent_fd)
        raise InvalidInput(f"{path}: not a directory in the {where}", field="source",
                           hint="drop the trailing '/' to copy a file")
    return Source(parent_fd, name, copy_name or name, is_dir, contents_only or name == ".")


def _lstat_source(root_fd: int, rel: str, path: str, where: str) -> tuple[int, str, os.stat_result]:
    """The directory holding ``rel`` (resolved inside the root), its last name there and its own stat."""
    parent, name = split_parent(rel)
    _refuse_dot_dot(name, path, "source")
    missing = NotFound(f"{path}: no such file or directory in the {where}", field="source",
                       hint="check the path (`berth exec CONTAINER ls` lists a running one's files)")
    try:
        parent_fd = open_in_root(root_fd, parent, os.O_PATH | os.O_DIRECTORY)
    except (FileNotFoundError, NotADirectoryError):
        raise missing from None
    if not name:   # the root itself: its contents
        return parent_fd, ".", os.fstat(parent_fd)
    st = lstat_at(parent_fd, name)
    if st is None:
        os.close(parent_fd)
        raise missing
    return parent_fd, name, st


def resolve_destination(root_fd: int, path: str, where: str, source: Source, src_path: str) -> Destination:
    """Where the copy goes, by docker cp's rules (module docstring)."""
    try:
        target = open_in_root(root_fd, path, os.O_PATH)
    except FileNotFoundError:
        return _missing_destination(root_fd, path, where)
    except NotADirectoryError:
        if path.endswith("/") and _exists(root_fd, path.rstrip("/")):
            raise InvalidInput(f"{path}: not a directory in the {where}", field="destination",
                               hint="drop the trailing '/' to name a file") from None
        return _missing_destination(root_fd, path, where)
    try:
        is_dir = stat.S_ISDIR(os.fstat(target).st_mode)
    except BaseException:
        os.close(target)
        raise
    if is_dir:
        if source.contents_only:
            return Destination(_reopen_dir(target), None)
        return Destination(_reopen_dir(target), source.copy_name)
    os.close(target)
    if path.endswith("/"):
        raise InvalidInput(f"{path}: not a directory in the {where}", field="destination",
                           hint="drop the trailing '/' to name a file")
    if source.is_dir:
        raise InvalidInput(f"cannot copy the directory {src_path} to the file {path} in the {where}",
                           field="destination", hint="name a directory (or a path that does not exist yet)")
    parent_fd, name = open_parent(root_fd, path)
    return Destination(parent_fd, name)


def _missing_destination(root_fd: int, path: str, where: str) -> Destination:
    if path.endswith("/"):
        raise NotFound(f"the destination directory {path} does not exist in the {where}", field="destination",
                       hint="create it first, or drop the trailing '/' to copy to that name")
    parent, name = split_parent(path)
    _refuse_dot_dot(name, path, "destination")
    try:
        parent_fd = open_in_root(root_fd, parent, os.O_RDONLY | os.O_DIRECTORY)
    except (FileNotFoundError, NotADirectoryError):
        raise NotFound(f"the parent directory of {path} does not exist in the {where}", field="destination",
                       hint=f"create {parent or '/'} first") from None
    return Destination(parent_fd, name)


def _exists(root_fd: int, path: str) -> bool:
    try:
        os.close(open_in_root(root_fd, path, os.O_PATH, follow_last=False))
    except OSError:
        return False
    return True


def _refuse_dot_dot(name: str, path: str, field: str) -> None:
    """A final '..' would be looked up from its parent's descriptor, above the root at the root."""
    if name == "..":
        raise InvalidInput(f"{path} ends in '..'", field=field, hint="name the directory itself")


def _reopen_dir(path_fd: int) -> int:
    """An O_PATH descriptor reopened for reading (the *at calls of the writer need a real one)."""
    try:
        return os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=path_fd)
    finally:
        os.close(path_fd)


def _untar_into(stream: IO[bytes], root_fd: int, path: str, owner: tuple[int, int] | None, where: str) -> int:
    """``docker cp - CONTAINER:DIR``: the tar's members below an existing directory."""
    try:
        dir_fd = open_in_root(root_fd, path, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        raise NotFound(f"the destination directory {path} does not exist in the {where}", field="destination",
                       hint="a tar from stdin is extracted into an existing directory") from None
    except NotADirectoryError:
        raise InvalidInput(f"{path} is not a directory in the {where}", field="destination",
                           hint="a tar from stdin is extracted into a directory") from None
    try:
        return copyfs.TreeWriter(dir_fd, None, owner).write_all(copyfs.read_tar(stream))
    finally:
        os.close(dir_fd)


def _tar_out_of(root_fd: int, path: str, stream: IO[bytes], where: str, follow_link: bool) -> int:
    """``docker cp CONTAINER:PATH -``: the tree as a tar, its top named after the path."""
    source = resolve_source(root_fd, path, where, follow_link)
    try:
        top = "" if source.contents_only else source.copy_name
        return copyfs.write_tar(copyfs.walk(source.parent_fd, source.name), stream, top)
    finally:
        os.close(source.parent_fd)


@contextlib.contextmanager
def _os_errors(what: str) -> Iterator[None]:
    """OS errors of a copy (a full disk, a read-only root, no permission) and unreadable tars as the
    engine's errors, naming the copy."""
    import tarfile

    try:
        yield
    except BerthError:
        raise
    except tarfile.TarError as err:
        raise InvalidInput(f"{what}: the tar stream is unreadable: {err}", field="source",
                           hint="give a tar (plain, gzip, bzip2 or xz) on stdin") from None
    except OSError as err:
        where = f" ({err.filename})" if err.filename else ""
        raise InvalidState(f"{what} failed: {err.strerror or err}{where}", field="destination",
                           hint="check the space, the permissions and whether the filesystem is read-only"
                           ) from None


# -- the roots -----------------------------------------------------------------------
@contextlib.contextmanager
def _host_root() -> Iterator[int]:
    fd = open_root(HOST_ROOT)
    try:
        yield fd
    finally:
        os.close(fd)


def _absolute(path: str) -> str:
    """A host path as given, relative ones against the working directory (a trailing '/' or '/.' kept)."""
    return os.path.join(os.getcwd(), path)


@contextlib.contextmanager
def container_root(engine: Engine, ref: str, *, writable: bool) -> Iterator[tuple[int, str]]:
    """A descriptor of the container's root directory and the container's name."""
    from .service import ContainerService

    record = ContainerService(engine).current(ref)
    state = record.lifecycle
    if state == lifecycle.CREATING:
        raise InvalidState(f"container {record.name} is still being created", field="container",
                           hint="try again when its create has finished")
    if record.running and record.state.pid:
        fd = _live_root(record.state.pid, record.state.pid_start, record.name)
        try:
            yield fd, record.name
        finally:
            os.close(fd)
        return
    with _mounted_root(engine, record.id, record.name, writable) as fd:
        yield fd, record.name


def _live_root(pid: int, pid_start: int | None, name: str) -> int:
    from ..runtime.state import start_time

    try:
        fd = os.open(f"/proc/{pid}/root", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        fd = -1
    if fd >= 0 and (pid_start is None or start_time(pid) == pid_start):
        return fd
    if fd >= 0:
        os.close(fd)
    raise InvalidState(f"container {name} stopped while the copy began", field="container",
                       hint="run the copy again: a stopped container is copied through its layers")


@contextlib.contextmanager
def _mounted_root(engine: Engine, container_id: str, name: str, writable: bool) -> Iterator[int]:
    """The stopped container's layers as an overlay for the copy's length: attached nowhere
    (rootfs_mount.py) where the kernel takes the options so (fsconfig caps a value at 256 bytes:
    a few layers' paths), else mounted on a scratch directory as ``export`` does (a page of options)."""
    from .rootfs_mount import detached_overlay, overlay_options

    bundle = ContainerStore(engine).directory(container_id) / "bundle"
    lowers = [Path(p) for p in _lowerdirs(bundle, name).split(":")]
    options = overlay_options(lowers, bundle / "upper", bundle / "work", writable=writable)
    mount = detached_overlay if max(len(v) for v in options.values()) < 256 else _scratch_overlay
    with mount(options, writable=writable, label=f"container {name}") as fd:
        yield fd


@contextlib.contextmanager
def _scratch_overlay(options: dict[str, str], *, writable: bool, label: str) -> Iterator[int]:
    import tempfile

    from ..syscalls import MNT_DETACH, MS_RDONLY, default_syscalls

    calls = default_syscalls()
    with tempfile.TemporaryDirectory(prefix="berth-cp-") as scratch:
        data = ",".join(f"{key}={value}" for key, value in options.items())
        try:
            calls.mount("overlay", scratch, "overlay", 0 if writable else MS_RDONLY, data)
        except BerthError as err:
            raise InvalidState(f"cannot mount the filesystem of {label}: {err.message}", field="container",
                               hint="is it starting right now? try again") from None
        try:
            fd = open_root(scratch)
            try:
                yield fd
            finally:
                os.close(fd)
        finally:
            calls.umount2(scratch, MNT_DETACH)


def _lowerdirs(bundle: Path, name: str) -> str:
    """The image layers the container's root is made of, as its bundle names them."""
    import json

    try:
        config = json.loads((bundle / "config.json").read_text())
    except (OSError, ValueError):
        raise InvalidState(f"container {name} has no readable bundle", field="container",
                           hint="remove and create it again") from None
    for mount in config.get("mounts") or []:
        if mount.get("destination") == "/" and mount.get("type") == "overlay":
            for option in mount.get("options") or []:
                if option.startswith("lowerdir="):
                    return option[len("lowerdir="):]
    raise InvalidState(f"container {name}'s bundle names no root filesystem", field="container",
                       hint="remove and create it again")
