"""Bounds on everything berth reads whole from a registry or an archive.

A registry or archive is untrusted input: without a bound, a 150 MiB
"manifest" is buffered (and parsed) in full. Each document kind has one
named limit here, used by the registry client, the pull and archive load.
A body past its bound is never buffered: the reader stops at bound + 1
bytes and the caller fails naming the source, the object and the bound.

The values follow containerd (``MaxManifestSize``, 4 MiB, for manifests
and indexes); configs get more room because long histories and labels
make them legitimately larger. Layers are streamed, so they have no byte
bound here; their count is bounded because overlayfs cannot stack more
lower directories than that in one mount.
"""

from __future__ import annotations

from typing import BinaryIO, Protocol

from ..errors import InvalidInput

KIB = 1 << 10
MIB = 1 << 20

MAX_MANIFEST_BYTES = 4 * MIB      # image manifests and indexes (manifest.json / index.json too)
MAX_CONFIG_BYTES = 8 * MIB        # image configs
MAX_TOKEN_BYTES = 64 * KIB        # token service answers
MAX_ERROR_BYTES = 64 * KIB        # error bodies, read only to quote their message
MAX_DISCARD_BYTES = 64 * KIB      # bodies read only to reuse the connection
MAX_LAYERS = 128                  # layers per image: what one overlay mount can stack


class _Readable(Protocol):
    def read(self, size: int = -1) -> bytes: ...


def _size_text(limit: int) -> str:
    if limit % MIB == 0:
        return f"{limit // MIB} MiB"
    if limit % KIB == 0:
        return f"{limit // KIB} KiB"
    return f"{limit} bytes"


def too_large(source: str, what: str, limit: int, size: int | None = None) -> InvalidInput:
    """The error for a document past its bound; ``size`` when it is known."""
    claimed = f" ({size} bytes)" if size is not None else ""
    return InvalidInput(f"{source}: {what} is larger than berth's limit of {_size_text(limit)}{claimed}",
                        field="name", hint="the registry or archive serves a document far larger than any real "
                                           "image needs; berth refuses it rather than buffer it")


def check_claim(size: int | None, limit: int, *, source: str, what: str) -> None:
    """Refuse a declared size (Content-Length, a descriptor's size) past ``limit``
    before a single byte is read."""
    if size is not None and size > limit:
        raise too_large(source, what, limit, size)


def read_bounded(stream: _Readable | BinaryIO, limit: int, *, source: str, what: str) -> bytes:
    """Read a whole document of at most ``limit`` bytes; at limit + 1, stop and fail."""
    chunks: list[bytes] = []
    total = 0
    while total <= limit:
        chunk = stream.read(min(MIB, limit + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    if total > limit:
        raise too_large(source, what, limit)
    return b"".join(chunks)


def check_layer_count(count: int, *, what: str) -> None:
    """Refuse an image with more layers than an overlay mount can stack, before
    any of them is fetched or unpacked."""
    if count > MAX_LAYERS:
        raise InvalidInput(f"{what} has {count} layers; berth accepts at most {MAX_LAYERS}", field="name",
                           hint="overlayfs cannot stack more lower directories in one mount; "
                                "squash the image (e.g. rebuild it with fewer RUN steps)")
