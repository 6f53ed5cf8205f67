"""The persisted record of one image (``metadata/images/<id-hex>.json``).

An image's ID is its config digest, as in Docker. Manifest and config bytes
are kept as blobs so a push or save reproduces the exact digests.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..digest import chain_ids


@dataclass(frozen=True)
class LayerRecord:
    digest: str          # compressed blob digest, as the manifest names it
    media_type: str
    size: int            # compressed size
    diff_id: str         # digest of the uncompressed tar


@dataclass
class ImageRecord:
    id: str                                   # config digest
    manifest_digest: str
    manifest_media_type: str
    config_media_type: str
    layers: list[LayerRecord]
    repo_tags: list[str] = field(default_factory=list)
    repo_digests: list[str] = field(default_factory=list)
    created: str | None = None
    os: str = "linux"
    architecture: str = "amd64"
    variant: str | None = None
    source: str = "pull"                      # pull | load | import | build | commit
    stored_at: float = 0.0

    @property
    def chain_ids(self) -> list[str]:
        return chain_ids([layer.diff_id for layer in self.layers])

    @property
    def top_chain_id(self) -> str | None:
        chain = self.chain_ids
        return chain[-1] if chain else None

    @property
    def short_id(self) -> str:
        return self.id.split(":", 1)[1][:12]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> ImageRecord:
        layers = [LayerRecord(**layer) for layer in doc.get("layers", [])]
        return cls(**{**doc, "layers": layers})
