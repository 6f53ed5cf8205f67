"""image_info: inspect images and measure the store (like ``docker system df``)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from ..engine import Engine
from ..errors import NotFound
from ..fsutil import disk_usage
from .manifest import load_json
from .store import ImageStore, image_summary


def inspect_images(engine: Engine, names: list[str] | None, *, measure: bool) -> dict[str, Any]:
    store = ImageStore(engine)
    missing: list[str] = []
    if names:
        records = []
        for name in names:
            record = store.find(name)
            if record is None:
                missing.append(name)
            elif record not in records:
                records.append(record)
    else:   # a build's untagged step images are its cache, hidden as `docker images` hides them without -a
        records = [r for r in store.list() if r.repo_tags or r.source != "build"]
    images = [_details(engine, store, record) for record in records]
    return {"images": images, "missing": missing, "usage": usage(engine, store, measure=measure)}


def _details(engine: Engine, store: ImageStore, record: Any) -> dict[str, Any]:
    summary = image_summary(record, store)
    try:
        config = load_json(engine.blobs.read_bytes(record.id), f"config {record.id}")
    except NotFound:
        config = {}
    summary["config"] = config.get("config", {})
    summary["history"] = config.get("history", [])
    return summary


def usage(engine: Engine, store: ImageStore, *, measure: bool) -> dict[str, Any]:
    records = store.list()
    counts = Counter(chain for record in records for chain in set(record.chain_ids))
    blobs = engine.blobs.list()
    result: dict[str, Any] = {
        "images": len(records),
        "dangling": len([r for r in records if not r.repo_tags]),
        "blobs": len(blobs),
        "blobs_bytes": sum(engine.blobs.size(d) for d in blobs),
        "layers": len(counts),
        "shared_layers": len([c for c, n in counts.items() if n > 1]),
    }
    if measure:
        sizes = {c: disk_usage(engine.snapshots.path(c) / "fs") for c in counts}
        result["layers_bytes"] = sum(sizes.values())
        result["shared_bytes"] = sum(s for c, s in sizes.items() if counts[c] > 1)
        result["unique_bytes"] = sum(s for c, s in sizes.items() if counts[c] == 1)
    return result


def history_rows(record: Any, config: dict[str, Any]) -> list[dict[str, Any]]:
    """``docker history``'s rows, newest first: the layer sizes matched to the
    non-empty entries, the image's ID on the top row, ``<missing>`` below."""
    layers = list(record.layers)
    rows = []
    index = 0
    for entry in config.get("history") or []:
        empty = bool(entry.get("empty_layer"))
        size = 0 if empty or index >= len(layers) else layers[index].size
        if not empty:
            index += 1
        rows.append({"id": "<missing>", "created": entry.get("created"), "created_by": entry.get("created_by", ""),
                     "size": size, "comment": entry.get("comment", ""), "empty_layer": empty,
                     "author": entry.get("author", "")})
    rows.reverse()
    if rows:
        rows[0]["id"] = record.id
    return rows
