"""Pushing an image: blobs first (skip present, mount across repositories
when the registry offers it, else upload), then the exact manifest bytes, so
the pushed digest equals the stored one."""

from __future__ import annotations

from dataclasses import dataclass, field

from .records import ImageRecord
from .reference import Reference
from .store import ImageStore


@dataclass
class PushStats:
    uploaded: list[str] = field(default_factory=list)
    mounted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def push_image(store: ImageStore, record: ImageRecord, target: Reference, client: object) -> tuple[str, PushStats]:
    """Push ``record`` to ``target``; returns (manifest digest, stats)."""
    blobs = store.engine.blobs
    stats = PushStats()
    repo = target.repository
    sources = _mount_sources(record, target)
    digests = [(layer.digest, layer.size) for layer in record.layers]
    digests.append((record.id, blobs.size(record.id)))
    for digest, size in digests:
        if client.blob_exists(repo, digest):  # type: ignore[attr-defined]
            stats.skipped.append(digest)
            continue
        if any(client.mount_blob(repo, digest, src) for src in sources):  # type: ignore[attr-defined]
            stats.mounted.append(digest)
            continue
        client.upload_blob(repo, digest, size, lambda d=digest: blobs.open(d))  # type: ignore[attr-defined]
        stats.uploaded.append(digest)
    manifest = blobs.read_bytes(record.manifest_digest)
    pushed = client.put_manifest(repo, target.tag or "latest", manifest, record.manifest_media_type)  # type: ignore[attr-defined]
    return pushed, stats


def _mount_sources(record: ImageRecord, target: Reference) -> list[str]:
    """Other repositories on the same registry that already hold this image."""
    names = {t.rsplit(":", 1)[0] for t in record.repo_tags} | {d.split("@", 1)[0] for d in record.repo_digests}
    prefix = target.registry + "/"
    return sorted(n[len(prefix):] for n in names if n.startswith(prefix) and n != target.name)
