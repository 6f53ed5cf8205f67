"""Read-only views of the engine (Engine.view): every write method of every
store raises ReadOnlyViolation, by type; reads see what a writable engine
wrote; a view of a missing root is empty and creates nothing; a view touches
no file (mtimes included), takes no write lock, and the domain services
refuse to reach the kernel through it."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.content import BlobStore, BlobStoreView
from ansible_collections.berth.engine.plugins.module_utils.digest import chain_ids, sha256_digest
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine, EngineView
from ansible_collections.berth.engine.plugins.module_utils.errors import (
    Conflict,
    InvalidState,
    NotFound,
    ReadOnlyViolation,
)
from ansible_collections.berth.engine.plugins.module_utils.layout import Layout, LayoutView
from ansible_collections.berth.engine.plugins.module_utils.locking import ReadOnlyFileLock
from ansible_collections.berth.engine.plugins.module_utils.metadata import MetadataStore, MetadataView
from ansible_collections.berth.engine.plugins.module_utils.readonly import refuse_writes, refused_methods
from ansible_collections.berth.engine.plugins.module_utils.snapshots import SnapshotStore, SnapshotStoreView
from tests.support.hoststate import tree_differences, tree_state

BLOB = b"layer bytes"
DIFF = sha256_digest(b"diff")
CHAIN = chain_ids([DIFF])[0]
VIEWS = [(EngineView, Engine), (BlobStoreView, BlobStore), (SnapshotStoreView, SnapshotStore),
         (MetadataView, MetadataStore), (LayoutView, Layout)]
# The writes the stores have today: each must be refused on its view (a new one is refused by default).
KNOWN_WRITES = {
    EngineView: ["recover", "open"],
    BlobStoreView: ["writer", "put_bytes", "put_stream", "delete", "cleanup_ingest", "hold", "release_hold"],
    SnapshotStoreView: ["prepare", "begin", "commit", "abort", "remove", "cleanup"],
    MetadataView: ["transaction"],
    LayoutView: ["ensure", "tighten", "mark_gc_pending"],
}


def _methods(cls: type) -> set[str]:
    """Every method a class has below object, dunders aside."""
    return {name for klass in cls.__mro__[:-1] for name, member in vars(klass).items()
            if not name.startswith("__") and (callable(member) or isinstance(member, (staticmethod, classmethod)))
            and not inspect.isclass(member)}


@pytest.fixture
def filled(tmp_path: Path) -> Engine:
    """A writable engine with one blob, one snapshot and one record in each of two collections."""
    engine = Engine.open(tmp_path / "state", tmp_path / "run")
    engine.blobs.put_bytes(BLOB)
    engine.blobs.release_hold()
    with engine.snapshots.prepare(CHAIN, None, DIFF) as active:
        (active.fs / "hello").write_text("hi")
    for collection in ("containers", "volumes"):
        with engine.metadata(collection).transaction() as txn:
            txn.put("one", {"name": "one", "collection": collection})
    return engine


def _instance(view_class: type, view: Engine) -> Any:
    return {EngineView: view, BlobStoreView: view.blobs, SnapshotStoreView: view.snapshots,
            MetadataView: view.metadata("containers"), LayoutView: view.layout}[view_class]


@pytest.mark.parametrize(("view_class", "writable"), VIEWS, ids=[v.__name__ for v, _w in VIEWS])
def test_every_method_is_a_declared_read_or_refused(view_class: type, writable: type) -> None:
    assert issubclass(view_class, writable)
    assert _methods(writable) >= view_class.READS, "a declared read the store does not have"
    own = {name for name in vars(view_class) if not name.startswith("__") and callable(vars(view_class)[name])}
    refused = set(refused_methods(view_class))
    assert _methods(writable) == view_class.READS | refused | own
    assert set(KNOWN_WRITES[view_class]) <= refused | own
    assert not set(KNOWN_WRITES[view_class]) & view_class.READS


@pytest.mark.parametrize(("view_class", "writable"), VIEWS, ids=[v.__name__ for v, _w in VIEWS])
def test_every_write_raises_and_touches_nothing(
        filled: Engine, tmp_path: Path, view_class: type, writable: type) -> None:
    view = filled.view()
    before = tree_state(tmp_path)
    target = _instance(view_class, view)
    writes = set(refused_methods(view_class)) | set(KNOWN_WRITES[view_class])
    for name in sorted(writes):
        with pytest.raises(ReadOnlyViolation) as caught:
            getattr(target, name)()
        assert caught.value.what and "check mode and info modules must not write" in str(caught.value)
    assert tree_differences(before, tree_state(tmp_path)) == []


def test_refused_calls_name_the_write(filled: Engine) -> None:
    view = filled.view()
    with pytest.raises(ReadOnlyViolation, match=r"BlobStore\.put_bytes attempted on a read-only view"):
        view.blobs.put_bytes(b"new")
    with pytest.raises(ReadOnlyViolation, match="a write transaction on volumes"):
        view.metadata("volumes").transaction()
    with pytest.raises(ReadOnlyViolation, match=r"SnapshotStore\.prepare"), \
            view.snapshots.prepare(chain_ids([sha256_digest(b"x")])[0], None, sha256_digest(b"x")):
        pass
    with pytest.raises(ReadOnlyViolation, match="create a bridge"):
        view.require_writable("create a bridge")
    error = ReadOnlyViolation("x")
    assert isinstance(error, InvalidState) and error.as_dict()["what"] == "x" and error.kind == "invalid_state"


def test_reads_see_what_the_writable_engine_wrote(filled: Engine, tmp_path: Path) -> None:
    before = tree_state(tmp_path)
    view = Engine.view(state_root=tmp_path / "state", run_root=tmp_path / "run")
    digest = sha256_digest(BLOB)
    assert view.read_only and not filled.read_only and isinstance(view, Engine)
    assert view.layout.state_root == filled.layout.state_root and view.layout.run_root == filled.layout.run_root
    assert view.blobs.list() == [digest] and view.blobs.exists(digest) and view.blobs.size(digest) == len(BLOB)
    assert view.blobs.read_bytes(digest) == BLOB and view.blobs.verify(digest)
    assert [s.chain_id for s in view.snapshots.list()] == [CHAIN] and view.snapshots.exists(CHAIN)
    assert (view.snapshots.info(CHAIN).fs / "hello").read_text() == "hi"
    assert view.snapshots.lowerdirs(CHAIN) == [view.snapshots.info(CHAIN).fs] and view.snapshots.children(CHAIN) == []
    assert view.snapshots.usage(CHAIN) >= 0
    meta = view.metadata("containers")
    assert meta.ids() == ["one"] and meta.get("one")["collection"] == "containers" and meta.find("two") is None
    assert [doc["name"] for doc in meta.list()] == ["one"]
    assert view.layout.exists() and view.view().read_only
    assert filled.require_writable("a write on a writable engine") is None
    assert tree_differences(before, tree_state(tmp_path)) == []


def test_a_view_of_a_missing_root_is_empty_and_creates_nothing(tmp_path: Path) -> None:
    view = Engine.view(state_root=tmp_path / "absent" / "state", run_root=tmp_path / "absent" / "run")
    assert view.metadata("containers").list() == [] and view.metadata("images").ids() == []
    assert view.blobs.list() == [] and not view.blobs.exists(sha256_digest(b"x"))
    assert view.snapshots.list() == [] and not view.layout.exists()
    with pytest.raises(NotFound):
        view.metadata("volumes").get("data")
    with pytest.raises(NotFound):
        view.snapshots.info(CHAIN)
    with view.layout.lock("images").held(shared=True):   # readers may lock shared: nothing to wait for
        pass
    assert list(tmp_path.iterdir()) == []


def test_view_locks_are_shared_only_and_create_no_file(filled: Engine, tmp_path: Path) -> None:
    view = filled.view()
    lock = view.layout.lock("volumes")
    assert isinstance(lock, ReadOnlyFileLock)
    with pytest.raises(ReadOnlyViolation, match=r"exclusive lock volumes\.lock"):
        lock.acquire()
    with pytest.raises(ReadOnlyViolation):
        lock.try_acquire()
    missing = tmp_path / "state" / "locks" / "networks.lock"
    assert not missing.exists()
    with view.layout.lock("networks").held(shared=True):
        assert view.layout.lock("networks").try_acquire(shared=True)
    assert not missing.exists()
    writer = filled.layout.lock("containers")   # an existing lock file, held exclusively by a writer
    writer.acquire()
    try:
        with pytest.raises(Conflict):
            view.layout.lock("containers").acquire(shared=True, timeout=0.05)
    finally:
        writer.release()
    shared = view.layout.lock("containers")
    shared.acquire(shared=True)
    assert shared.held_now
    shared.release()
    assert not shared.held_now


def test_a_view_refuses_a_store_of_another_layout_version(filled: Engine, tmp_path: Path) -> None:
    (tmp_path / "state" / "layout-version").write_text("99\n")
    with pytest.raises(InvalidState, match="layout version 99"):
        Engine.view(state_root=tmp_path / "state", run_root=tmp_path / "run")


def test_recovery_does_not_run_on_a_view(filled: Engine, tmp_path: Path) -> None:
    dead_ingest = tmp_path / "state" / "content" / "ingest" / "dead"
    dead_ingest.mkdir()
    (tmp_path / "state" / "content" / "gc-pending").touch()
    before = tree_state(tmp_path)
    view = Engine.view(state_root=tmp_path / "state", run_root=tmp_path / "run")
    assert view.blobs.list() == [sha256_digest(BLOB)]
    assert tree_differences(before, tree_state(tmp_path)) == []


def test_refuse_writes_keeps_the_views_own_methods_and_refuses_new_writes() -> None:
    class Store:
        def read(self) -> str:
            return "read"

        def write(self) -> None:
            raise AssertionError("a view must not reach the real write")

        def added_later(self) -> None:
            raise AssertionError("a view must not reach the real write")

        @staticmethod
        def helper() -> None:
            raise AssertionError("a view must not reach the real write")

    @refuse_writes(Store, reads=("read",))
    class StoreView(Store):
        def write(self) -> None:
            raise ReadOnlyViolation("custom")

    view = StoreView()
    assert view.read() == "read"
    for name in ("write", "added_later", "helper"):
        with pytest.raises(ReadOnlyViolation):
            getattr(view, name)()
    assert refused_methods(StoreView) == ["added_later", "helper"]


# -- the domain services refuse to write through a view -------------------------------------------------------

def test_services_refuse_writes_through_a_view(filled: Engine, tmp_path: Path) -> None:
    from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore
    from ansible_collections.berth.engine.plugins.module_utils.network.service import NetworkService
    from ansible_collections.berth.engine.plugins.module_utils.volumes.service import VolumeService
    from tests.unit.network.test_service import FakeKernel

    view = filled.view()
    before = tree_state(tmp_path)
    kernel = FakeKernel()
    network = NetworkService(view, kernel=kernel)
    record = {"id": "a" * 64, "name": "n", "bridge": "br-aaaaaaaaaaaa", "subnet": "10.9.0.0/24",
              "gateway": "10.9.0.1", "internal": False}
    volumes, images = VolumeService(view), ImageStore(view)
    for call in (lambda: network.realize(record), lambda: network._unrealize(record), network.ensure_default,
                 lambda: network.allocate("n", "b" * 64), lambda: network.release("n", "b" * 64),
                 lambda: volumes.create("data"), lambda: volumes.remove("one"), lambda: volumes.ensure_mounted("one"),
                 lambda: volumes.prune(all_volumes=True), images.collect_garbage,
                 lambda: images.untag("local/x:1"), lambda: images.discard_unreferenced([])):
        with pytest.raises(ReadOnlyViolation):
            call()
    assert kernel.calls == [] and kernel.bridges == {} and kernel.rules == {}
    assert tree_differences(before, tree_state(tmp_path)) == []


def test_a_network_plan_reads_through_a_view_and_its_execution_is_refused(filled: Engine, tmp_path: Path) -> None:
    from ansible_collections.berth.engine.plugins.module_utils.ansible.network_models import NetworkRequest
    from ansible_collections.berth.engine.plugins.module_utils.ansible.network_plan import NetworkExecutor, plan_network
    from ansible_collections.berth.engine.plugins.module_utils.network.service import NetworkService
    from tests.unit.network.test_service import FakeKernel

    before = tree_state(tmp_path)
    kernel, view = FakeKernel(), filled.view()
    plan = plan_network(view, NetworkRequest(name="app"), kernel=kernel)
    assert plan.changed and plan.actions() and kernel.calls == []
    with pytest.raises(ReadOnlyViolation):
        plan.execute(NetworkExecutor(NetworkService(view, kernel=kernel), None))
    assert kernel.calls == [] and tree_differences(before, tree_state(tmp_path)) == []
