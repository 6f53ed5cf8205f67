"""Content-addressable blob store (containerd's local content store, in shape).

Blobs live at ``content/blobs/sha256/<hex>``. A write goes to a private file
in ``content/ingest/``, is hashed while streaming, checked against the expected
size and digest, fsynced, then renamed into place — so a blob path only ever
holds verified bytes, and a crash leaves at most an ingest file that
``cleanup_ingest`` removes. Writing a blob that already exists is success.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
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

CHUNK = 1 << 20
INGEST_GRACE_SECONDS = 60.0


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
        ingest_dir.mkdir(parents=True)
        self._dir = ingest_dir
        # The ingest dir's lock tells cleanup_ingest this write is alive.
        self._lock = FileLock(ingest_dir / "lock")
        self._lock.acquire()
        self._path = ingest_dir / "data"
        self._file: BinaryIO = self._path.open("wb")
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
        if expected_digest is not None and self.exists(expected_digest):
            return expected_digest
        with self.writer(expected_digest, len(data) if expected_digest else None) as w:
            w.write(data)
        return w.digest

    def put_stream(self, stream: BinaryIO, expected_digest: str | None = None,
                   expected_size: int | None = None) -> str:
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
        """Remove ingest dirs whose writer died (lock not held); return count."""
        removed = 0
        if not self.layout.ingest.is_dir():
            return 0
        for entry in self.layout.ingest.iterdir():
            if not (entry / "lock").exists() and _age(entry) < INGEST_GRACE_SECONDS:
                continue  # a writer between mkdir and taking its lock
            lock = FileLock(entry / "lock")
            if not lock.try_acquire():
                continue  # a live writer owns it
            try:
                for child in entry.iterdir():
                    child.unlink()
                entry.rmdir()
                removed += 1
            finally:
                lock.release()
        return removed
