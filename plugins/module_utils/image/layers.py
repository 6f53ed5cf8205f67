"""Making an image's layers present: blobs verified, snapshots unpacked.

The one pipeline for pull, load and import. For each layer whose blob or
snapshot is missing, the compressed stream (from a registry or an archive) is
read once: teed into the verified blob writer and, if the snapshot is
missing, decompressed and unpacked into an active snapshot while its DiffID
is hashed. Layers unpack in parallel into separate dirs — overlay layers are
independent — and commit base-up once all succeeded; any failure aborts
every active snapshot, so the store is left as it was.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import BinaryIO

from ..content import BlobWriter
from ..digest import chain_ids
from ..engine import Engine
from ..errors import InvalidInput, InvalidState
from ..snapshots import ActiveSnapshot
from .compression import HashingReader, ReaderBase, open_decompressed
from .records import LayerRecord
from .unpack import DEFAULT_LAYER_BUDGET, apply_layer, sync_filesystem

MAX_PARALLEL_LAYERS = 3
CHUNK = 1 << 20

# Opens the compressed bytes of a layer that is not yet in the blob store.
BlobOpener = Callable[[LayerRecord], AbstractContextManager[BinaryIO]]
PROGRESS_STEP = 512 << 10   # bytes between two "downloading" events of one layer


@dataclass(frozen=True)
class LayerProgress:
    """One event of a pull's or push's progress, as data (the CLI draws it;
    the modules pass no callback). ``phase`` is one of PHASES."""

    digest: str
    phase: str
    done: int = 0
    total: int = 0


PHASES = ("waiting", "downloading", "extracting", "complete", "exists",   # pull
          "preparing", "pushing", "pushed", "mounted")                    # push
# Called from the layer worker threads: it must be thread-safe.
Progress = Callable[[LayerProgress], None]


@dataclass
class LayerStats:
    fetched: int = 0
    reused: int = 0
    unpacked: int = 0
    bytes_fetched: int = 0
    # blobs this operation added, so a failed operation can take them back
    created_blobs: list[str] = field(default_factory=list)


def materialize(engine: Engine, layers: list[LayerRecord], open_blob: BlobOpener | None,
                stats: LayerStats | None = None, *, max_layer_bytes: int | None = DEFAULT_LAYER_BUDGET,
                progress: Progress | None = None) -> LayerStats:
    """Make ``layers`` present. ``max_layer_bytes`` bounds what each layer may
    unpack to (``unpack.ENTRY_COST`` per entry plus file sizes); off by default.
    ``progress`` is told each layer's phases and downloaded bytes."""
    stats = stats or LayerStats()
    report = progress or _silent
    for layer in layers:
        report(LayerProgress(layer.digest, "waiting", 0, layer.size))
    engine.blobs.hold()   # keep the sweep (image/collect.py) off what this operation's record will name
    chains = chain_ids([layer.diff_id for layer in layers])
    jobs = [(layer, chains[i], chains[i - 1] if i else None) for i, layer in enumerate(layers)]
    with ThreadPoolExecutor(max_workers=MAX_PARALLEL_LAYERS, thread_name_prefix="berth-layer") as pool:
        futures = [pool.submit(_one_layer, engine, open_blob, stats, *job, max_layer_bytes, report) for job in jobs]
    actives: list[ActiveSnapshot] = []
    errors: list[BaseException] = []
    for future in futures:
        try:
            active = future.result()
        except BaseException as err:  # gather every outcome so all actives get aborted
            errors.append(err)
            continue
        if active is not None:
            actives.append(active)
    try:
        if errors:
            raise _explained(errors[0], engine)
        if actives:
            sync_filesystem(actives[0].fs)  # one syncfs instead of an fsync per file
        for active in actives:  # already in base-up order
            engine.snapshots.commit(active)
    finally:
        for active in actives:
            engine.snapshots.abort(active)
    return stats


def _explained(error: BaseException, engine: Engine) -> BaseException:
    """A full disk is the user's to fix: say where, not just errno 28."""
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return InvalidState(f"no space left under {engine.layout.state_root} while storing layers; "
                            "nothing was kept", field="state_root",
                            hint="free disk space or point state_root at a larger filesystem, then re-run")
    return error


def _silent(_event: LayerProgress) -> None:
    pass


def _one_layer(engine: Engine, open_blob: BlobOpener | None, stats: LayerStats, layer: LayerRecord,
               chain_id: str, parent: str | None, max_bytes: int | None,
               report: Progress) -> ActiveSnapshot | None:
    need_snapshot = not engine.snapshots.exists(chain_id)
    need_blob = not engine.blobs.exists(layer.digest)
    if not (need_snapshot or need_blob):
        stats.reused += 1
        report(LayerProgress(layer.digest, "exists", layer.size, layer.size))
        return None
    active = engine.snapshots.begin(chain_id, parent, layer.diff_id) if need_snapshot else None
    try:
        if need_blob:
            if open_blob is None:
                raise InvalidInput(f"layer {layer.digest} is missing from the store", field="layers",
                                   hint="pull or load the image again")
            with open_blob(layer) as source, engine.blobs.writer(layer.digest, layer.size) as writer:
                _consume(_Tee(source, writer, layer, report), layer, active, max_bytes)
                stats.bytes_fetched += writer.size
            stats.created_blobs.append(layer.digest)
            stats.fetched += 1
        else:
            report(LayerProgress(layer.digest, "extracting", 0, layer.size))
            with engine.blobs.open(layer.digest) as stored:
                _consume(stored, layer, active, max_bytes)
        if active is not None:
            stats.unpacked += 1
        report(LayerProgress(layer.digest, "complete", layer.size, layer.size))
    except BaseException:
        if active is not None:
            engine.snapshots.abort(active)
        raise
    return active


def _consume(source: BinaryIO, layer: LayerRecord, active: ActiveSnapshot | None, max_bytes: int | None) -> None:
    """Read the whole compressed blob; unpack it when a snapshot is wanted."""
    if active is not None:
        tar = HashingReader(open_decompressed(source, layer.media_type))
        apply_layer(tar, active.fs, layer=layer.digest, max_bytes=max_bytes)
        _drain(tar)
        if tar.digest != layer.diff_id:
            raise InvalidInput(f"layer {layer.digest} unpacks to {tar.digest}, but the image config says "
                               f"{layer.diff_id}", field="layers", hint="the image is corrupt or was tampered with")
    _drain(source)


def _drain(stream: BinaryIO) -> None:
    while stream.read(CHUNK):
        pass


class _Tee(ReaderBase):
    """Reads from ``source`` and writes every byte to the blob writer too,
    reporting the bytes read every PROGRESS_STEP."""

    def __init__(self, source: BinaryIO, writer: BlobWriter, layer: LayerRecord, report: Progress) -> None:
        self.source = source
        self.writer = writer
        self.layer, self.report = layer, report
        self.done = self.reported = 0

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size if size is not None and size >= 0 else CHUNK)
        if data:
            self.writer.write(data)
            self.done += len(data)
            if self.done - self.reported >= PROGRESS_STEP or self.done == self.layer.size:
                self.reported = self.done
                self.report(LayerProgress(self.layer.digest, "downloading", self.done, self.layer.size))
        return data
