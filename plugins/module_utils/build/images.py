"""The images a build step reads and makes: an image's lower dirs, what a
``--from`` names (an earlier stage or an image, pulled when missing), base
images pulled from a registry, and a layer blob from an overlay upper dir."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..engine import Engine
from ..image.records import ImageRecord
from ..image.reference import Reference, parse_reference
from ..image.store import ImageStore

if TYPE_CHECKING:
    from .runstep import Scratch


def lowerdirs(engine: Engine, record: ImageRecord | None) -> list[Path]:
    if record is None or record.top_chain_id is None:
        return []
    return engine.snapshots.lowerdirs(record.top_chain_id)


def layer_of(builder: Any, scratch: Scratch, upper: Path, exclude: list[str]) -> Any:
    """The upper dir as a compressed layer blob in ``scratch`` (None when the step changed nothing)."""
    from ..image.assemble import NewLayer
    from ..image.compressor import LayerSink
    from .layerdiff import diff_upper, drop_stubs, is_empty

    if is_empty(upper, exclude):
        return None
    blob = scratch.path / "layer.blob"
    with blob.open("wb") as out:
        sink = LayerSink(out, builder.options.compression)
        diff_upper(upper, sink, exclude=exclude)
        digests = sink.close()
    drop_stubs(upper, exclude)   # the upper dir, as the tar has it, becomes the snapshot: no second unpack
    return NewLayer(digests, blob, tree=upper)


def from_image_id(builder: Any, source: str) -> str:
    """``--from``: a stage (name or index) built earlier, or an image reference
    (pulled when missing; a prediction names it missing, so its key misses)."""
    for stage in builder.program.stages:
        if source.lower() == (stage.name or "").lower() or source == str(stage.index):
            record = builder.stage_images.get(stage.index)
            return record.id if record is not None else "scratch"
    ref = parse_reference(source, field="build.dockerfile")
    found = builder.store.find(str(ref))
    if found is None:
        if builder.predicting:
            return f"missing:{ref}"
        found = pull_base(builder.engine, ref, builder.options.registry)
    return found.id


def pull_base(engine: Engine, ref: Reference, registry: Any) -> ImageRecord:
    from ..image.pull import Puller
    from ..image.service import make_client

    access = registry if registry is not None else DefaultRegistry()
    record, _changed = Puller(ImageStore(engine), make_client(ref.registry, access)).pull(ref)
    return record


class DefaultRegistry:
    """Registry access for a build with no task options: what ``login`` saved, verified TLS."""

    validate_certs = True
    ca_cert = None
    username = None
    password = None
    insecure_registries: list[str] = []

    @property
    def config_path(self) -> Path:
        from ..registry.credentials import DEFAULT_CONFIG_PATH

        return DEFAULT_CONFIG_PATH
