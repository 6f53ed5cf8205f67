from __future__ import annotations

import pytest

from ansible_collections.berth.engine.plugins.module_utils.digest import chain_ids, sha256_digest
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.errors import Conflict, NotFound

DIFFS = [sha256_digest(b"base"), sha256_digest(b"middle"), sha256_digest(b"top")]
CHAIN = chain_ids(DIFFS)


def _unpack(engine: Engine, depth: int) -> None:
    for i in range(depth):
        if engine.snapshots.exists(CHAIN[i]):
            continue
        parent = CHAIN[i - 1] if i else None
        with engine.snapshots.prepare(CHAIN[i], parent, DIFFS[i]) as active:
            (active.fs / f"file{i}").write_text(str(i))


def test_prepare_commit_and_chain(engine: Engine) -> None:
    _unpack(engine, 3)
    chain = engine.snapshots.chain(CHAIN[2])
    assert [s.chain_id for s in chain] == [CHAIN[2], CHAIN[1], CHAIN[0]]
    assert [p.name for p in engine.snapshots.lowerdirs(CHAIN[2])] == ["fs", "fs", "fs"]
    assert (engine.snapshots.info(CHAIN[0]).fs / "file0").read_text() == "0"
    # the committed dir holds only the layer and its record
    assert sorted(p.name for p in engine.snapshots.path(CHAIN[1]).iterdir()) == ["fs", "info.json"]
    assert list(engine.snapshots.active_dir.iterdir()) == []


def test_failed_apply_leaves_no_snapshot(engine: Engine) -> None:
    with pytest.raises(ValueError), engine.snapshots.prepare(CHAIN[0], None, DIFFS[0]) as active:
        (active.fs / "half").write_text("x")
        raise ValueError("corrupt tar")
    assert not engine.snapshots.exists(CHAIN[0])
    assert list(engine.snapshots.active_dir.iterdir()) == []


def test_missing_parent_is_refused(engine: Engine) -> None:
    with pytest.raises(NotFound, match="unpack the layers below first"), \
            engine.snapshots.prepare(CHAIN[1], CHAIN[0], DIFFS[1]):
        pass


def test_concurrent_commit_of_same_chain_keeps_one(engine: Engine) -> None:
    with engine.snapshots.prepare(CHAIN[0], None, DIFFS[0]) as first:
        (first.fs / "a").write_text("first")
        with engine.snapshots.prepare(CHAIN[0], None, DIFFS[0]) as second:
            (second.fs / "a").write_text("second")
    assert (engine.snapshots.info(CHAIN[0]).fs / "a").read_text() == "second"
    assert len(engine.snapshots.list()) == 1
    assert list(engine.snapshots.active_dir.iterdir()) == []


def test_remove_refuses_while_children_exist(engine: Engine) -> None:
    _unpack(engine, 2)
    with pytest.raises(Conflict) as err:
        engine.snapshots.remove(CHAIN[0])
    assert err.value.details["children"] == [CHAIN[1]]
    assert engine.snapshots.remove(CHAIN[1])
    assert engine.snapshots.remove(CHAIN[0])
    assert not engine.snapshots.remove(CHAIN[0])
    assert engine.snapshots.list() == []


def test_remove_refuses_while_child_is_unpacking(engine: Engine) -> None:
    _unpack(engine, 1)
    with engine.snapshots.prepare(CHAIN[1], CHAIN[0], DIFFS[1]), pytest.raises(Conflict):
        engine.snapshots.remove(CHAIN[0])


def test_crashed_unpack_is_recovered(engine: Engine) -> None:
    # Simulate a process that died mid-unpack: its dir and records remain, lock free.
    dead = engine.snapshots.active_dir / "dead"
    (dead / "fs").mkdir(parents=True)
    (dead / "fs" / "partial").write_text("x")
    dead.with_name("dead.lock").touch()
    dead.with_name("dead.json").write_text('{"chain_id": "x", "parent": null}')
    assert engine.recover()["snapshots"] == 1
    assert list(engine.snapshots.active_dir.iterdir()) == []
