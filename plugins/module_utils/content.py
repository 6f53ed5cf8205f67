"""Content-addressable blob store (containerd's local content store, in shape).

Blobs live at ``content/blobs/sha256/<hex>``. A write goes to a private file
in ``content/ingest/``, is hashed while streaming, checked against the expected
size and digest, fsynced, then renamed into place — so a blob path only ever
holds verified bytes, and a crash leaves at most an ingest file that
``cleanup_ingest`` removes. Writing a blob that already exists is success.

An operation that adds content (pull, load, import) takes a shared *hold* on
``locks/content.lock`` (``hold``) from its first blob until its image record
is saved (``release_hold``); the mark-and-sweep (image/collect.py) runs only with
that lock exclusive, so it never takes a blob that a record is about to name.
Everything here is private to root: dirs 0700, files 0600.

``BlobStoreView`` is the store of a read-only engine view: reads only; a hold,
a write, a delete or an ingest cleanup raises ``ReadOnlyViolation``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .digest import digest_hex, validate_digest
from .errors import InvalidInput, NotFound
from .fsutil import fsync_dir
from .layout import Layout
from .locking import FileLock
from .readonly import refuse_writes

CHUNK = 1 << 20
INGEST_GRACE_SECONDS = 60.0
HOLD_TIMEOUT = 300.0   # a sweep holds the content lock for seconds at most

# This process's shared hold on each state root's content lock (one per root,
# shared by every Engine object and thread of the process).
_HOLDS: dict[Path, FileLock] = {}
_HOLDS_MUTEX = threading.Lock()


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


class BlobWriter:
    """A streaming write of one blob; use via ``BlobStore.writer``."""

    def __init__(self, store: BlobStore, expected_digest: str | None, expected_size: int | None) -> None:
        self._store = store
        self.expected_digest = expected_digest
        self.expected_size = expected_size
        ingest_dir = store.layout.ingest / uuid.uuid4().hex
        ingest_dir.mkdir(mode=0o700, parents=True)
        self._dir = ingest_dir
        # The ingest dir's lock tells cleanup_ingest this write is alive.
        self._lock = FileLock(ingest_dir / "lock")
        self._lock.acquire()
        self._path = ingest_dir / "data"
        fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        self._file: BinaryIO = os.fdopen(fd, "wb")
        self._hash = hashlib.sha256()
        self.size = 0
        self.committed: str | None = None

    def write(self, data: bytes) -> int:
        self._file.write(data)
        self._hash.update(data)
        self.size += len(data)
        if self.expected_size is not None and self.size > self.expected_size:
            raise InvalidInput(f"blob {self.expected_digest} is larger than the {self.expected_size} "
                               "bytes its descriptor declares", field="size",
                               hint="the source is corrupt or the descriptor is wrong")
        return len(data)

    @property
    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()

    def commit(self) -> str:
        """Verify, persist and publish the blob; return its digest (idempotent)."""
        if self.committed is not None:
            return self.committed
        digest = self.digest
        if self.expected_size is not None and self.size != self.expected_size:
            raise InvalidInput(f"blob {self.expected_digest or digest} has {self.size} bytes, "
                               f"expected {self.expected_size}", field="size",
                               hint="the download was truncated or the descriptor is wrong")
        if self.expected_digest is not None and digest != self.expected_digest:
            raise InvalidInput(f"content digest mismatch: expected {self.expected_digest}, got {digest}",
                               field="digest", hint="the source served corrupt or different content")
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        target = self._store.path(digest)
        os.replace(self._path, target)  # same filesystem: atomic publish
        fsync_dir(target.parent)
        self.committed = digest
        return digest

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
        self._discard()

    def _discard(self) -> None:
        # Unlinking the lock file while holding it is safe: FileLock re-checks
        # the path after flock, so a cleaner that opened it meanwhile backs off.
        for child in (self._path, self._dir / "lock"):
            with contextlib.suppress(FileNotFoundError):
                child.unlink()
        self._lock.release()
        with contextlib.suppress(OSError):
            self._dir.rmdir()


class BlobStore:
    def __init__(self, layout: Layout) -> None:
        self.layout = layout

    def path(self, digest: str) -> Path:
        return self.layout.blobs / digest_hex(digest)

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()

    # -- holds: an operation that will reference new content -------------------
    def hold(self) -> None:
        """Keep the mark-and-sweep away until ``release_hold`` (or this process
        exits): call before relying on a blob or snapshot no record names yet."""
        root = self.layout.state_root
        with _HOLDS_MUTEX:
            if root in _HOLDS:
                return
            lock = self.layout.lock("content")
            lock.acquire(shared=True, timeout=HOLD_TIMEOUT)
            _HOLDS[root] = lock
        self.layout.mark_gc_pending()

    def release_hold(self) -> None:
        """The operation's record is written (or it gave up): sweeping is safe again."""
        with _HOLDS_MUTEX:
            lock = _HOLDS.pop(self.layout.state_root, None)
        if lock is not None:
            lock.release()

    def size(self, digest: str) -> int:
        try:
            return self.path(digest).stat().st_size
        except FileNotFoundError:
            raise NotFound(f"blob {digest} is not in the store", field="digest") from None

    @contextlib.contextmanager
    def writer(self, expected_digest: str | None = None,
               expected_size: int | None = None) -> Iterator[BlobWriter]:
        """Stream a blob in; it is published only if the block exits cleanly
        and verification passes. Call ``commit()`` inside to learn the digest
        early; otherwise it is committed on exit."""
        if expected_digest is not None:
            validate_digest(expected_digest)
        self.hold()
        writer = BlobWriter(self, expected_digest, expected_size)
        committed = False
        try:
            yield writer
            writer.commit()
            committed = True
        finally:
            if committed:
                writer._discard()
            else:
                writer.abort()

    def put_bytes(self, data: bytes, expected_digest: str | None = None) -> str:
        self.hold()   # an existing blob counts too: the caller is about to reference it
        if expected_digest is not None and self.exists(expected_digest):
            return expected_digest
        with self.writer(expected_digest, len(data) if expected_digest else None) as w:
            w.write(data)
        return w.digest

    def put_stream(self, stream: BinaryIO, expected_digest: str | None = None,
                   expected_size: int | None = None) -> str:
        self.hold()
        if expected_digest is not None and self.exists(expected_digest):
            return expected_digest
        with self.writer(expected_digest, expected_size) as w:
            while chunk := stream.read(CHUNK):
                w.write(chunk)
        return w.digest

    def open(self, digest: str) -> BinaryIO:
        try:
            return self.path(digest).open("rb")
        except FileNotFoundError:
            raise NotFound(f"blob {digest} is not in the store", field="digest") from None

    def read_bytes(self, digest: str) -> bytes:
        with self.open(digest) as handle:
            return handle.read()

    def delete(self, digest: str) -> bool:
        try:
            self.path(digest).unlink()
        except FileNotFoundError:
            return False
        return True

    def list(self) -> list[str]:
        if not self.layout.blobs.is_dir():
            return []
        return sorted("sha256:" + p.name for p in self.layout.blobs.iterdir() if not p.name.startswith("."))

    def verify(self, digest: str) -> bool:
        """Re-hash a stored blob (fsck): True if its bytes still match."""
        h = hashlib.sha256()
        with self.open(digest) as handle:
            while chunk := handle.read(CHUNK):
                h.update(chunk)
        return "sha256:" + h.hexdigest() == digest

    def cleanup_ingest(self) -> int:
        """Remove ingest dirs whose writer died (lock not held); return count.

        The lock is probed with ``create=False``: a cleaner never recreates the
        lock file of a dir another cleaner is removing, and one that loses that
        race sees the lock as gone and moves on."""
        removed = 0
        if not self.layout.ingest.is_dir():
            return 0
        for entry in list(self.layout.ingest.iterdir()):
            lock = FileLock(entry / "lock", create=False)
            if not (entry / "lock").exists():
                if _age(entry) < INGEST_GRACE_SECONDS:
                    continue  # a writer between mkdir and taking its lock
                removed += _remove_ingest_dir(entry)
                continue
            if not lock.try_acquire():
                continue  # a live writer owns it, or another cleaner took it
            try:
                removed += _remove_ingest_dir(entry)
            finally:
                lock.release()
        return removed


@refuse_writes(BlobStore, reads=("path", "exists", "size", "open", "read_bytes", "list", "verify"))
class BlobStoreView(BlobStore):
    """Blobs, read-only (check mode, info modules)."""


def _remove_ingest_dir(entry: Path) -> int:
    """Remove one dead ingest dir (data first, its lock file last)."""
    try:
        children = sorted(entry.iterdir(), key=lambda child: child.name == "lock")
    except FileNotFoundError:
        return 0
    for child in children:
        with contextlib.suppress(FileNotFoundError):
            child.unlink()
    try:
        entry.rmdir()
    except FileNotFoundError:
        return 0
    return 1
