"""``berth save`` of several images: one docker-archive whose manifest.json
lists each image and shares the layers they have in common.

image/archive.save_archive writes one image; this builds on its docker
writer (the layer and naming rules are the same) and only gathers the
manifest entries into one manifest.json and repositories file.
"""

from __future__ import annotations

import contextlib
import json
import os
import tarfile
import tempfile
from pathlib import Path

from ..digest import digest_hex
from ..errors import NotFound
from ..image import archive
from ..image.records import ImageRecord
from ..image.reference import Reference
from ..image.store import ImageStore


class _SeveralImages(archive._DockerWriter):
    def __init__(self, store: ImageStore, tar: tarfile.TarFile, scratch: Path) -> None:
        super().__init__(store, tar, scratch)
        self.written: set[str] = set()
        self.manifest: list[dict[str, object]] = []
        self.repositories: dict[str, dict[str, str]] = {}

    def write(self, record: ImageRecord, ref: Reference) -> None:
        config_name = f"{digest_hex(record.id)}.json"
        if config_name not in self.written:
            archive._add_bytes(self.tar, config_name, self.store.engine.blobs.read_bytes(record.id))
            self.written.add(config_name)
        names = [f"{digest_hex(layer.diff_id)}.tar" for layer in record.layers]
        for layer, name in zip(record.layers, names, strict=True):
            if name not in self.written:
                self._add_layer(layer, name)
                self.written.add(name)
        tags = archive._repo_tags(record, ref)
        self.manifest.append({"Config": config_name, "RepoTags": tags, "Layers": names})
        for tag in tags:
            name, _sep, version = tag.rpartition(":")
            self.repositories.setdefault(name, {})[version] = digest_hex(record.layers[-1].diff_id) if names else ""

    def finish(self) -> None:
        archive._add_bytes(self.tar, "manifest.json", json.dumps(self.manifest).encode())
        archive._add_bytes(self.tar, "repositories", json.dumps(self.repositories, sort_keys=True).encode())


def save_several(store: ImageStore, chosen: list[tuple[ImageRecord, Reference]], path: Path) -> None:
    """Write ``chosen`` (record, the name asked for) to ``path`` atomically."""
    if not path.parent.is_dir():
        raise NotFound(f"directory {path.parent} does not exist", field="--output",
                       hint="create it first, or choose another path")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            writer = _SeveralImages(store, tar, path.parent)
            for record, ref in chosen:
                writer.write(record, ref)
            writer.finish()
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
