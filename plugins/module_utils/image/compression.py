"""Layer compression: streaming decompression chosen by media type or magic.

Layers are never decompressed to disk first, nor whole into memory: the
decompressor is a file-like reader over the (possibly network) stream,
consumed by the tar unpacker, that inflates at most CHUNK bytes at a time.
Media types decide, but magic bytes win when a type is generic (docker-archive
layers carry none, and some registries label gzip layers as plain tar), so a
mislabelled layer still unpacks and its DiffID check stays the judge.
"""

from __future__ import annotations

import hashlib
import io
import zlib
from typing import BinaryIO

from ..errors import InvalidInput

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
CHUNK = 1 << 20  # most decompressed bytes held at once
INPUT_CHUNK = 1 << 16  # compressed bytes read at once


def sniff(head: bytes) -> str:
    """``gzip``, ``zstd`` or ``tar`` (anything else is treated as tar and
    fails there with a tar error)."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "tar"


def compression_of(media_type: str | None) -> str | None:
    """What a media type promises; None when it does not say."""
    if not media_type:
        return None
    if media_type.endswith("gzip") or media_type.endswith("+gzip"):
        return "gzip"
    if media_type.endswith("+zstd"):
        return "zstd"
    if media_type.endswith(".tar") or media_type.endswith("+tar") or media_type.endswith("layer.v1.tar"):
        return "tar"
    return None


def open_decompressed(stream: BinaryIO, media_type: str | None = None) -> BinaryIO:
    """A reader of the uncompressed tar bytes of ``stream``."""
    buffered = stream if hasattr(stream, "peek") else io.BufferedReader(_Raw(stream), CHUNK)
    head = buffered.peek(4)[:4]  # type: ignore[attr-defined]
    kind = sniff(head) if head else (compression_of(media_type) or "tar")
    if kind == "gzip":
        return _GzipReader(buffered)
    if kind == "zstd":
        return _zstd_reader(buffered)
    return buffered  # type: ignore[return-value]


def _zstd_reader(stream: BinaryIO) -> BinaryIO:
    try:
        import zstandard
    except ImportError:
        raise InvalidInput("this layer is zstd-compressed, but the Python package 'zstandard' is missing",
                           field="layers", hint="install it (pip install zstandard, or the berth.engine.host role)"
                           ) from None
    reader = zstandard.ZstdDecompressor().stream_reader(stream, read_size=CHUNK, read_across_frames=True)
    return _Guarded(reader, "zstd", zstandard.ZstdError)  # type: ignore[return-value]


class ReaderBase(io.RawIOBase):
    """A read-only raw stream defined by ``read`` alone (readinto derives)."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


class _Raw(ReaderBase):
    """Adapts any object with ``read`` to RawIOBase so it can be buffered."""

    def __init__(self, source: BinaryIO) -> None:
        self.source = source

    def read(self, size: int = -1) -> bytes:
        return self.source.read(size if size is not None and size >= 0 else CHUNK)


class _GzipReader(ReaderBase):
    """Multi-member gzip via zlib (gzip.GzipFile wants seek/tell on errors).

    Bounded both ways: compressed input is read INPUT_CHUNK at a time and
    every inflate is capped at CHUNK of output (zlib's ``max_length``, the
    rest of the input kept as ``unconsumed_tail``), so a small layer of zeros
    that inflates a thousandfold never becomes one huge buffer.
    """

    def __init__(self, source: BinaryIO) -> None:
        self.source = source
        self._inflate = zlib.decompressobj(wbits=31)
        self._pending = b""
        self._pos = 0  # an offset, not re-slicing: tar reads in small pieces
        self._eof = False

    def read(self, size: int = -1) -> bytes:
        want = size if size is not None and size >= 0 else CHUNK
        while self._pos >= len(self._pending) and not self._eof:
            self._pending, self._pos = self._inflated(), 0
        data = self._pending[self._pos:self._pos + want]
        self._pos += len(data)
        return data

    def _inflated(self) -> bytes:
        """The next at most CHUNK bytes of output (b'' only at the end)."""
        try:
            while True:
                inflate = self._inflate
                if inflate.unconsumed_tail:
                    data = inflate.unconsumed_tail
                elif inflate.eof:  # a member ended: another may follow
                    data = inflate.unused_data or self.source.read(INPUT_CHUNK)
                    if data.strip(b"\0") == b"":  # the end, or zero padding after the last member
                        self._eof = True
                        return b""
                    inflate = self._inflate = zlib.decompressobj(wbits=31)
                else:
                    data = self.source.read(INPUT_CHUNK)
                    if not data:
                        raise InvalidInput("gzip layer is truncated", field="layers",
                                           hint="the blob is incomplete; pull or load it again")
                out = inflate.decompress(data, CHUNK)
                if out:
                    return out
        except zlib.error as err:
            raise InvalidInput(f"gzip layer is corrupt: {err}", field="layers",
                               hint="the blob is damaged or not gzip; pull or load it again") from None


class _Guarded(ReaderBase):
    """Turns a decompressor's own exception type into InvalidInput."""

    def __init__(self, reader: BinaryIO, name: str, error: type[BaseException]) -> None:
        self.reader = reader
        self.name = name
        self.error = error

    def read(self, size: int = -1) -> bytes:
        try:
            return self.reader.read(min(size, CHUNK) if size is not None and size >= 0 else CHUNK)
        except self.error as err:
            raise InvalidInput(f"{self.name} layer is corrupt: {err}", field="layers",
                               hint="the blob is damaged; pull or load it again") from None


class HashingReader(ReaderBase):
    """Passes bytes through while hashing them (the layer's DiffID)."""

    def __init__(self, source: BinaryIO) -> None:
        self.source = source
        self._hash = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size if size is not None and size >= 0 else CHUNK)
        self._hash.update(data)
        self.size += len(data)
        return data

    @property
    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()
