"""Image pruning: dangling (or all unused) images, then unreferenced layers
and blobs (the mark-and-sweep of collect.py, which also takes what a crash
left unreferenced)."""

from __future__ import annotations

from ..engine import Engine
from .store import ImageStore

PRUNE_WAIT = 30.0   # seconds prune waits for pulls in flight before leaving the sweep to a later call


def prune_images(engine: Engine, *, dangling_only: bool, check_mode: bool) -> tuple[list[str], int]:
    store = ImageStore(engine)
    doomed = [r for r in store.list() if (not r.repo_tags or not dangling_only) and not store.users(r.id)]
    kept_blobs = {d for r in store.list() if r not in doomed
                  for d in (r.id, r.manifest_digest, *(layer.digest for layer in r.layers))}
    freed = {d for r in doomed for d in (r.id, r.manifest_digest, *(layer.digest for layer in r.layers))} - kept_blobs
    reclaimed = sum(engine.blobs.size(d) for d in freed if engine.blobs.exists(d))
    if not check_mode:
        for record in doomed:
            store.remove(record.id, force=True)
        store.collect_garbage(wait=PRUNE_WAIT)   # also what crashes left behind
    return [r.id for r in doomed], reclaimed
