"""The mark-and-sweep (image/collect.py), the content hold, lock files that cleanup
may unlink, and half-made container records — on a real temp store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from ansible_collections.berth.engine.plugins.module_utils.containers import removal
from ansible_collections.berth.engine.plugins.module_utils.containers.store import ContainerStore
from ansible_collections.berth.engine.plugins.module_utils.digest import chain_ids, sha256_digest
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.image import collect
from ansible_collections.berth.engine.plugins.module_utils.image.records import ImageRecord, LayerRecord
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore
from ansible_collections.berth.engine.plugins.module_utils.locking import FileLock

DIFFS = [sha256_digest(b"base"), sha256_digest(b"top")]
CHAIN = chain_ids(DIFFS)


def _image(engine: Engine, tag: str, layers: int = 2, *, save: bool = True) -> ImageRecord:
    """An image whose blobs and snapshots are really in the store."""
    layer_records = []
    for i in range(layers):
        blob = engine.blobs.put_bytes(f"layer {i}".encode())
        layer_records.append(LayerRecord(blob, "application/vnd.oci.image.layer.v1.tar", 7, DIFFS[i]))
        if not engine.snapshots.exists(CHAIN[i]):
            with engine.snapshots.prepare(CHAIN[i], CHAIN[i - 1] if i else None, DIFFS[i]) as active:
                (active.fs / f"f{i}").write_text(str(i))
    config = engine.blobs.put_bytes(json.dumps({"tag": tag, "layers": layers}).encode())
    manifest = engine.blobs.put_bytes(f"manifest of {tag}".encode())
    record = ImageRecord(id=config, manifest_digest=manifest, manifest_media_type="m", config_media_type="c",
                         layers=layer_records)
    if save:
        from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference

        ImageStore(engine).save(record, parse_reference(tag))
    return record


def test_sweep_takes_only_what_no_record_needs(engine: Engine) -> None:
    kept = _image(engine, "local/kept:1", layers=1)
    orphan = _image(engine, "local/orphan:1", layers=2, save=False)   # a pull killed before its record
    engine.blobs.release_hold()
    swept = collect.sweep(engine)
    assert swept.skipped is None
    assert swept.snapshots == [CHAIN[1]]                    # the top layer only the orphan had
    assert engine.snapshots.exists(CHAIN[0])                # shared with the kept image
    assert set(swept.blobs) == {orphan.id, orphan.manifest_digest, orphan.layers[1].digest}
    for digest in (kept.id, kept.manifest_digest, kept.layers[0].digest):
        assert engine.blobs.exists(digest)
    assert not engine.layout.gc_pending.exists()
    assert collect.sweep(engine).counts() == {"snapshots": 0, "blobs": 0}


def test_recover_sweeps_only_when_pending(engine: Engine) -> None:
    _image(engine, "local/orphan:1", save=False)
    engine.blobs.release_hold()
    assert engine.layout.gc_pending.exists()
    engine.layout.gc_pending.unlink()
    assert "unreferenced_blobs" not in engine.recover()     # nothing says a write began: no sweep
    engine.layout.mark_gc_pending()
    removed = engine.recover()
    assert removed["unreferenced_blobs"] == 4 and removed["unreferenced_snapshots"] == 2


def test_hold_of_another_process_defers_the_sweep(engine: Engine, tmp_path: Path) -> None:
    _image(engine, "local/orphan:1", save=False)
    engine.blobs.release_hold()
    holder = _holder(engine.layout.locks / "content.lock")
    try:
        assert collect.sweep(engine).skipped == "another operation is adding content"
        assert engine.recover().get("unreferenced_blobs") == 0
        assert len(engine.blobs.list()) == 4 and engine.layout.gc_pending.exists()
    finally:
        holder.kill()
        holder.wait()
    assert collect.sweep(engine).counts() == {"snapshots": 2, "blobs": 4}


def test_container_keeps_the_layers_of_a_force_removed_image(engine: Engine) -> None:
    record = _image(engine, "local/used:1")
    container_id = "c" * 64
    bundle = engine.layout.containers / container_id / "bundle"
    bundle.mkdir(parents=True)
    lowers = ":".join(str(p) for p in engine.snapshots.lowerdirs(CHAIN[1]))
    (bundle / "config.json").write_text(json.dumps({"mounts": [{"destination": "/", "type": "overlay",
                                                                "options": [f"lowerdir={lowers}"]}]}))
    with engine.metadata("containers").transaction() as txn:
        txn.put(container_id, {"id": container_id, "name": "web", "image_id": "sha256:" + "0" * 64})
    ImageStore(engine).remove(record.id, force=True)
    assert engine.snapshots.exists(CHAIN[0]) and engine.snapshots.exists(CHAIN[1])
    assert not engine.blobs.exists(record.id)                # the image's own blobs go, as with Docker


def test_rmi_collects_the_layers_only_it_used(engine: Engine) -> None:
    record = _image(engine, "local/gone:1")
    ImageStore(engine).remove("local/gone:1")
    assert engine.snapshots.list() == [] and engine.blobs.list() == []
    assert not engine.layout.gc_pending.exists()
    assert record.id not in engine.blobs.list()


def test_lock_file_unlinked_by_cleanup_is_not_locked(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    stale = FileLock(path)
    stale.acquire()
    os.unlink(path)                                          # cleanup removed it while we held it
    probe = FileLock(path, create=False)
    assert not probe.try_acquire()                           # gone: nothing to lock
    fresh = FileLock(path)
    assert fresh.try_acquire()                               # a new lock file, not the orphaned inode
    stale.release()
    fresh.release()


def test_lock_file_replaced_after_open_is_retried(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    path.touch()
    old_inode = path.stat().st_ino
    holder = _holder(path)
    try:
        replacement = tmp_path / "lock.new"
        replacement.touch()
        os.replace(replacement, path)                        # the holder now locks an orphaned inode
        lock = FileLock(path)
        assert lock.try_acquire()
        assert os.fstat(lock._fd).st_ino == path.stat().st_ino != old_inode  # type: ignore[arg-type]
        lock.release()
    finally:
        holder.kill()
        holder.wait()


def test_ingest_cleanup_never_recreates_a_lock(engine: Engine) -> None:
    dead = engine.layout.ingest / "dead"
    dead.mkdir()
    (dead / "lock").touch()
    (dead / "data").write_bytes(b"partial")
    assert engine.blobs.cleanup_ingest() == 1
    assert not dead.exists()
    assert engine.blobs.cleanup_ingest() == 0


def test_half_made_container_of_a_dead_creator_is_removed(engine: Engine) -> None:
    store = ContainerStore(engine)
    with store.meta.transaction() as txn:
        record = store.add(txn, "half", {"config": {}, "state": {"status": "created"}}, creating=True)
    store.make_directory(record["id"])
    (store.directory(record["id"]) / "bundle" / "config.json").write_text("{}")
    assert removal.remove_half_made(engine) == []   # its creator (this process) is alive
    dead = _dead_process_mark()
    with store.meta.transaction() as txn:
        txn.put(record["id"], {**txn.get(record["id"]), "creating": dead})
    (store.creating_dir / record["id"]).write_text(json.dumps(dead))
    assert engine.recover()["containers"] == 1
    assert store.meta.find(record["id"]) is None
    assert not store.directory(record["id"]).exists()
    assert list(store.creating_dir.iterdir()) == []


def test_finished_container_drops_its_marker(engine: Engine) -> None:
    store = ContainerStore(engine)
    with store.meta.transaction() as txn:
        record = store.add(txn, "whole", {"config": {}, "state": {"status": "created"}}, creating=True)
    assert "creating" not in store.finish_creating(record["id"])
    assert list(store.creating_dir.iterdir()) == []
    assert removal.remove_half_made(engine) == []
    assert store.meta.find(record["id"]) is not None


def test_crash_point_kills_with_sigkill_only_when_armed(tmp_path: Path) -> None:
    script = textwrap.dedent("""
        from ansible_collections.berth.engine.plugins.module_utils.crashpoint import crash_point
        crash_point("container.create.record")
        print("survived")
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "BERTH_CRASH_AT": "container.create.bundle"}
    survived = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False)
    assert survived.returncode == 0 and "survived" in survived.stdout
    env["BERTH_CRASH_AT"] = "container.create.record"
    killed = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False)
    assert killed.returncode == -9 and "survived" not in killed.stdout


def _holder(path: Path) -> subprocess.Popen[bytes]:
    """Another process holding a shared flock on ``path`` until killed."""
    code = (f"import fcntl,os,sys,time; fd=os.open({str(path)!r}, os.O_RDWR|os.O_CREAT, 0o600); "
            "fcntl.flock(fd, fcntl.LOCK_SH); print('held', flush=True); time.sleep(600)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == b"held\n"
    return proc


def _dead_process_mark() -> dict[str, int | None]:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    return {"pid": int(proc.stdout), "pid_start": 1}
