from __future__ import annotations

import io

import pytest

from ansible_collections.berth.engine.plugins.module_utils.digest import sha256_digest
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput, NotFound

DATA = b"hello, blobs\n" * 1000


def _ingest_entries(engine: Engine) -> list[str]:
    return sorted(p.name for p in engine.layout.ingest.iterdir())


def test_put_verifies_and_publishes(engine: Engine) -> None:
    digest = engine.blobs.put_bytes(DATA, sha256_digest(DATA))
    assert digest == sha256_digest(DATA)
    assert engine.blobs.path(digest) == engine.layout.state_root / "content/blobs/sha256" / digest[7:]
    assert engine.blobs.read_bytes(digest) == DATA
    assert engine.blobs.verify(digest)
    assert _ingest_entries(engine) == []


def test_existing_blob_is_success(engine: Engine) -> None:
    first = engine.blobs.put_bytes(DATA)
    assert engine.blobs.put_stream(io.BytesIO(DATA), first, len(DATA)) == first
    assert engine.blobs.list() == [first]


def test_wrong_digest_leaves_nothing(engine: Engine) -> None:
    wrong = sha256_digest(b"something else")
    with pytest.raises(InvalidInput, match="digest mismatch"):
        engine.blobs.put_stream(io.BytesIO(DATA), wrong, len(DATA))
    assert engine.blobs.list() == []
    assert _ingest_entries(engine) == []


def test_truncated_stream_is_rejected(engine: Engine) -> None:
    with pytest.raises(InvalidInput, match="truncated"):
        engine.blobs.put_stream(io.BytesIO(DATA[:-10]), sha256_digest(DATA), len(DATA))
    assert engine.blobs.list() == []


def test_oversized_stream_stops_early(engine: Engine) -> None:
    with pytest.raises(InvalidInput, match="larger than"):
        engine.blobs.put_stream(io.BytesIO(DATA + b"x"), sha256_digest(DATA), len(DATA))
    assert _ingest_entries(engine) == []


def test_exception_mid_write_publishes_nothing(engine: Engine) -> None:
    with pytest.raises(RuntimeError), engine.blobs.writer() as writer:
        writer.write(DATA)
        raise RuntimeError("network dropped")
    assert engine.blobs.list() == []
    assert _ingest_entries(engine) == []


def test_commit_inside_block_is_idempotent(engine: Engine) -> None:
    with engine.blobs.writer() as writer:
        writer.write(DATA)
        early = writer.commit()
    assert engine.blobs.list() == [early]


def test_dead_writer_ingest_is_recovered(engine: Engine) -> None:
    # A crashed writer leaves its ingest dir with an unlocked lock file.
    dead = engine.layout.ingest / "deadbeef"
    dead.mkdir()
    (dead / "lock").touch()
    (dead / "data").write_bytes(b"partial")
    assert engine.recover()["ingest"] == 1
    assert _ingest_entries(engine) == []


def test_live_writer_ingest_is_kept(engine: Engine) -> None:
    with engine.blobs.writer() as writer:
        writer.write(b"in progress")
        assert engine.blobs.cleanup_ingest() == 0
        assert len(_ingest_entries(engine)) == 1


def test_missing_blob_is_not_found(engine: Engine) -> None:
    with pytest.raises(NotFound):
        engine.blobs.open(sha256_digest(b"nope"))


def test_corruption_is_detected(engine: Engine) -> None:
    digest = engine.blobs.put_bytes(DATA)
    engine.blobs.path(digest).write_bytes(b"bitrot")
    assert not engine.blobs.verify(digest)
