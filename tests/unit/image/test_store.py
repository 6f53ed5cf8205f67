from __future__ import annotations

import pytest

from ansible_collections.berth.engine.plugins.module_utils.digest import chain_ids, sha256_digest
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.errors import Conflict, InvalidInput, NotFound
from ansible_collections.berth.engine.plugins.module_utils.image.records import ImageRecord, LayerRecord
from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore

TAR = "application/vnd.oci.image.layer.v1.tar"


def _image(engine: Engine, name: str, layers: list[bytes]) -> ImageRecord:
    """Store a fake image whose layers are plain bytes (unpacked as empty dirs)."""
    records = []
    for data in layers:
        digest = engine.blobs.put_bytes(data)
        records.append(LayerRecord(digest, TAR, len(data), digest))
    for i, chain in enumerate(chain_ids([r.diff_id for r in records])):
        if not engine.snapshots.exists(chain):
            with engine.snapshots.prepare(chain, chain_ids([r.diff_id for r in records])[i - 1] if i else None,
                                          records[i].diff_id):
                pass
    config = engine.blobs.put_bytes(f"config of {name} {layers}".encode())
    manifest = engine.blobs.put_bytes(f"manifest of {name} {layers}".encode())
    record = ImageRecord(id=config, manifest_digest=manifest, manifest_media_type="m", config_media_type="c",
                         layers=records)
    ImageStore(engine).save(record, parse_reference(name))
    return record


def test_lookup_by_tag_id_prefix_and_digest(engine: Engine) -> None:
    store = ImageStore(engine)
    record = _image(engine, "app:1", [b"base"])
    store.save(record, None, digest_name=f"docker.io/library/app@{record.manifest_digest}")
    assert store.resolve("app:1").id == record.id
    assert store.resolve("docker.io/library/app:1").id == record.id
    assert store.resolve(record.id).id == record.id
    assert store.resolve(record.short_id).id == record.id
    assert store.resolve(f"app@{record.manifest_digest}").id == record.id
    assert store.find("app:2") is None
    with pytest.raises(NotFound, match="pull, load or build"):
        store.resolve("app:2")


def test_moving_a_tag_leaves_the_old_image_dangling(engine: Engine) -> None:
    store = ImageStore(engine)
    old = _image(engine, "app:1", [b"base", b"v1"])
    new = _image(engine, "app:1", [b"base", b"v2"])
    assert store.resolve("app:1").id == new.id
    assert [r.id for r in store.dangling()] == [old.id]


def test_save_reports_change_only_when_something_moves(engine: Engine) -> None:
    store = ImageStore(engine)
    record = _image(engine, "app:1", [b"base"])
    assert store.save(record, parse_reference("app:1")) is False
    assert store.save(record, parse_reference("app:2")) is True


def test_removing_one_of_two_tags_only_untags(engine: Engine) -> None:
    store = ImageStore(engine)
    record = _image(engine, "app:1", [b"base"])
    store.tag("app:1", "app:latest")
    assert store.remove("app:1") == ["untagged: docker.io/library/app:1"]
    assert store.resolve("app:latest").id == record.id
    assert store.remove("app:latest") == ["untagged: docker.io/library/app:latest", f"deleted: {record.id}"]
    assert store.list() == [] and engine.snapshots.list() == [] and engine.blobs.list() == []


def test_shared_layers_survive_removal_of_one_image(engine: Engine) -> None:
    store = ImageStore(engine)
    a = _image(engine, "a:1", [b"base", b"a"])
    b = _image(engine, "b:1", [b"base", b"b"])
    assert len(engine.snapshots.list()) == 3  # base stored once
    store.remove("a:1")
    assert {s.chain_id for s in engine.snapshots.list()} == set(b.chain_ids)
    assert engine.blobs.exists(b.layers[0].digest)
    assert not engine.blobs.exists(a.layers[1].digest)


def test_image_in_use_is_refused_unless_forced(engine: Engine) -> None:
    store = ImageStore(engine)
    record = _image(engine, "app:1", [b"base"])
    store.users = lambda image_id: ["web"] if image_id == record.id else []
    with pytest.raises(Conflict, match="used by container"):
        store.remove("app:1")
    assert store.remove("app:1", force=True)[-1] == f"deleted: {record.id}"


def test_tagging_with_a_digest_is_refused(engine: Engine) -> None:
    _image(engine, "app:1", [b"base"])
    with pytest.raises(InvalidInput, match="digest"):
        ImageStore(engine).tag("app:1", "app@" + sha256_digest(b"x"))


def test_ambiguous_short_id_asks_for_more(engine: Engine) -> None:
    store = ImageStore(engine)
    for n in "12":
        store.save(ImageRecord(id="sha256:abcd" + n * 60, manifest_digest=sha256_digest(n.encode()),
                               manifest_media_type="m", config_media_type="c", layers=[]),
                   parse_reference(f"img{n}:1"))
    with pytest.raises(InvalidInput, match="ambiguous"):
        store.find("abcd")
    assert store.find("abcd1").repo_tags == ["docker.io/library/img1:1"]
