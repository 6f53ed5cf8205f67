"""One file at a path inside a container: what is there now, and writing it
(the ``container_copy_into`` module; ``docker cp`` of trees is copying.py).

A running container is reached through the root its mount namespace sees
(``/proc/<pid>/root``), so its volumes and binds are where its processes see
them; a created or exited one through a detached overlay of its layers
(rootfs_mount.py), a read-only one for reading. Every lookup goes through
``saferoot`` from that root's descriptor: a symlink in the container, however
it points, resolves inside the container's root, never on the host. Parent
directories are not made (docker cp and Docker's archive API refuse a missing
one too); the file is written atomically (a temp file in the same directory,
owner and mode set on it, fsync, rename over the old entry).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import secrets
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from .. import lifecycle
from ..engine import Engine
from ..errors import InvalidInput, InvalidState
from ..image.store import ImageStore
from ..saferoot import MAX_SYMLINK_HOPS, lstat_at, open_in_root, split_parent
from .record import ContainerRecord
from .rootfs_mount import detached_overlay, overlay_options
from .store import ContainerStore

MAX_DIFF_BYTES = 104448   # ansible-core's MAX_FILE_SIZE_FOR_DIFF default: larger files get no text diff
CHUNK = 1 << 16
FIELD = "container_path"


@dataclass(frozen=True)
class Entry:
    """What a path holds, as far as a comparison needs: ``kind`` is absent,
    file, symlink, directory or other; ``text`` is a regular file's content
    when it is text of at most MAX_DIFF_BYTES (else ``binary``/``larger``)."""

    kind: str
    mode: int | None = None      # permission bits with setuid, setgid and sticky
    uid: int | None = None
    gid: int | None = None
    size: int = 0
    digest: str | None = None    # sha256 of a regular file's content
    target: str | None = None    # a symlink's
    text: str | None = None
    binary: bool = False
    larger: bool = False


ABSENT = Entry("absent")


@dataclass(frozen=True)
class Source:
    """What to write: the bytes of ``content``, or the local file at ``path``,
    or (``target`` set) a symlink."""

    content: bytes | None = None
    path: str | None = None
    target: str | None = None

    @contextlib.contextmanager
    def reader(self) -> Iterator[BinaryIO]:
        import io

        if self.content is not None:
            yield io.BytesIO(self.content)
            return
        with open(self.path or "", "rb") as handle:
            yield handle


# -- reaching a container's root ------------------------------------------------------
def _pid_alive(record: ContainerRecord) -> bool:
    from ..runtime.state import start_time

    state = record.state
    return state.pid > 0 and start_time(state.pid) is not None and (
        state.pid_start is None or start_time(state.pid) == state.pid_start)


def is_running(record: ContainerRecord) -> bool:
    """Its process is alive: writes go through its mount namespace."""
    return lifecycle.is_active(record.lifecycle) and _pid_alive(record)


@contextlib.contextmanager
def container_root(engine: Engine, record: ContainerRecord, *, writable: bool = False) -> Iterator[int]:
    """A descriptor of the container's root directory (see the module doc)."""
    if is_running(record):
        with _process_root(record) as fd:
            yield fd
        return
    if lifecycle.is_active(record.lifecycle):   # restarting, or its process gone behind the engine's back
        raise InvalidState(f"container {record.name} is {record.lifecycle} but has no live process",
                           field="container", hint="wait until it runs (or stop it), then try again")
    directory = ContainerStore(engine).directory(record.id) / "bundle"
    image = ImageStore(engine).get(record.image_id or "")
    lowers = engine.snapshots.lowerdirs(image.top_chain_id or "")
    options = overlay_options(lowers, directory / "upper", directory / "work", writable=writable)
    with detached_overlay(options, writable=writable, label=f"container {record.name}") as fd:
        yield fd


@contextlib.contextmanager
def _process_root(record: ContainerRecord) -> Iterator[int]:
    try:
        fd = os.open(f"/proc/{record.state.pid}/root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        fd = -1
    # checked after the open: a pid recycled meanwhile would be another process's root
    if fd < 0 or not _pid_alive(record):
        if fd >= 0:
            os.close(fd)
        raise InvalidState(f"container {record.name} stopped while its filesystem was being reached",
                           field="container", hint="run the task again")
    try:
        yield fd
    finally:
        os.close(fd)


def _bundle_config(engine: Engine, record: ContainerRecord, wanted_for: str) -> dict[str, Any]:
    path = ContainerStore(engine).directory(record.id) / "bundle" / "config.json"
    try:
        document = json.loads(path.read_bytes())
    except (OSError, ValueError):
        document = None
    if not isinstance(document, dict):
        raise InvalidState(f"container {record.name} has no readable bundle config", field=wanted_for,
                           hint="re-create the container")
    return document


def default_owner(engine: Engine, record: ContainerRecord) -> tuple[int, int]:
    """The uid and gid the container's process runs as (its bundle's
    ``process.user``): what ``id -u``/``id -g`` in it would print, which is
    community.docker's default owner of a copied file."""
    user = (_bundle_config(engine, record, "owner_id").get("process") or {}).get("user") or {}
    try:
        return int(user.get("uid", 0)), int(user.get("gid", 0))
    except (TypeError, ValueError):
        raise InvalidState(f"container {record.name}'s bundle names no usable user", field="owner_id",
                           hint="give owner_id and group_id") from None


def refuse_hidden_path(engine: Engine, record: ContainerRecord, path: str) -> None:
    """A stopped container has none of its mounts (volumes, binds, tmpfs,
    /etc/hosts ...): a file written at or below one of their destinations
    would land in its writable layer, hidden once it starts. Refused, as
    the mount is what the container would see there."""
    mounts = _bundle_config(engine, record, FIELD).get("mounts") or []
    for mount in mounts:
        destination = normalise_mount(mount.get("destination") if isinstance(mount, dict) else None)
        if destination and (path == destination or path.startswith(destination.rstrip("/") + "/")):
            raise InvalidInput(f"{path} is on the container's mount at {destination}, which is mounted only "
                               f"while container {record.name} runs", field=FIELD,
                               hint="start the container first, or write into the volume itself")


def normalise_mount(destination: object) -> str | None:
    if not isinstance(destination, str) or not destination.startswith("/") or destination.strip("/") == "":
        return None   # the root mount, or nothing usable
    return "/" + "/".join(p for p in destination.split("/") if p not in ("", "."))


# -- paths inside the root ------------------------------------------------------------
def normalise(path: str) -> str:
    """An absolute container path, ``.``/``..`` and doubled slashes folded
    lexically (as community.docker's normpath); the root itself is refused."""
    if not path.startswith("/"):
        raise InvalidInput(f"{path!r} is not an absolute path", field=FIELD, hint="start it with /, e.g. /etc/app.conf")
    parts: list[str] = []
    for part in path.split("/"):
        if part == "..":
            if parts:
                parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    if not parts:
        raise InvalidInput("the container's root directory is not a file", field=FIELD,
                           hint="name a file, e.g. /etc/app.conf")
    return "/" + "/".join(parts)


def real_path(root_fd: int, path: str) -> str:
    """``path`` with every symlink on it (the last included) resolved inside
    the root: the path the file really has in the container (``follow``)."""
    done: list[str] = []
    todo = [p for p in path.split("/") if p not in ("", ".")]
    hops = 0
    while todo:
        part = todo.pop(0)
        if part == "..":
            if done:
                done.pop()
            continue
        target = _link_target(root_fd, "/".join([*done, part]))
        if target is None:
            done.append(part)
            continue
        hops += 1
        if hops > MAX_SYMLINK_HOPS:
            raise InvalidInput(f"{path}: more than {MAX_SYMLINK_HOPS} symbolic links on the way (a loop)",
                               field=FIELD, hint="fix the links in the container, or set follow: false")
        if target.startswith("/"):
            done = []
        todo = [p for p in target.split("/") if p not in ("", ".")] + todo
    return "/" + "/".join(done)


def _link_target(root_fd: int, rel: str) -> str | None:
    parent, name = split_parent(rel)
    try:
        parent_fd = open_in_root(root_fd, parent, os.O_PATH | os.O_DIRECTORY)
    except (FileNotFoundError, NotADirectoryError):
        return None   # the rest is missing: nothing more to resolve
    try:
        info = lstat_at(parent_fd, name)
        return os.readlink(name, dir_fd=parent_fd) if info and stat.S_ISLNK(info.st_mode) else None
    finally:
        os.close(parent_fd)


@contextlib.contextmanager
def _parent(root_fd: int, path: str, flags: int = os.O_PATH) -> Iterator[tuple[int, str]]:
    """The parent directory of ``path`` (resolved inside the root) and the last name."""
    parent, name = split_parent(path.lstrip("/"))
    try:
        fd = open_in_root(root_fd, parent, flags | os.O_DIRECTORY)
    except (FileNotFoundError, NotADirectoryError):
        raise InvalidInput(f"the directory /{parent} does not exist in the container", field=FIELD,
                           hint="create it first (e.g. with container_exec: mkdir -p), or copy elsewhere") from None
    try:
        yield fd, name
    finally:
        os.close(fd)


def inspect(root_fd: int, path: str, *, want_text: bool = False) -> Entry:
    """What ``path`` (its last component not followed) holds now."""
    with _parent(root_fd, path) as (parent_fd, name):
        info = lstat_at(parent_fd, name)
        if info is None:
            return ABSENT
        owner = {"mode": stat.S_IMODE(info.st_mode), "uid": info.st_uid, "gid": info.st_gid, "size": info.st_size}
        if stat.S_ISLNK(info.st_mode):
            return Entry("symlink", **owner, target=os.readlink(name, dir_fd=parent_fd))
        if stat.S_ISDIR(info.st_mode):
            return Entry("directory", **owner)
        if not stat.S_ISREG(info.st_mode):
            return Entry("other", **owner)   # a FIFO or device is never opened
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=parent_fd)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):   # swapped since the lstat
            return Entry("other", **owner)
        return Entry("file", **{**owner, **summarise(handle, want_text=want_text)})  # type: ignore[arg-type]


def summarise(handle: BinaryIO, *, want_text: bool) -> dict[str, object]:
    """sha256 and size of a stream; its text when wanted, text and small enough
    (a NUL byte marks binary content, as ansible-core decides)."""
    digest = hashlib.sha256()
    head = b""
    size = 0
    while chunk := handle.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
        if want_text and len(head) <= MAX_DIFF_BYTES:
            head += chunk[:MAX_DIFF_BYTES + 1 - len(head)]
    facts: dict[str, object] = {"digest": digest.hexdigest(), "size": size}
    if not want_text:
        return facts
    if size > MAX_DIFF_BYTES:
        return {**facts, "larger": True}
    if b"\0" in head:
        return {**facts, "binary": True}
    return {**facts, "text": head.decode(errors="replace")}


# -- writing --------------------------------------------------------------------------
def write(root_fd: int, path: str, source: Source, *, mode: int, uid: int, gid: int) -> None:
    """Put ``source`` at ``path`` atomically with that owner and mode; an
    existing file or symlink there is replaced, never followed."""
    with _parent(root_fd, path, os.O_RDONLY) as (parent_fd, name):
        existing = lstat_at(parent_fd, name)
        if existing is not None and stat.S_ISDIR(existing.st_mode):
            raise InvalidInput(f"{path} is a directory in the container", field=FIELD,
                               hint="name the file itself, e.g. a path below that directory")
        temp = f".{name[:200]}.berth-{secrets.token_hex(6)}"
        try:
            _make_temp(parent_fd, temp, source, mode=mode, uid=uid, gid=gid)
            os.rename(temp, name, src_dir_fd=parent_fd, dst_dir_fd=parent_fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp, dir_fd=parent_fd)
            raise
        os.fsync(parent_fd)


def _make_temp(parent_fd: int, temp: str, source: Source, *, mode: int, uid: int, gid: int) -> None:
    if source.target is not None:
        os.symlink(source.target, temp, dir_fd=parent_fd)
        os.chown(temp, uid, gid, dir_fd=parent_fd, follow_symlinks=False)
        return
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=parent_fd)
    with os.fdopen(fd, "wb") as out, source.reader() as data:
        while chunk := data.read(CHUNK):
            out.write(chunk)
        out.flush()
        os.fchown(out.fileno(), uid, gid)
        os.fchmod(out.fileno(), mode)   # after the chown, which clears setuid/setgid bits
        os.fsync(out.fileno())


def os_failure(err: OSError, doing: str, container: str) -> InvalidState:
    """An OS error while reading or writing in a container, as the error a task reports."""
    hints = {errno.EROFS: "the container's root filesystem (or that mount) is read-only",
             errno.ENOSPC: "free space on the disk that holds it", errno.EACCES: "check the directory's permissions"}
    return InvalidState(f"{doing} in container {container} failed: {err.strerror or err}", field=FIELD,
                        hint=hints.get(err.errno or 0, "see the message"))


# -- the operations a plan calls ------------------------------------------------------
def look(engine: Engine, record: ContainerRecord, path: str, *, follow: bool,
         want_text: bool = False) -> tuple[str, Entry]:
    """The path the file has in the container (symlinks resolved when ``follow``) and what is there now."""
    try:
        with container_root(engine, record) as root_fd:
            real = real_path(root_fd, path) if follow else path
            return real, inspect(root_fd, real, want_text=want_text)
    except OSError as err:
        raise os_failure(err, f"reading {path}", record.name) from None


def copy_into(engine: Engine, ref: str, path: str, source: Source, *, mode: int, uid: int, gid: int) -> None:
    """Write ``source`` at ``path`` (already resolved: no symlink of the last
    component is followed). A stopped container is written under the
    containers lock, its state read again there, so a create, remove or
    start recorded meanwhile is seen."""
    engine.require_writable(f"copy a file into container {ref}")
    from .service import ContainerService

    service = ContainerService(engine)
    record = service.current(ref)
    try:
        if is_running(record):
            with container_root(engine, record, writable=True) as root_fd:
                write(root_fd, path, source, mode=mode, uid=uid, gid=gid)
            return
        with service.store.meta.transaction():
            record = service.store.record(ref)
            with container_root(engine, record, writable=True) as root_fd:
                write(root_fd, path, source, mode=mode, uid=uid, gid=gid)
    except OSError as err:
        raise os_failure(err, f"writing {path}", record.name) from None
