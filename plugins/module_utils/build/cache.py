"""The build cache: one entry per step, its key → the image the step made.

A step's key hashes everything its result depends on: the parent image's
ID, the expanded instruction, the environment and build arguments the step
sees, user/workdir/shell/network/mount specs and, for COPY/ADD, the digest
of the selected sources' content and metadata (not mtimes). A key is a
function of those alone, so check mode computes the same keys an apply
would, without running anything, and reads the cache to learn where the
first miss is.

Entries live in ``metadata/buildcache/<key-hex>.json``. The image a hit
names must still exist and be complete; otherwise it is a miss (an
``image prune`` removes untagged intermediate images, and with them the
cache, as ``docker builder prune`` would).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ..engine import Engine
from ..image.records import ImageRecord
from ..image.store import ImageStore

COLLECTION = "buildcache"
KEY_VERSION = 1   # bump when what a key covers changes, so old entries miss


def step_key(parts: dict[str, Any]) -> str:
    """The cache key of one step: a sha256 over its canonical JSON."""
    text = json.dumps({"v": KEY_VERSION, **parts}, sort_keys=True, separators=(",", ":"), default=_plain)
    return hashlib.sha256(text.encode()).hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if hasattr(value, "__dict__"):
        return vars(value)
    return str(value)


class BuildCache:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.meta = engine.metadata(COLLECTION)   # a read-only view under check mode
        self.images = ImageStore(engine)

    def lookup(self, key: str) -> ImageRecord | None:
        entry = self.meta.find(key)
        if entry is None:
            return None
        record = self.images.find(str(entry.get("image", "")))
        if record is None or not self.images.complete(record):
            return None
        return record

    def store(self, key: str, record: ImageRecord) -> None:
        self.engine.require_writable("record a build step in the cache")
        with self.meta.transaction() as txn:
            txn.put(key, {"id": key, "image": record.id})
