"""Images: records, tags and digests, lookup, removal with layer GC.

Tags live on the image records (``repo_tags``); moving a tag to a new image
removes it from the old one in the same transaction under the ``images``
lock, so a name always resolves to exactly one image. Removal follows
Docker: removing one of several tags only untags; the last tag removes the
image; an image used by a container is refused unless forced; layers and
blobs still used by another image (or by a container, see collect.py) stay.
"""

from __future__ import annotations

import time
from typing import Any

from ..engine import Engine
from ..errors import Conflict, InvalidInput, NotFound
from ..metadata import Transaction
from .collect import sweep
from .records import ImageRecord
from .reference import Reference, parse_reference

COLLECTION = "images"


def _key(image_id: str) -> str:
    return image_id.split(":", 1)[1]


class ImageStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.meta = engine.metadata(COLLECTION)

    # -- lookup -------------------------------------------------------------
    def users(self, image_id: str) -> list[str]:
        """Names of the containers (running or not) made from this image. Their
        records are read without the containers lock, as collect.py reads them:
        documents are replaced atomically."""
        return sorted(doc.get("name") or doc.get("id", "")[:12] for doc in self.engine.metadata("containers").list()
                      if doc.get("image_id") == image_id)

    def refuse_in_use(self, image_id: str, *, field: str = "name", hint: str | None = None) -> None:
        users = self.users(image_id)
        if users:
            raise Conflict(f"image {image_id} is used by container(s) {', '.join(users)}", field=field,
                           hint=hint or "remove the containers first, or set force: true")

    def list(self) -> list[ImageRecord]:
        return [ImageRecord.from_dict(doc) for doc in self.meta.list()]

    def get(self, image_id: str) -> ImageRecord:
        doc = self.meta.find(_key(image_id))
        if doc is None:
            raise NotFound(f"image {image_id} does not exist", field="name")
        return ImageRecord.from_dict(doc)

    def find(self, text: str) -> ImageRecord | None:
        """Resolve a tag, name@digest, full or short ID (like ``docker inspect``)."""
        if _is_full_id(text):   # one record read instead of all of them (builds resolve IDs per step)
            doc = self.meta.find(_key(text))
            return ImageRecord.from_dict(doc) if doc is not None else None
        candidates = self.list()
        by_id = _match_id(text, candidates)
        if by_id is not None:
            return by_id
        ref = parse_reference(text)
        for record in candidates:
            if ref.digest and f"{ref.name}@{ref.digest}" in record.repo_digests:
                return record
            if not ref.digest and ref.tagged in record.repo_tags:
                return record
        return None

    def resolve(self, text: str) -> ImageRecord:
        record = self.find(text)
        if record is None:
            raise NotFound(f"image {text!r} is not present", field="name",
                           hint="pull, load or build it first")
        return record

    def complete(self, record: ImageRecord) -> bool:
        """All blobs and layer snapshots of the image are in the store."""
        blobs = self.engine.blobs
        if not (blobs.exists(record.id) and blobs.exists(record.manifest_digest)):
            return False
        return all(self.engine.snapshots.exists(c) for c in record.chain_ids)

    # -- writes -------------------------------------------------------------
    def save(self, record: ImageRecord, tag: Reference | None = None, digest_name: str | None = None) -> bool:
        """Store/merge a record and point ``tag`` at it. Returns whether
        anything changed (a new image, a moved tag, a new repo digest)."""
        self.engine.require_writable(f"save image {record.id}")
        with self.meta.transaction() as txn:
            existing = txn.find(_key(record.id))
            current = ImageRecord.from_dict(existing) if existing else record
            changed = existing is None
            if existing is None:
                current.stored_at = time.time()
            if digest_name and digest_name not in current.repo_digests:
                current.repo_digests.append(digest_name)
                changed = True
            if tag is not None and tag.tagged not in current.repo_tags:
                _untag_everywhere(txn, tag.tagged, keep=current.id)
                current.repo_tags.append(tag.tagged)
                changed = True
            if changed:
                txn.put(_key(current.id), current.to_dict())
        self.engine.blobs.release_hold()   # the record names its content now: sweeping is safe again
        return changed

    def tag(self, source: str, target: str) -> bool:
        record = self.resolve(source)
        ref = parse_reference(target, field="repository")
        if ref.digest:
            raise InvalidInput(f"cannot tag with a digest ({target!r})", field="repository",
                               hint="give name[:tag]")
        return self.save(record, ref)

    def untag(self, text: str) -> ImageRecord | None:
        self.engine.require_writable(f"untag {text}")
        ref = parse_reference(text)
        with self.meta.transaction() as txn:
            for doc in txn.list():
                if ref.tagged in doc["repo_tags"]:
                    doc["repo_tags"].remove(ref.tagged)
                    txn.put(_key(doc["id"]), doc)
                    return ImageRecord.from_dict(doc)
        return None

    def remove(self, text: str, *, force: bool = False) -> list[str]:
        """``docker rmi``: returns the actions taken ("untagged: x", "deleted: id")."""
        self.engine.require_writable(f"remove image {text}")
        record = self.resolve(text)
        by_tag = not _is_id(text, record) and len(record.repo_tags) > 1
        if by_tag and not force:
            self.untag(text)
            return [f"untagged: {parse_reference(text).tagged}"]
        users = self.users(record.id)
        if users and not force:
            raise Conflict(f"image {text!r} is used by container(s) {', '.join(users)}", field="name",
                           hint="remove the containers first, or set force: true")
        with self.meta.transaction() as txn:
            txn.delete(_key(record.id))
        actions = [f"untagged: {t}" for t in record.repo_tags] + [f"deleted: {record.id}"]
        self.engine.layout.mark_gc_pending()   # a busy store is swept by a later engine call
        self.collect_garbage()
        return actions

    def collect_garbage(self, *, wait: float = 0.0) -> dict[str, int]:
        """Remove snapshots and blobs nothing references any more (the
        mark-and-sweep in collect.py; skipped, and left for a later sweep,
        while another operation is adding content and ``wait`` runs out)."""
        self.engine.require_writable("collect unreferenced layers and blobs")
        return sweep(self.engine, wait=wait).counts()

    def discard_unreferenced(self, digests: list[str]) -> None:
        """Delete these blobs unless an image record references them (undo
        of a failed pull/load; other blobs are left alone, as a concurrent
        operation may own them)."""
        self.engine.require_writable("discard unreferenced blobs")
        referenced = {d for r in self.list() for d in (r.id, r.manifest_digest, *(x.digest for x in r.layers))}
        for digest in digests:
            if digest not in referenced:
                self.engine.blobs.delete(digest)
        self.engine.blobs.release_hold()

    def dangling(self) -> list[ImageRecord]:
        return [r for r in self.list() if not r.repo_tags]


def _untag_everywhere(txn: Transaction, tagged: str, keep: str) -> None:
    for doc in txn.list():
        if doc["id"] != keep and tagged in doc["repo_tags"]:
            doc["repo_tags"].remove(tagged)
            txn.put(_key(doc["id"]), doc)


def _is_full_id(text: str) -> bool:
    bare = text[7:] if text.startswith("sha256:") else ""
    return len(bare) == 64 and all(c in "0123456789abcdef" for c in bare)


def _is_id(text: str, record: ImageRecord) -> bool:
    bare = text.removeprefix("sha256:")
    return len(bare) >= 4 and record.id.split(":", 1)[1].startswith(bare)


def _match_id(text: str, records: list[ImageRecord]) -> ImageRecord | None:
    bare = text.removeprefix("sha256:")
    if not (4 <= len(bare) <= 64) or any(c not in "0123456789abcdef" for c in bare):
        return None
    hits = [r for r in records if r.id.split(":", 1)[1].startswith(bare)]
    if len(hits) > 1:
        raise InvalidInput(f"image ID prefix {text!r} is ambiguous ({len(hits)} images)", field="name",
                           hint="give more characters of the ID")
    return hits[0] if hits else None


def image_summary(record: ImageRecord, store: ImageStore) -> dict[str, Any]:
    """The facts image_info and the image module return."""
    engine = store.engine
    return {
        "id": record.id,
        "short_id": record.short_id,
        "repo_tags": sorted(record.repo_tags),
        "repo_digests": sorted(record.repo_digests),
        "manifest_digest": record.manifest_digest,
        "created": record.created,
        "os": record.os,
        "architecture": record.architecture,
        "variant": record.variant,
        "size": sum(layer.size for layer in record.layers),
        "layers": [{"digest": layer.digest, "diff_id": layer.diff_id, "size": layer.size,
                    "media_type": layer.media_type} for layer in record.layers],
        "chain_ids": record.chain_ids,
        "source": record.source,
        "complete": store.complete(record),
        "state_root": str(engine.layout.state_root),
    }
