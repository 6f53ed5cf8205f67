"""Plan ``source: build`` and ``source: commit`` for the image task.

A build is predicted first, over a read-only view in both modes: every
step's cache key computed, the cache read, nothing run (build/executor.py).
When every step hits and the result is the image the name already points
at, there is nothing to do; otherwise the plan holds one ``Build`` step,
described with the first step that will run. The apply executes the very
build the prediction walked, so a cached rebuild ends on the same image ID
and the task reports ``changed`` only when the name moved.

A commit is keyed like a build step: the container, the image it runs, the
digest of its writable layer's tar (read, never written), its spec and the
commit's own options. Re-running a commit of an unchanged container names
the image the first run made.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..build.cache import BuildCache, step_key
from ..build.executor import build
from ..build.model import BuildOptions
from ..engine import Engine
from ..image.records import ImageRecord
from ..image.reference import Reference, parse_reference
from ..image.store import ImageStore
from ..plan import Plan, Step

if TYPE_CHECKING:
    from .image_models import BuildConfig, CommitConfig, ImageRequest


@dataclass(frozen=True)
class Build(Step):
    ref: str
    familiar: str
    options: BuildOptions
    first: str | None
    outcome: dict[str, Any] = field(default_factory=dict, compare=False)

    def describe(self) -> str:
        return f"built: {self.familiar} ({'from ' + self.first if self.first else 'every step cached'})"

    def execute(self, context: Engine) -> str:
        context.require_writable(f"build {self.familiar}")
        result = build(context, self.options)
        if result.image is None:   # pragma: no cover - a writable build always ends on an image
            raise RuntimeError("the build ended without an image")
        ImageStore(context).save(result.image, parse_reference(self.ref))
        self.outcome.update(result.to_dict())
        return result.image.id


@dataclass(frozen=True)
class Commit(Step):
    ref: str
    familiar: str
    commit: CommitConfig
    key: str
    outcome: dict[str, Any] = field(default_factory=dict, compare=False)

    def describe(self) -> str:
        return f"committed: {self.commit.container} as {self.familiar}"

    def execute(self, context: Engine) -> str:
        from ..build.commit import commit_container

        context.require_writable(f"commit {self.commit.container}")
        cache = BuildCache(context)
        record = cache.lookup(self.key)
        if record is None:
            record = commit_container(context, self.commit.container, changes=list(self.commit.changes),
                                      message=self.commit.message, author=self.commit.author,
                                      pause=self.commit.pause, tag=None)
            cache.store(self.key, record)
        ImageStore(context).save(record, parse_reference(self.ref))
        self.outcome.update({"id": record.id, "steps": [], "cached": 0, "from_step": None, "warnings": []})
        return record.id


def build_options(request: ImageRequest, config: BuildConfig) -> BuildOptions:
    return BuildOptions(context=config.path, dockerfile=config.dockerfile, args=dict(config.args),
                        target=config.target, nocache=config.nocache, pull=config.pull, network=config.network,
                        labels=dict(config.labels), compression=config.compression, registry=request.registry)


def plan_build(plan: Plan, engine: Engine, ref: Reference, current: ImageRecord | None,
               request: ImageRequest) -> ImageRecord | None:
    """The record the later steps work on (None when the Build step makes it)."""
    if request.build is None:
        from ..errors import InvalidInput

        raise InvalidInput("source: build needs build", field="build", hint="give build.path (the context)")
    options = build_options(request, request.build)
    predicted = build(engine if engine.read_only else engine.view(), options)
    plan.warnings.extend(predicted.warnings)
    if predicted.image is not None and current is not None and current.id == predicted.image.id:
        plan.facts["build"] = predicted.to_dict()
        return current
    miss = predicted.first_miss
    first = f"{options.dockerfile}:{miss.line} {miss.instruction}" if miss is not None else None
    step = Build(str(ref), ref.familiar, options, first)
    plan.add(step)
    plan.facts["build"] = step.outcome
    step.outcome.update(predicted.to_dict())
    return None


def plan_commit(plan: Plan, engine: Engine, ref: Reference, current: ImageRecord | None,
                request: ImageRequest) -> ImageRecord | None:
    if request.commit is None:
        from ..errors import InvalidInput

        raise InvalidInput("source: commit needs commit", field="commit", hint="give commit.container")
    key = commit_key(engine, request.commit)
    hit = BuildCache(engine).lookup(key)
    if hit is not None and current is not None and current.id == hit.id:
        plan.facts["build"] = {"id": hit.id, "steps": [], "cached": 1, "from_step": None, "warnings": []}
        return current
    step = Commit(str(ref), ref.familiar, request.commit, key)
    plan.add(step)
    plan.facts["build"] = step.outcome
    step.outcome.update({"id": hit.id if hit else None, "steps": [], "cached": 0, "from_step": None,
                         "warnings": []})
    return None


def commit_key(engine: Engine, commit: CommitConfig) -> str:
    """What a commit's image depends on, read without writing."""
    from ..containers.store import ContainerStore

    store = ContainerStore(engine)
    record = store.record(commit.container)
    upper = store.directory(record.id) / "bundle" / "upper"
    return step_key({"commit": record.id, "image": record.image_id, "spec": record.spec.to_dict(),
                     "layer": _upper_digest(upper), "changes": list(commit.changes), "message": commit.message,
                     "author": commit.author})


def _upper_digest(upper: Any) -> str:
    """The diff_id the container's writable layer would get (its tar, hashed, thrown away)."""
    from ..build.layerdiff import diff_upper
    from ..image.compressor import LayerSink

    with open(os.devnull, "wb") as sink_file:
        sink = LayerSink(sink_file, "none")
        diff_upper(upper, sink)
        return sink.close().diff_id
