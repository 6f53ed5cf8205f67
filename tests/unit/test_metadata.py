from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.errors import (
    AlreadyExists,
    Conflict,
    InvalidInput,
    NotFound,
)
from ansible_collections.berth.engine.plugins.module_utils.metadata import validate_id


def test_put_get_list_delete(engine: Engine) -> None:
    store = engine.metadata("volumes")
    with store.transaction() as txn:
        txn.create("data", {"name": "data", "driver": "local"})
        txn.put("logs", {"name": "logs"})
    assert store.get("data")["driver"] == "local"
    assert store.ids() == ["data", "logs"]
    with store.transaction() as txn:
        with pytest.raises(AlreadyExists):
            txn.create("data", {})
        assert txn.delete("data")
        assert not txn.delete("data")
    with pytest.raises(NotFound, match="volume 'data' does not exist"):
        store.get("data")


@pytest.mark.parametrize("bad", ["", "../etc", ".hidden", "a/b", "x" * 129, "spa ce"])
def test_ids_cannot_escape_the_collection(bad: str) -> None:
    with pytest.raises(InvalidInput, match="not a valid name"):
        validate_id(bad)


def test_allocation_is_stable_per_owner(engine: Engine) -> None:
    store = engine.metadata("networks")
    with store.transaction() as txn:
        a = txn.allocate("pool", range(10, 20), "ctr-a")
        b = txn.allocate("pool", range(10, 20), "ctr-b")
        again = txn.allocate("pool", range(10, 20), "ctr-a")
    assert (a, b, again) == (10, 11, 10)
    with store.transaction() as txn:
        assert txn.release("pool", "ctr-a") == ["10"]
        assert txn.allocate("pool", range(10, 20), "ctr-c") == 10


def test_exhausted_pool_names_the_pool(engine: Engine) -> None:
    with engine.metadata("networks").transaction() as txn:
        txn.allocate("tiny", [1], "x")
        with pytest.raises(InvalidInput, match="exhausted"):
            txn.allocate("tiny", [1], "y")


def test_lock_timeout_is_a_conflict(engine: Engine) -> None:
    store = engine.metadata("images")
    other = engine.layout.lock("images")
    # flock is per open file description: a second FileLock contends like another process
    with other.held(), pytest.raises(Conflict, match="another berth operation"), \
            store.transaction(timeout=0.05):
        pass


def _worker(state_root: str, worker: int, rounds: int, queue: multiprocessing.Queue) -> None:
    engine = Engine.open(state_root, state_root + "-run")
    store = engine.metadata("networks")
    got = []
    for i in range(rounds):
        with store.transaction() as txn:
            got.append(txn.allocate("ips", range(2, 254), f"w{worker}-{i}"))
            counter = txn.find("counter") or {"n": 0}
            counter["n"] += 1
            txn.put("counter", counter)
    queue.put(got)


def test_concurrent_processes_never_double_allocate(tmp_path: Path) -> None:
    """Eight processes converging the same host at once: every allocation is
    unique and no counter increment is lost."""
    root = str(tmp_path / "state")
    Engine.open(root, root + "-run")
    ctx = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue = ctx.Queue()
    workers = [ctx.Process(target=_worker, args=(root, w, 25, queue)) for w in range(8)]
    for proc in workers:
        proc.start()
    results = [queue.get(timeout=60) for _proc in workers]
    for proc in workers:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    allocated = [ip for chunk in results for ip in chunk]
    assert len(allocated) == 200
    assert len(set(allocated)) == 200
    assert Engine.open(root, root + "-run").metadata("networks").get("counter")["n"] == 200
