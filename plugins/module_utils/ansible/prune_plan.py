"""The image half of ``prune`` as a plan (plan.py): dangling (or all unused)
images, then the layers and blobs nothing references any more (the
mark-and-sweep of collect.py, which also takes what a crash left
unreferenced). Planning only reads: the sweep's mark phase tells whether
anything is unreferenced now, so the sweep is a step only when it has work.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..engine import Engine
from ..image.collect import mark
from ..image.records import ImageRecord
from ..image.store import ImageStore
from ..plan import Step

PRUNE_WAIT = 30.0   # seconds prune waits for pulls in flight before leaving the sweep to a later call


@dataclass(frozen=True)
class PruneImage(Step):
    """One image a prune removes; ``size``: the bytes of blobs only it (of the
    images pruned) held, so the steps' sizes add up to what the prune frees."""

    image_id: str
    size: int

    def describe(self) -> str:
        return f"remove image {self.image_id}"

    def execute(self, context: Engine) -> list[str]:
        store = ImageStore(context)
        store.refuse_in_use(self.image_id)   # again: a container may have been made from it since the plan
        return store.remove(self.image_id, force=True)


@dataclass(frozen=True)
class CollectGarbage(Step):
    def describe(self) -> str:
        return "remove unreferenced layers and blobs"

    def execute(self, context: Engine) -> dict[str, int]:
        return ImageStore(context).collect_garbage(wait=PRUNE_WAIT)


def plan_image_prune(engine: Engine, *, dangling_only: bool) -> list[Step]:
    store = ImageStore(engine)
    records = store.list()
    doomed = [r for r in records if (not r.repo_tags or not dangling_only) and not store.users(r.id)]
    counted = {d for r in records if r not in doomed for d in _blobs(r)}   # kept: another image needs them
    steps: list[Step] = []
    for record in doomed:
        freed = [d for d in _blobs(record) if d not in counted and engine.blobs.exists(d)]
        counted.update(freed)
        steps.append(PruneImage(record.id, sum(engine.blobs.size(d) for d in freed)))
    if doomed or _unreferenced(engine):
        steps.append(CollectGarbage())
    return steps


def _blobs(record: ImageRecord) -> list[str]:
    return list(dict.fromkeys((record.id, record.manifest_digest, *(layer.digest for layer in record.layers))))


def _unreferenced(engine: Engine) -> bool:
    """Whether a sweep would find a blob or snapshot nothing references."""
    marks = mark(engine)
    return (any(d not in marks.blobs for d in engine.blobs.list())
            or any(s.chain_id not in marks.snapshots for s in engine.snapshots.list()))
