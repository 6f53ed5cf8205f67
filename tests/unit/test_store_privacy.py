"""The store is private to root: modes as created, and an older store's
modes tightened on open — without touching image or volume content."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ansible_collections.berth.engine.plugins.module_utils.containers import networking
from ansible_collections.berth.engine.plugins.module_utils.containers.store import ContainerStore
from ansible_collections.berth.engine.plugins.module_utils.digest import sha256_digest
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_a_new_store_is_private(tmp_path: Path) -> None:
    old = os.umask(0o022)   # the usual root umask: privacy must not depend on it
    try:
        engine = Engine.open(tmp_path / "state", tmp_path / "run")
        engine.blobs.put_bytes(b"blob")
        with engine.metadata("containers").transaction() as txn:
            txn.put("abc", {"env": ["PASSWORD=hunter2"]})
        directory = ContainerStore(engine).make_directory("c" * 64)
    finally:
        os.umask(old)
    layout = engine.layout
    for path in (layout.state_root, layout.run_root, layout.content, layout.blobs, layout.ingest,
                 layout.snapshots, layout.metadata, layout.metadata / "containers", layout.locks, layout.tmp,
                 layout.containers, layout.volumes, directory, directory.parent):
        assert _mode(path) == 0o700, path
    for path in (layout.version_file, layout.metadata / "containers" / "abc.json",
                 *layout.blobs.iterdir(), *layout.locks.iterdir()):
        assert _mode(path) == 0o600, path


def test_an_old_store_is_tightened_on_open(tmp_path: Path) -> None:
    engine = Engine.open(tmp_path / "state", tmp_path / "run")
    layout = engine.layout
    record = layout.metadata / "containers" / "abc.json"
    record.parent.mkdir()
    record.write_text("{}")
    container = layout.containers / ("c" * 64)
    for name in ("rootfs", "upper/usr", "work"):
        (container / "bundle" / name).mkdir(parents=True)
    (container / "bundle" / "config.json").write_text("{}")
    (container / "logs").mkdir()
    (container / "logs" / "container.log").write_text("")
    setuid = container / "bundle" / "upper" / "usr" / "su"
    setuid.write_text("")
    os.chmod(setuid, 0o4755)
    layer_fs = engine.snapshots.committed_dir / sha256_digest(b"x")[7:] / "fs"
    (layer_fs / "tmp").mkdir(parents=True)
    os.chmod(layer_fs / "tmp", 0o1777)
    data = layout.volumes / "db" / "_data"
    data.mkdir(parents=True)
    os.chmod(data, 0o755)
    blob = layout.blobs / ("a" * 64)
    blob.write_text("")
    # what an earlier berth left: 0755 dirs and 0644 files everywhere
    for dirpath, dirnames, filenames in os.walk(layout.state_root):
        for name in dirnames:
            if Path(dirpath, name) not in (layer_fs / "tmp",):
                os.chmod(Path(dirpath, name), 0o755)
        for name in filenames:
            if Path(dirpath, name) != setuid:
                os.chmod(Path(dirpath, name), 0o644)
    os.chmod(layout.state_root, 0o755)

    Engine.open(layout.state_root, layout.run_root)

    for path in (layout.state_root, layout.metadata, record.parent, layout.containers, container,
                 container / "bundle", container / "logs", layout.volumes, layout.volumes / "db",
                 layout.snapshots, engine.snapshots.committed_dir):
        assert _mode(path) == 0o700, path
    for path in (record, container / "bundle" / "config.json", container / "logs" / "container.log", blob,
                 layout.version_file):
        assert _mode(path) == 0o600, path
    # content keeps the modes the image and the container gave it
    assert _mode(setuid) == 0o4755
    assert _mode(container / "bundle" / "upper") == 0o755   # the container's "/" takes the upper dir's mode
    assert _mode(layer_fs / "tmp") == 0o1777
    assert _mode(layer_fs) == 0o755
    assert _mode(data) == 0o755


def test_migration_runs_once(tmp_path: Path) -> None:
    engine = Engine.open(tmp_path / "state", tmp_path / "run")
    assert engine.layout.tighten() == 0   # a new store has nothing to tighten


def test_files_a_container_user_reads_stay_world_readable(tmp_path: Path) -> None:
    old = os.umask(0o077)   # even under a strict umask
    try:
        networking.write_files(tmp_path, "box", "none")
    finally:
        os.umask(old)
    for name in ("hosts", "resolv.conf", "hostname"):
        assert _mode(tmp_path / name) == 0o644, name
