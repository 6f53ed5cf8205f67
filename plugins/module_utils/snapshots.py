"""Layer snapshots keyed by ChainID (containerd's overlay snapshotter, in shape).

A committed snapshot ``snapshots/sha256/<chainid-hex>/`` holds ``fs/`` — the
one layer's unpacked diff, overlay-ready (whiteouts as 0/0 char devices,
opaque dirs as xattrs) — and ``info.json`` naming its parent ChainID. A
container's root is the overlay of its chain's ``fs`` dirs. Because the key is
the ChainID, a layer stack shared by two images is stored once.

Unpacking follows prepare → apply → commit: ``prepare`` makes a private
``active/<key>/`` dir (locked by its writer), the caller fills ``fs/``, and
``commit`` renames it into place. A crash leaves only an unlocked active dir,
which ``cleanup`` removes; a half-applied layer is never visible by ChainID.

``SnapshotStoreView`` is the store of a read-only engine view: lookups, chains
and usage work; prepare, begin, commit, abort, remove and cleanup raise
``ReadOnlyViolation``.
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .digest import digest_hex, validate_digest
from .errors import BerthError, Conflict, InvalidState, NotFound
from .fsutil import atomic_write_json, disk_usage, fsync_dir, read_json, remove_tree
from .layout import Layout
from .locking import FileLock
from .readonly import refuse_writes


@dataclass(frozen=True)
class SnapshotInfo:
    chain_id: str
    parent: str | None
    diff_id: str
    created: float
    path: Path

    @property
    def fs(self) -> Path:
        return self.path / "fs"


@dataclass
class ActiveSnapshot:
    """A snapshot being filled; ``fs`` is where the layer is applied."""

    chain_id: str
    parent: str | None
    diff_id: str
    path: Path
    lock: FileLock

    @property
    def fs(self) -> Path:
        return self.path / "fs"


class SnapshotStore:
    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.committed_dir = layout.snapshots / "sha256"
        self.active_dir = layout.snapshots / "active"
        self.trash_dir = layout.snapshots / "trash"

    def path(self, chain_id: str) -> Path:
        return self.committed_dir / digest_hex(chain_id)

    def exists(self, chain_id: str) -> bool:
        return (self.path(chain_id) / "info.json").is_file()

    def info(self, chain_id: str) -> SnapshotInfo:
        path = self.path(chain_id)
        try:
            doc = read_json(path / "info.json")
        except FileNotFoundError:
            raise NotFound(f"snapshot {chain_id} does not exist", field="chain_id") from None
        return SnapshotInfo(chain_id=doc["chain_id"], parent=doc.get("parent"), diff_id=doc["diff_id"],
                            created=doc["created"], path=path)

    def list(self) -> list[SnapshotInfo]:
        if not self.committed_dir.is_dir():
            return []
        infos = []
        for entry in sorted(self.committed_dir.iterdir()):
            with contextlib.suppress(NotFound):
                infos.append(self.info("sha256:" + entry.name))
        return infos

    def chain(self, chain_id: str) -> list[SnapshotInfo]:
        """The snapshot and its ancestors, top first (overlay lowerdir order)."""
        result = []
        current: str | None = chain_id
        while current is not None:
            info = self.info(current)
            result.append(info)
            current = info.parent
        return result

    def lowerdirs(self, chain_id: str) -> list[Path]:
        return [info.fs for info in self.chain(chain_id)]

    def children(self, chain_id: str) -> list[str]:
        return [i.chain_id for i in self.list() if i.parent == chain_id]

    @contextlib.contextmanager
    def prepare(self, chain_id: str, parent: str | None, diff_id: str) -> Iterator[ActiveSnapshot]:
        """Yield an active snapshot to fill; commit it when the block succeeds,
        discard it when the block raises."""
        if parent is not None and not self.exists(parent):
            raise NotFound(f"parent snapshot {parent} does not exist", field="parent",
                           hint="unpack the layers below first")
        active = self.begin(chain_id, parent, diff_id)
        try:
            yield active
            self.commit(active)
        finally:
            self.abort(active)

    def begin(self, chain_id: str, parent: str | None, diff_id: str) -> ActiveSnapshot:
        """Start an unpack. The parent need not exist yet (layers of one image
        are unpacked in parallel); it must by ``commit``."""
        validate_digest(chain_id, field="chain_id")
        validate_digest(diff_id, field="diff_id")
        return self._new_active(chain_id, parent, diff_id)

    def commit(self, active: ActiveSnapshot) -> None:
        """Publish a filled snapshot under its ChainID. If another process
        committed the same ChainID meanwhile, theirs is kept (identical by
        definition) and ours is left for ``abort`` to discard."""
        self._commit(active)

    def abort(self, active: ActiveSnapshot) -> None:
        """Discard an active snapshot (a no-op for its dir once committed)
        and release its lock. Always call it, after commit too."""
        self._trash(active.path)
        _sidecar(active.path, ".json").unlink(missing_ok=True)
        _sidecar(active.path, ".lock").unlink(missing_ok=True)
        active.lock.release()

    def _new_active(self, chain_id: str, parent: str | None, diff_id: str) -> ActiveSnapshot:
        path = self.active_dir / uuid.uuid4().hex
        self.active_dir.mkdir(parents=True, exist_ok=True)
        # Lock and pending record live beside the dir, so the dir that gets
        # renamed into place holds exactly fs/ and info.json.
        lock = FileLock(_sidecar(path, ".lock"))
        lock.acquire()
        atomic_write_json(_sidecar(path, ".json"), {"chain_id": chain_id, "parent": parent})
        (path / "fs").mkdir(parents=True)
        return ActiveSnapshot(chain_id=chain_id, parent=parent, diff_id=diff_id, path=path, lock=lock)

    def _commit(self, active: ActiveSnapshot) -> None:
        _check_fs_is_directory(active)
        doc = {"chain_id": active.chain_id, "parent": active.parent, "diff_id": active.diff_id,
               "created": time.time()}
        atomic_write_json(active.path / "info.json", doc)
        target = self.path(active.chain_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        with self.layout.lock("snapshots").held():
            if active.parent is not None and not self.exists(active.parent):
                raise Conflict(f"parent snapshot {active.parent} was removed during unpack",
                               field="parent", hint="retry the operation")
            if self.exists(active.chain_id):
                return  # committed concurrently; ours is discarded by the caller
            os.rename(active.path, target)
        fsync_dir(target.parent)

    def _trash(self, path: Path) -> None:
        """Move a tree out of sight atomically, then delete it: a crash
        mid-delete leaves garbage in trash/, never a half snapshot."""
        self.trash_dir.mkdir(parents=True, exist_ok=True)
        doomed = self.trash_dir / uuid.uuid4().hex
        try:
            os.rename(path, doomed)
        except FileNotFoundError:
            return
        remove_tree(doomed)

    def remove(self, chain_id: str) -> bool:
        """Remove one snapshot; refused while a child (committed or being
        unpacked) builds on it. Returns False if it did not exist."""
        with self.layout.lock("snapshots").held():
            if not self.exists(chain_id):
                return False
            users = self.children(chain_id) + self._pending_children(chain_id)
            if users:
                raise Conflict(f"snapshot {chain_id} is the parent of {len(users)} other snapshot(s)",
                               field="chain_id", hint="remove the snapshots built on it first",
                               children=users)
            self._trash(self.path(chain_id))
        return True

    def _pending_children(self, chain_id: str) -> list[str]:
        found = []
        if not self.active_dir.is_dir():
            return found
        for entry in self.active_dir.glob("*.json"):
            with contextlib.suppress(FileNotFoundError, ValueError, KeyError):
                doc = read_json(entry)
                if doc["parent"] == chain_id:
                    found.append(doc["chain_id"])
        return found

    def usage(self, chain_id: str) -> int:
        return disk_usage(self.info(chain_id).fs)

    def cleanup(self) -> int:
        """Remove active dirs whose writer died and any trash; return count.
        An entry that cannot be removed is logged and left for the next run:
        one bad tree must not stop recovery (nor every engine call after it)."""
        removed = 0
        if self.active_dir.is_dir():
            for lock_path in list(self.active_dir.glob("*.lock")):
                removed += self._recover_step(lock_path, self._cleanup_active)
        if self.trash_dir.is_dir():
            for entry in list(self.trash_dir.iterdir()):
                removed += self._recover_step(entry, remove_tree)
        return removed

    @staticmethod
    def _recover_step(entry: Path, step: Callable[[Path], object]) -> int:
        try:
            return 0 if step(entry) is False else 1
        except (OSError, BerthError) as err:
            # imported here: only recovery warns, and logging costs every berth command's start-up
            import logging

            logging.getLogger("berth").warning("berth: could not remove %s during recovery (left for the next run): "
                                               "%s", entry, err)
            return 0

    def _cleanup_active(self, lock_path: Path) -> bool:
        lock = FileLock(lock_path)
        if not lock.try_acquire():
            return False  # its writer is alive
        try:
            entry = lock_path.with_suffix("")
            self._trash(entry)
            _sidecar(entry, ".json").unlink(missing_ok=True)
            lock_path.unlink(missing_ok=True)
            return True
        finally:
            lock.release()


@refuse_writes(SnapshotStore, reads=("path", "exists", "info", "list", "chain", "lowerdirs", "children",
                                     "_pending_children", "usage"))
class SnapshotStoreView(SnapshotStore):
    """Committed snapshots, read-only (check mode, info modules)."""


def _check_fs_is_directory(active: ActiveSnapshot) -> None:
    """A snapshot's ``fs`` must be a real directory (lstat): a symlink there
    would make overlay use a host directory as a layer."""
    try:
        mode = os.lstat(active.fs).st_mode
    except FileNotFoundError:
        mode = 0
    if not stat.S_ISDIR(mode):
        raise InvalidState(f"snapshot {active.chain_id} is not committed: its fs is not a directory",
                           field="layers", hint="the unpack went wrong; pull or load the image again")


def _sidecar(active_path: Path, suffix: str) -> Path:
    return active_path.with_name(active_path.name + suffix)
