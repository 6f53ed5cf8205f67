"""A new image from a parent, new layers and the config its maker built
(a build step, ``commit``, ``import``).

What makes it an image is the same for every maker, so it is here once:
the layers made present through ``layers.materialize`` (the blob copied
in and verified, the snapshot unpacked from it and its DiffID checked),
the config and an OCI manifest stored as blobs, and the ``ImageRecord``
saved through ``ImageStore.save`` (its tag rules: a moved tag leaves the old
image dangling). All-or-nothing: when anything fails, the blobs this call
added and the snapshots it committed are taken back (unless a record names
them meanwhile), so a failed build leaves the store as it was.

The config is canonical JSON (sorted keys, no spaces), so the image ID is a
function of the document: an unchanged rebuild yields the same ID.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from ..digest import chain_ids, sha256_digest
from ..errors import InvalidInput, NotFound
from .compressor import LayerDigests
from .layers import BlobOpener, LayerStats, materialize
from .manifest import OCI_CONFIG, OCI_MANIFEST
from .records import ImageRecord, LayerRecord
from .reference import Reference
from .store import ImageStore
from .unpack import sync_filesystem

SOURCES = ("pull", "load", "import", "build", "commit")


@dataclass(frozen=True)
class NewLayer:
    digests: LayerDigests
    path: Path                 # the compressed blob, as LayerSink wrote it
    # the layer's tree, overlay-ready (a build step's upper dir): it becomes the snapshot by rename
    # instead of unpacking the blob again
    tree: Path | None = None


def assemble(store: ImageStore, parent: ImageRecord | None, layers: list[NewLayer], config: dict[str, Any],
             *, source: str, tag: Reference | None = None) -> ImageRecord:
    """Store the image ``config`` describes: the parent's layers plus
    ``layers``. ``config`` is the whole image config document; only its
    ``rootfs.diff_ids`` are checked against the layers."""
    inherited = list(parent.layers) if parent is not None else []
    added = [LayerRecord(n.digests.digest, n.digests.media_type, n.digests.size, n.digests.diff_id) for n in layers]
    _check_diff_ids(config, inherited + added)
    paths = {n.digests.digest: n.path for n in layers}

    @contextlib.contextmanager
    def open_blob(layer: LayerRecord) -> Iterator[BinaryIO]:
        path = paths.get(layer.digest)
        if path is None:
            raise NotFound(f"layer {layer.digest} of the parent image is missing from the store", field="layers",
                           hint="pull or load the parent image again")
        with path.open("rb") as handle:
            yield handle

    adopted = _adopt_trees(store, inherited, layers)
    try:
        return store_image(store, inherited + added, open_blob, config_bytes(config), source=source, tag=tag)
    except BaseException:
        referenced = _referenced_chains(store)
        for chain_id in reversed(adopted):   # store_image took back its own part already
            if chain_id not in referenced:
                with contextlib.suppress(Exception):
                    store.engine.snapshots.remove(chain_id)
        raise


def _adopt_trees(store: ImageStore, inherited: list[LayerRecord], layers: list[NewLayer]) -> list[str]:
    """Commit the new layers that come with a tree as their snapshots (what
    containerd's overlay snapshotter does with a committed upper dir); the
    ChainIDs committed here, for an undo. The blob is still stored by the
    caller, so the image can be pushed and saved."""
    engine = store.engine
    chains = chain_ids([*(lay.diff_id for lay in inherited), *(n.digests.diff_id for n in layers)])
    adopted: list[str] = []
    for index, layer in enumerate(layers, start=len(inherited)):
        chain, parent = chains[index], chains[index - 1] if index else None
        if layer.tree is None or engine.snapshots.exists(chain):
            continue
        active = engine.snapshots.begin(chain, parent, layer.digests.diff_id)
        try:
            os.rmdir(active.fs)
            os.rename(layer.tree, active.fs)   # same file system: the store's tmp is under the state root
            sync_filesystem(active.fs)
            engine.snapshots.commit(active)
            adopted.append(chain)
        finally:
            engine.snapshots.abort(active)
    return adopted


def store_image(store: ImageStore, layers: list[LayerRecord], open_blob: BlobOpener | None, config: bytes, *,
                source: str, tag: Reference | None) -> ImageRecord:
    """The shared tail of every maker: layers present, config and manifest
    blobs, the record saved (untagged when ``tag`` is None); undone on failure."""
    if source not in SOURCES:
        raise InvalidInput(f"unknown image source {source!r}", field="source", hint=f"one of {', '.join(SOURCES)}")
    document = _parsed(config)
    engine = store.engine
    stats = LayerStats()
    new_snapshots = [c for c in chain_ids(lay.diff_id for lay in layers) if not engine.snapshots.exists(c)]
    try:
        materialize(engine, layers, open_blob, stats)
        manifest = manifest_bytes(config, layers)
        for blob in (config, manifest):
            digest = sha256_digest(blob)
            if not engine.blobs.exists(digest):
                engine.blobs.put_bytes(blob, digest)
                stats.created_blobs.append(digest)
        record = ImageRecord(
            id=sha256_digest(config), manifest_digest=sha256_digest(manifest), manifest_media_type=OCI_MANIFEST,
            config_media_type=OCI_CONFIG, layers=list(layers), created=document.get("created"),
            os=document.get("os") or "linux", architecture=document.get("architecture") or "amd64",
            variant=document.get("variant"), source=source)
        store.save(record, tag)
        return store.get(record.id)
    except BaseException:
        _undo(store, stats.created_blobs, new_snapshots)
        raise


def image_config(store: ImageStore, record: ImageRecord) -> dict[str, Any]:
    """The image's config document, parsed."""
    return _parsed(store.engine.blobs.read_bytes(record.id))


def config_bytes(config: dict[str, Any]) -> bytes:
    return json.dumps(config, sort_keys=True, separators=(",", ":")).encode()


def manifest_bytes(config: bytes, layers: list[LayerRecord]) -> bytes:
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
           "config": {"mediaType": OCI_CONFIG, "digest": sha256_digest(config), "size": len(config)},
           "layers": [{"mediaType": layer.media_type, "digest": layer.digest, "size": layer.size}
                      for layer in layers]}
    return json.dumps(doc, separators=(",", ":")).encode()


def _check_diff_ids(config: dict[str, Any], layers: list[LayerRecord]) -> None:
    rootfs = config.get("rootfs") if isinstance(config, dict) else None
    stated = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    expected = [layer.diff_id for layer in layers]
    if stated != expected:
        raise InvalidInput(f"the config's rootfs.diff_ids ({len(stated or [])}) are not the image's layers "
                           f"({len(expected)}: the parent's and the new ones)", field="config.rootfs.diff_ids",
                           hint="report this: the image's maker built an inconsistent config")


def _parsed(config: bytes) -> dict[str, Any]:
    try:
        document = json.loads(config)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise InvalidInput("the image config is not a JSON object", field="config",
                           hint="report this: the image's maker wrote a broken config")
    return document


def _undo(store: ImageStore, blobs: list[str], snapshots: list[str]) -> None:
    """Take back what a failed assemble added; what a record names stays."""
    cleanups: list[Callable[[], object]] = [lambda: store.discard_unreferenced(blobs)]
    referenced = _referenced_chains(store)
    for chain_id in reversed(snapshots):   # top first: a snapshot with children cannot go
        if chain_id not in referenced:
            cleanups.append(lambda c=chain_id: store.engine.snapshots.remove(c))  # type: ignore[misc]
    for cleanup in cleanups:
        with contextlib.suppress(Exception):   # the original error is what the caller needs to see
            cleanup()


def _referenced_chains(store: ImageStore) -> set[str]:
    try:
        return {c for record in store.list() for c in record.chain_ids}
    except Exception:   # unreadable records: keep every snapshot, the sweep decides later
        return {"*"} | {s.chain_id for s in store.engine.snapshots.list()}
