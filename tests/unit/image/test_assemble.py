"""assemble: parent + new layers + config → blobs, snapshots, a record;
zero-layer images; the same input gives the same ID; all-or-nothing."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput
from ansible_collections.berth.engine.plugins.module_utils.image.assemble import NewLayer, assemble, image_config
from ansible_collections.berth.engine.plugins.module_utils.image.compressor import LayerSink
from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore


def _layer(tmp: Path, name: str, files: dict[str, str], compression: str = "gzip") -> NewLayer:
    """A layer made the way a build makes one: a tar stream through a LayerSink."""
    blob = tmp / f"{name}.blob"
    with blob.open("wb") as out:
        sink = LayerSink(out, compression)
        with tarfile.open(fileobj=_Tell(sink), mode="w", format=tarfile.PAX_FORMAT) as tar:
            for path, text in sorted(files.items()):
                data = text.encode()
                info = tarfile.TarInfo(path)
                info.size, info.mtime = len(data), 1_700_000_000
                tar.addfile(info, io.BytesIO(data))
        digests = sink.close()
    return NewLayer(digests, blob)


class _Tell:
    def __init__(self, sink: LayerSink) -> None:
        self.sink = sink

    def write(self, data: bytes) -> int:
        return self.sink.write(data)

    def tell(self) -> int:
        return self.sink.uncompressed_size


def _config(parent_ids: list[str], new: list[NewLayer], **extra: Any) -> dict[str, Any]:
    return {"architecture": "amd64", "os": "linux", "created": "2026-01-01T00:00:00Z",
            "config": {"Cmd": ["sh"], **extra},
            "rootfs": {"type": "layers", "diff_ids": parent_ids + [n.digests.diff_id for n in new]},
            "history": [{"created": "2026-01-01T00:00:00Z", "created_by": "test"}]}


def _contents(engine: Engine) -> tuple[set[str], set[str], int]:
    return set(engine.blobs.list()), {s.chain_id for s in engine.snapshots.list()}, len(ImageStore(engine).list())


def test_base_then_child_shares_the_parent(engine: Engine, tmp_path: Path) -> None:
    store = ImageStore(engine)
    base_layer = _layer(tmp_path, "base", {"etc/os": "base\n"})
    base = assemble(store, None, [base_layer], _config([], [base_layer]), source="build",
                    tag=parse_reference("local/base:1"))
    child_layer = _layer(tmp_path, "child", {"app/x": "x\n"}, compression="zstd")
    child = assemble(store, base, [child_layer], _config([base_layer.digests.diff_id], [child_layer]),
                     source="commit")
    assert base.repo_tags == ["docker.io/local/base:1"] and base.source == "build"
    assert child.repo_tags == [] and child.source == "commit"
    assert [x.digest for x in child.layers] == [base_layer.digests.digest, child_layer.digests.digest]
    assert child.layers[1].media_type.endswith("+zstd")
    assert store.complete(child)
    lower = engine.snapshots.lowerdirs(child.top_chain_id)
    assert (lower[0] / "app" / "x").read_text() == "x\n" and (lower[1] / "etc" / "os").read_text() == "base\n"
    assert image_config(store, child)["config"] == {"Cmd": ["sh"]}
    manifest = json.loads(engine.blobs.read_bytes(child.manifest_digest))
    assert [d["digest"] for d in manifest["layers"]] == [x.digest for x in child.layers]
    assert manifest["config"]["digest"] == child.id


def test_same_input_same_id_and_no_new_content(engine: Engine, tmp_path: Path) -> None:
    store = ImageStore(engine)
    layer = _layer(tmp_path, "l", {"a": "1"})
    first = assemble(store, None, [layer], _config([], [layer]), source="build")
    before = _contents(engine)
    again = assemble(store, None, [_layer(tmp_path, "l2", {"a": "1"})], _config([], [layer]), source="build")
    assert again.id == first.id and _contents(engine) == before


def test_zero_layer_image(engine: Engine) -> None:
    store = ImageStore(engine)
    record = assemble(store, None, [], _config([], [], Env=["A=1"]), source="build",
                      tag=parse_reference("local/meta:1"))
    assert record.layers == [] and record.top_chain_id is None and store.complete(record)
    assert store.resolve("local/meta:1").id == record.id
    assert json.loads(engine.blobs.read_bytes(record.manifest_digest))["layers"] == []


def test_diff_ids_must_match_the_layers(engine: Engine, tmp_path: Path) -> None:
    layer = _layer(tmp_path, "l", {"a": "1"})
    before = _contents(engine)
    with pytest.raises(InvalidInput, match="diff_ids") as info:
        assemble(ImageStore(engine), None, [layer], _config([], []), source="build")
    assert info.value.field == "config.rootfs.diff_ids"
    assert _contents(engine) == before


def test_a_failure_after_the_layers_leaves_nothing(engine: Engine, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    store = ImageStore(engine)
    before = _contents(engine)
    one, two = _layer(tmp_path, "1", {"a": "1"}), _layer(tmp_path, "2", {"b": "2"})

    def broken_save(*_args: object, **_kw: object) -> bool:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ImageStore, "save", broken_save)
    with pytest.raises(OSError):
        assemble(store, None, [one, two], _config([], [one, two]), source="build", tag=parse_reference("x:1"))
    assert _contents(engine) == before


def test_a_corrupt_layer_blob_leaves_nothing(engine: Engine, tmp_path: Path) -> None:
    store = ImageStore(engine)
    good, bad = _layer(tmp_path, "good", {"a": "1"}), _layer(tmp_path, "bad", {"b": "2"})
    data = bytearray(bad.path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.path.write_bytes(bytes(data))
    before = _contents(engine)
    with pytest.raises(InvalidInput):
        assemble(store, None, [good, bad], _config([], [good, bad]), source="build")
    assert _contents(engine) == before
    assert not list(engine.layout.ingest.glob("*")) if engine.layout.ingest.exists() else True
    assert os.listdir(tmp_path)   # the caller's blob files are the caller's


def test_unknown_source_refused(engine: Engine) -> None:
    with pytest.raises(InvalidInput, match="source"):
        assemble(ImageStore(engine), None, [], _config([], []), source="magic")


def test_several_new_layers_at_once(engine: Engine, tmp_path: Path) -> None:
    new = [_layer(tmp_path, str(i), {f"f{i}": str(i)}) for i in range(4)]
    record = assemble(ImageStore(engine), None, new, _config([], new), source="build")
    assert len(record.chain_ids) == 4 and all(engine.snapshots.exists(c) for c in record.chain_ids)
