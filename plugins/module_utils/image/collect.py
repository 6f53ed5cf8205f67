"""Mark-and-sweep of blobs and snapshots nothing needs any more.

A crash between storing content and writing the image record that names it
(a killed pull, load or import) leaves blobs and snapshots no record
references; ``rmi`` leaves the layers only it used. The sweep finds them:

* **mark**: every blob and snapshot an image record names (config, manifest,
  layers, ChainIDs), plus the snapshot chain each container's root is an
  overlay of — from its image's record, or, when that image was removed with
  force, from the lowerdirs in the container's own ``config.json``, since a
  created container keeps its layers as Docker's RW layer does;
* **sweep**: remove unmarked snapshots leaves-first (``SnapshotStore.remove``
  refuses a parent whose child is committed or being unpacked), then
  unmarked blobs.

It runs only with ``locks/content.lock`` held exclusively. Every operation
that adds content holds that lock shared (``BlobStore.hold``) from its first
blob until its record is saved, so what the sweep sees unreferenced cannot be
about to be referenced. Blobs in ``content/ingest`` are not blobs yet: they
are ``cleanup_ingest``'s. Lock order (docs/ARCHITECTURE.md, Locking):
``content`` first, then ``snapshots`` inside ``SnapshotStore.remove``; image
and container records are read without their locks (documents are replaced
atomically, and a new reference to unmarked content needs the content hold).

The sweep is a step of ``Engine.recover`` (registered with recovery.py when
this module is imported, as it is with the image store): it runs when
``content/gc-pending`` says a content write began since the last full sweep,
without waiting (a busy store is swept by a later call); ``prune`` and
``rmi`` sweep too. It lives with the image records because they are its
roots; containers are read as documents (their records and ``config.json``),
not through the containers package, which sits above this one.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BerthError, Conflict
from ..fsutil import read_json
from ..locking import FileLock
from ..recovery import CONTENT, register
from .records import ImageRecord

DEFAULT_WAIT = 0.0


@dataclass
class Marks:
    blobs: set[str] = field(default_factory=set)
    snapshots: set[str] = field(default_factory=set)


@dataclass
class Swept:
    snapshots: list[str] = field(default_factory=list)
    blobs: list[str] = field(default_factory=list)
    skipped: str | None = None   # why nothing was swept (busy store)

    def counts(self) -> dict[str, int]:
        return {"snapshots": len(self.snapshots), "blobs": len(self.blobs)}


def sweep(engine: Any, *, wait: float = DEFAULT_WAIT) -> Swept:
    """Mark, then remove what is unmarked. Waits up to ``wait`` seconds for
    in-flight content operations; if they do not finish, sweeps nothing."""
    layout = engine.layout
    engine.blobs.release_hold()   # this process's own finished operations must not block it
    lock: FileLock = layout.lock("content")
    try:
        lock.acquire(timeout=wait)
    except Conflict:
        return Swept(skipped="another operation is adding content")
    try:
        if _live_unpacks(engine):
            return Swept(skipped="a layer is being unpacked")
        marks = mark(engine)
        swept = Swept(snapshots=_sweep_snapshots(engine, marks), blobs=_sweep_blobs(engine, marks))
        layout.gc_pending.unlink(missing_ok=True)   # under the exclusive lock: no write began meanwhile
        return swept
    finally:
        lock.release()


def mark(engine: Any) -> Marks:
    """Everything image records and containers still need."""
    marks = Marks()
    images: dict[str, ImageRecord] = {}
    for doc in engine.metadata("images").list():
        with contextlib.suppress(KeyError, TypeError, ValueError):
            record = ImageRecord.from_dict(doc)
            images[record.id] = record
            marks.blobs.update((record.id, record.manifest_digest, *(layer.digest for layer in record.layers)))
            marks.snapshots.update(record.chain_ids)
    for doc in engine.metadata("containers").list():
        if doc.get("image_id") not in images:   # else its chain is marked with the image
            marks.snapshots.update(_bundle_chain(engine, doc.get("id", "")))
    # a marked snapshot's ancestors are its lower layers
    for chain_id in list(marks.snapshots):
        with contextlib.suppress(BerthError, KeyError, OSError, ValueError):
            marks.snapshots.update(info.chain_id for info in engine.snapshots.chain(chain_id))
    return marks


def _bundle_chain(engine: Any, container_id: str) -> list[str]:
    """ChainIDs of the snapshots named as lowerdirs in a container's config.json."""
    if not container_id:
        return []
    config_path = engine.layout.containers / container_id / "bundle" / "config.json"
    try:
        config = read_json(config_path)
    except (OSError, ValueError):
        return []
    committed = engine.snapshots.committed_dir
    found = []
    for mount in config.get("mounts") or []:
        for option in mount.get("options") or []:
            if not str(option).startswith("lowerdir="):
                continue
            for lower in str(option)[len("lowerdir="):].split(":"):
                path = Path(lower)
                if path.name == "fs" and path.parent.parent == committed:
                    found.append("sha256:" + path.parent.name)
    return found


def _live_unpacks(engine: Any) -> bool:
    """Whether some process is unpacking a layer now (its active lock is held)."""
    active = engine.snapshots.active_dir
    if not active.is_dir():
        return False
    for lock_path in active.glob("*.lock"):
        probe = FileLock(lock_path, create=False)
        if probe.try_acquire(shared=True):
            probe.release()   # its writer died: snapshots.cleanup's, not a reason to wait
        elif lock_path.exists():
            return True
    return False


def _sweep_snapshots(engine: Any, marks: Marks) -> list[str]:
    removed: list[str] = []
    progress = True
    while progress:   # children before parents: repeat until no removable leaf remains
        progress = False
        snapshots = engine.snapshots.list()
        parents = {info.parent for info in snapshots if info.parent}
        for info in snapshots:
            if info.chain_id in marks.snapshots or info.chain_id in parents:
                continue
            with contextlib.suppress(Conflict):
                if engine.snapshots.remove(info.chain_id):
                    removed.append(info.chain_id)
                    progress = True
    return removed


def _sweep_blobs(engine: Any, marks: Marks) -> list[str]:
    return [digest for digest in engine.blobs.list()
            if digest not in marks.blobs and engine.blobs.delete(digest)]


def _recovery_step(engine: Any, requested: bool | None) -> dict[str, int]:
    """``Engine.recover``'s sweep: when asked (True), or when a content write
    began since the last sweep (None); never with False."""
    if requested is False or (requested is None and not engine.layout.gc_pending.exists()):
        return {}
    swept = sweep(engine).counts()
    return {"unreferenced_snapshots": swept["snapshots"], "unreferenced_blobs": swept["blobs"]}


register("unreferenced content", _recovery_step, phase=CONTENT)
