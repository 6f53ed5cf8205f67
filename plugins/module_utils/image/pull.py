"""Pulling an image: manifest (platform chosen from an index) → config →
layers (``layers.materialize``: parallel, streamed, verified) → record.

Nothing here runs in check mode: planning is in ``image/service.py``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from ..crashpoint import crash_point
from ..errors import InvalidInput
from ..registry.limits import MAX_CONFIG_BYTES, MAX_MANIFEST_BYTES, check_claim, read_bounded
from .layers import BlobOpener, LayerStats, Progress, materialize
from .manifest import (
    ACCEPT,
    INDEX_TYPES,
    MANIFEST_TYPES,
    Descriptor,
    Platform,
    image_config,
    image_manifest,
    load_json,
    media_type_of,
    select_platform,
)
from .records import ImageRecord, LayerRecord
from .reference import Reference
from .store import ImageStore


@dataclass
class Resolved:
    """What the registry says a reference is, before any blob is fetched."""

    top_digest: str                 # digest of what the tag points at (index or manifest)
    manifest: bytes
    manifest_digest: str
    manifest_media_type: str
    config: Descriptor
    layers: list[Descriptor]


class Puller:
    def __init__(self, store: ImageStore, client: object, platform: Platform | None = None, *,
                 progress: Progress | None = None) -> None:
        self.store = store
        self.progress = progress   # the CLI's live display; the modules pass none
        self.engine = store.engine
        self.client = client  # a RegistryClient (duck-typed for unit tests)
        self.platform = platform or Platform.host()
        self.stats = LayerStats()

    def resolve(self, ref: Reference) -> Resolved:
        repo = ref.repository
        data, header_type, digest = self.client.get_manifest(repo, ref.reference_for_pull, ACCEPT)  # type: ignore[attr-defined]
        if ref.digest and digest != ref.digest:
            raise InvalidInput(f"registry served {digest} for {ref}", field="name",
                               hint="the registry returned content that does not match the requested digest")
        top = digest
        doc = load_json(data, f"manifest of {ref}")
        media_type = media_type_of(doc, header_type)
        if media_type in INDEX_TYPES:
            chosen = select_platform(doc, self.platform, f"index of {ref}")
            check_claim(chosen.size, MAX_MANIFEST_BYTES, source=f"index of {ref}", what=f"manifest {chosen.digest}")
            data, header_type, digest = self.client.get_manifest(repo, chosen.digest, ACCEPT)  # type: ignore[attr-defined]
            if digest != chosen.digest:
                raise InvalidInput(f"registry served {digest} for {ref}@{chosen.digest}", field="name")
            doc = load_json(data, f"manifest {chosen.digest}")
            media_type = media_type_of(doc, header_type)
        if media_type not in MANIFEST_TYPES:
            raise InvalidInput(f"{ref} has unsupported manifest type {media_type!r}", field="name",
                               hint="only OCI and Docker schema 2 images are supported")
        config, layers = image_manifest(doc, f"manifest of {ref}")  # bounds the layer count
        # The descriptor's size bounds the config's download (the blob writer stops past it).
        check_claim(config.size, MAX_CONFIG_BYTES, source=f"manifest of {ref}", what=f"config {config.digest}")
        return Resolved(top, data, digest, media_type, config, layers)

    def pull(self, ref: Reference) -> tuple[ImageRecord, bool]:
        """Fetch whatever is missing and tag the image; returns (record, changed).
        On failure, blobs this pull added and no image references are removed."""
        try:
            return self._pull(ref)
        except BaseException:
            self.store.discard_unreferenced(self.stats.created_blobs)
            raise

    def _pull(self, ref: Reference) -> tuple[ImageRecord, bool]:
        resolved = self.resolve(ref)
        config = self._fetch_config(ref, resolved.config, len(resolved.layers))
        diff_ids = config["rootfs"]["diff_ids"]
        layers = [LayerRecord(d.digest, d.media_type, d.size, diff_id)
                  for d, diff_id in zip(resolved.layers, diff_ids, strict=True)]
        materialize(self.engine, layers, self._opener(ref.repository), self.stats, progress=self.progress)
        crash_point("image.pull.blobs_stored")   # layers stored, no record yet
        self.engine.blobs.put_bytes(resolved.manifest, resolved.manifest_digest)
        record = ImageRecord(
            id=resolved.config.digest, manifest_digest=resolved.manifest_digest,
            manifest_media_type=resolved.manifest_media_type, config_media_type=resolved.config.media_type,
            layers=layers,
            created=config.get("created"), os=config.get("os", "linux"),
            architecture=config.get("architecture", "amd64"), variant=config.get("variant"), source="pull")
        tag = ref if ref.tag else None
        changed = self.store.save(record, tag, digest_name=f"{ref.name}@{resolved.top_digest}")
        return self.store.get(record.id), changed or self.stats.fetched > 0

    def _opener(self, repository: str) -> BlobOpener:
        client = self.client

        @contextlib.contextmanager
        def open_blob(layer: LayerRecord) -> Iterator[BinaryIO]:
            response = client.open_blob(repository, layer.digest)  # type: ignore[attr-defined]
            try:
                yield response.body
            finally:
                response.close()

        return open_blob

    def _fetch_config(self, ref: Reference, desc: Descriptor, layer_count: int) -> dict:
        blobs = self.engine.blobs
        if not blobs.exists(desc.digest):
            response = self.client.open_blob(ref.repository, desc.digest)  # type: ignore[attr-defined]
            try:
                blobs.put_stream(response.body, desc.digest, desc.size)
                self.stats.created_blobs.append(desc.digest)
            finally:
                response.close()
        with blobs.open(desc.digest) as handle:  # a stored blob of that digest may be any size
            data = read_bounded(handle, MAX_CONFIG_BYTES, source=str(ref), what=f"config {desc.digest}")
        return image_config(data, f"config {desc.digest}", layer_count)
