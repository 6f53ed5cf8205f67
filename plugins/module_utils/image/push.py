"""Pushing an image: blobs first (skip present, mount across repositories
when the registry offers it, else upload), then the exact manifest bytes, so
the pushed digest equals the stored one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from .layers import PROGRESS_STEP, LayerProgress, Progress
from .records import ImageRecord
from .reference import Reference
from .store import ImageStore


@dataclass
class PushStats:
    uploaded: list[str] = field(default_factory=list)
    mounted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def push_image(store: ImageStore, record: ImageRecord, target: Reference, client: object, *,
               progress: Progress | None = None) -> tuple[str, PushStats]:
    """Push ``record`` to ``target``; returns (manifest digest, stats).
    ``progress`` (the CLI's display; the modules pass none) is told each layer's phases and bytes."""
    blobs = store.engine.blobs
    stats = PushStats()
    report = progress or _silent
    repo = target.repository
    sources = _mount_sources(record, target)
    layers = [(layer.digest, layer.size) for layer in record.layers]
    for digest, size in layers:
        report(LayerProgress(digest, "preparing", 0, size))
    for digest, size in [*layers, (record.id, blobs.size(record.id))]:
        is_layer = digest != record.id   # the config is pushed silently, as docker does
        tell = report if is_layer else _silent
        if client.blob_exists(repo, digest):  # type: ignore[attr-defined]
            stats.skipped.append(digest)
            tell(LayerProgress(digest, "exists", size, size))
            continue
        if any(client.mount_blob(repo, digest, src) for src in sources):  # type: ignore[attr-defined]
            stats.mounted.append(digest)
            tell(LayerProgress(digest, "mounted", size, size))
            continue
        opener: Callable[[], Any] = lambda d=digest: blobs.open(d)   # noqa: E731
        if progress is not None:   # the modules' uploads stay exactly as they were
            opener = _counted(opener, digest, size, tell)
        client.upload_blob(repo, digest, size, opener)  # type: ignore[attr-defined]
        stats.uploaded.append(digest)
        tell(LayerProgress(digest, "pushed", size, size))
    manifest = blobs.read_bytes(record.manifest_digest)
    pushed = client.put_manifest(repo, target.tag or "latest", manifest, record.manifest_media_type)  # type: ignore[attr-defined]
    return pushed, stats


def _mount_sources(record: ImageRecord, target: Reference) -> list[str]:
    """Other repositories on the same registry that already hold this image."""
    names = {t.rsplit(":", 1)[0] for t in record.repo_tags} | {d.split("@", 1)[0] for d in record.repo_digests}
    prefix = target.registry + "/"
    return sorted(n[len(prefix):] for n in names if n.startswith(prefix) and n != target.name)


def _silent(_event: LayerProgress) -> None:
    pass


def _counted(open_data: Callable[[], BinaryIO], digest: str, size: int,
             report: Progress) -> Callable[[], _CountingReader]:
    return lambda: _CountingReader(open_data(), digest, size, report)


class _CountingReader:
    """A blob being uploaded: reports the bytes read every PROGRESS_STEP."""

    def __init__(self, handle: BinaryIO, digest: str, size: int, report: Progress) -> None:
        self.handle, self.digest, self.size, self.report = handle, digest, size, report
        self.done = self.reported = 0

    def read(self, amount: int = -1) -> bytes:
        data = self.handle.read(amount)
        self.done += len(data)
        if data and (self.done - self.reported >= PROGRESS_STEP or self.done >= self.size):
            self.reported = self.done
            self.report(LayerProgress(self.digest, "pushing", self.done, self.size))
        return data

    def __enter__(self) -> _CountingReader:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.handle.close()
