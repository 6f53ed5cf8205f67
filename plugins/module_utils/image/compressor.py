"""The write side of a layer: an uncompressed tar stream in, a compressed blob
out, with both digests (the DiffID of the tar, the blob's digest and size).

Compression must not dominate a build, so it runs in parallel:

- gzip the way pigz does it: the stream is cut into 1 MiB blocks, each
  deflated on its own in a thread pool (zlib releases the GIL) with the
  previous block's last 32 KiB as its dictionary and ended by a sync flush,
  so the blocks concatenate into ONE ordinary gzip member (header, blocks,
  an empty final block, CRC-32 and length). Any gzip reader takes it:
  Python's gzip, Go's compress/gzip, ``gzip -d``, the engine's own
  ``compression.open_decompressed``.
- zstd through ``zstandard``'s multi-threaded compressor (``threads=-1``:
  one worker per CPU), one frame.
- ``none``: the tar itself (DiffID = digest).

The CRC-32 and both SHA-256s run in the writing thread, in stream order;
they release the GIL on large buffers too, so the tar producer, the
hashing and the pool overlap. At most ``2 * threads`` blocks are in flight,
which bounds memory (~2 MiB per block).
"""

from __future__ import annotations

import hashlib
import os
import struct
import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, BinaryIO

from ..errors import InvalidInput
from .manifest import OCI_LAYER, OCI_LAYER_GZIP, OCI_LAYER_ZSTD

BLOCK = 1 << 20
WINDOW = 1 << 15            # deflate's window: the dictionary a block inherits
# gzip level 6 (gzip's own default) costs twice the time of level 1 for blobs ~6% smaller on a
# 200 MB /usr tree (per core: 19 vs 35-40 MB/s, the same as gzip(1) -6 / -1); a build's budget is
# time, so the default is 1. Who wants smaller blobs asks for a level, or for zstd (faster and smaller).
DEFAULT_LEVEL = {"gzip": 1, "zstd": 3}
COMPRESSIONS = ("gzip", "zstd", "none")
MEDIA_TYPES = {"gzip": OCI_LAYER_GZIP, "zstd": OCI_LAYER_ZSTD, "none": OCI_LAYER}
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"   # no name, mtime 0 (deterministic), OS unknown
_FINAL_BLOCK = b"\x03\x00"   # an empty fixed-Huffman block with BFINAL set


@dataclass(frozen=True)
class LayerDigests:
    diff_id: str        # sha256 of the uncompressed tar
    digest: str         # sha256 of the blob as written to ``out``
    size: int           # the blob's size
    media_type: str


def check_compression(compression: str, level: int | None, field: str = "build.compression") -> None:
    if compression not in COMPRESSIONS:
        raise InvalidInput(f"unknown layer compression {compression!r}", field=field,
                           hint=f"use one of {', '.join(COMPRESSIONS)}")
    if level is not None:
        low, high = (1, 9) if compression == "gzip" else (1, 19)
        if compression != "none" and not low <= level <= high:
            raise InvalidInput(f"compression level {level} is out of range for {compression}", field=field,
                               hint=f"give {low}..{high}")


class _HashingOut:
    """Writes to ``out`` while hashing and counting what went there."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.out.write(data)
        self.hash.update(data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        self.out.flush()


class LayerSink:
    """File-like: ``write`` the tar stream, then ``close`` for the digests.
    ``abort`` (or leaving a ``with`` block by an exception) stops the workers
    and leaves ``out`` to the caller to discard."""

    def __init__(self, out: BinaryIO, compression: str = "gzip", level: int | None = None, threads: int = 0) -> None:
        check_compression(compression, level)
        self.compression = compression
        self.level = level if level is not None else DEFAULT_LEVEL.get(compression, 0)
        self.threads = threads if threads > 0 else (os.cpu_count() or 1)
        self._out = _HashingOut(out)
        self._diff = hashlib.sha256()
        self._pending = bytearray()
        self._crc = 0
        self._length = 0
        self._window = b""
        self._inflight: deque[Future[bytes]] = deque()
        self._pool: ThreadPoolExecutor | None = None
        self._zstd: Any = None
        self._result: LayerDigests | None = None
        if compression == "gzip":
            self._out.write(_GZIP_HEADER)
            if self.threads > 1:
                self._pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="berth-gzip")
        elif compression == "zstd":
            self._zstd = _zstd_writer(self._out, self.level, self.threads)

    # -- the stream -----------------------------------------------------------
    def write(self, data: bytes) -> int:
        if self._result is not None:
            raise ValueError("write to a closed LayerSink")
        size = len(data)
        if not size:
            return 0
        self._diff.update(data)
        self._length += size
        if self.compression == "none":
            self._out.write(data)
        elif self._zstd is not None:
            self._zstd.write(data)
        else:
            self._pending += data
            while len(self._pending) >= BLOCK:
                block = bytes(self._pending[:BLOCK])
                del self._pending[:BLOCK]
                self._submit(block)
        return size

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        """Nothing to do: blocks are written as they complete (tarfile calls this)."""

    def close(self) -> LayerDigests:
        if self._result is not None:
            return self._result
        try:
            if self._zstd is not None:
                self._zstd.close()   # ends the frame; closefd=False leaves ``out`` open
            elif self.compression == "gzip":
                if self._pending:
                    self._submit(bytes(self._pending))
                    self._pending.clear()
                while self._inflight:
                    self._out.write(self._inflight.popleft().result())
                self._out.write(_FINAL_BLOCK + struct.pack("<II", self._crc, self._length & 0xFFFFFFFF))
            self._out.flush()
        finally:
            self._stop_pool()
        diff_id = "sha256:" + self._diff.hexdigest()
        digest = diff_id if self.compression == "none" else "sha256:" + self._out.hash.hexdigest()
        self._result = LayerDigests(diff_id, digest, self._out.size, MEDIA_TYPES[self.compression])
        return self._result

    def abort(self) -> None:
        self._inflight.clear()
        self._stop_pool()
        self._result = LayerDigests("", "", 0, MEDIA_TYPES[self.compression])

    def __enter__(self) -> LayerSink:
        return self

    def __exit__(self, kind: object, *_rest: object) -> None:
        if kind is not None:
            self.abort()

    @property
    def uncompressed_size(self) -> int:
        return self._length

    # -- gzip blocks ----------------------------------------------------------
    def _submit(self, block: bytes) -> None:
        self._crc = zlib.crc32(block, self._crc)
        window, self._window = self._window, block[-WINDOW:]
        if self._pool is None:
            self._out.write(_deflate(block, window, self.level))
            return
        self._inflight.append(self._pool.submit(_deflate, block, window, self.level))
        # in order: write what is done at the head; wait only when too much is in flight
        while self._inflight and (self._inflight[0].done() or len(self._inflight) >= 2 * self.threads):
            self._out.write(self._inflight.popleft().result())

    def _stop_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _deflate(block: bytes, window: bytes, level: int) -> bytes:
    """One block as raw deflate ending on a byte boundary (sync flush), so
    blocks concatenate; the dictionary keeps the ratio close to one stream's."""
    if window:
        deflater = zlib.compressobj(level, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, window)
    else:
        deflater = zlib.compressobj(level, zlib.DEFLATED, -15, 9)
    return deflater.compress(block) + deflater.flush(zlib.Z_SYNC_FLUSH)


def _zstd_writer(out: _HashingOut, level: int, threads: int) -> Any:
    try:
        import zstandard
    except ImportError:
        raise InvalidInput("zstd layers need the Python package 'zstandard'", field="build.compression",
                           hint="install it (pip install zstandard, or the berth.engine.host role), "
                                "or use gzip") from None
    compressor = zstandard.ZstdCompressor(level=level, threads=-1 if threads > 1 else 0)
    return compressor.stream_writer(out, closefd=False, write_return_read=True)
