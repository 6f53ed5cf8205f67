from __future__ import annotations

import errno
import logging
import os
import subprocess
import threading
from pathlib import Path

import pytest

from ansible_collections.berth.engine.plugins.module_utils import snapshots
from ansible_collections.berth.engine.plugins.module_utils.digest import chain_ids, sha256_digest
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.errors import Conflict, InvalidState, NotFound
from ansible_collections.berth.engine.plugins.module_utils.fsutil import disk_usage, remove_tree
from tests.support.hostile import Canary

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


# -- hardening: commit checks, iterative removal, recovery past a bad entry ------------
def test_commit_refuses_an_fs_that_is_not_a_directory(engine: Engine, tmp_path: Path) -> None:
    host = tmp_path / "host-dir"
    host.mkdir()
    active = engine.snapshots.begin(CHAIN[0], None, DIFFS[0])
    try:
        active.fs.rmdir()
        active.fs.symlink_to(host)
        with pytest.raises(InvalidState, match="fs is not a directory"):
            engine.snapshots.commit(active)
    finally:
        engine.snapshots.abort(active)
    assert not engine.snapshots.exists(CHAIN[0])
    assert list(engine.snapshots.active_dir.iterdir()) == []
    assert host.is_dir()  # the trash removed the link, not what it pointed at


def _nested(top: Path, depth: int) -> None:
    """``depth`` nested dirs (far past PATH_MAX, so made relative to fds)."""
    top.mkdir()
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for i in range(depth):
            os.mkdir("d", dir_fd=fd)
            if i % 500 == 0:
                os.symlink("/", "out", dir_fd=fd)  # never followed by the remover
                with open(os.open("f", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "w") as handle:
                    handle.write("x")
            child = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = child
    finally:
        os.close(fd)


def test_deep_trees_are_removed_without_recursion(engine: Engine, tmp_path: Path) -> None:
    canary = Canary.plant(tmp_path / "victim")
    _nested(tmp_path / "deep", 5000)
    assert disk_usage(tmp_path / "deep") > 0  # measured without recursion, too
    remove_tree(tmp_path / "deep")
    assert not (tmp_path / "deep").exists()
    # the same through the store: a deep snapshot, trashed and cleaned
    active = engine.snapshots.begin(CHAIN[0], None, DIFFS[0])
    active.fs.rmdir()
    _nested(active.fs, 5000)
    engine.snapshots.abort(active)
    assert list(engine.snapshots.active_dir.iterdir()) == []
    assert list(engine.snapshots.trash_dir.iterdir()) == []
    assert canary.intact()


def test_remove_tree_never_follows_a_symlink(tmp_path: Path) -> None:
    canary = Canary.plant(tmp_path / "victim")
    (tmp_path / "link").symlink_to(canary.directory)
    remove_tree(tmp_path / "link")
    (tmp_path / "tree/sub").mkdir(parents=True)
    (tmp_path / "tree/sub/out").symlink_to(canary.directory)
    (tmp_path / "tree/file-link").symlink_to(canary.directory / "canary")
    remove_tree(tmp_path / "tree")
    remove_tree(tmp_path / "missing")  # absent: fine
    assert sorted(p.name for p in tmp_path.iterdir()) == ["victim"]
    assert canary.intact()


def test_remove_tree_makes_read_only_dirs_writable(tmp_path: Path) -> None:
    (tmp_path / "ro/inner").mkdir(parents=True)
    (tmp_path / "ro/inner/file").write_text("x")
    (tmp_path / "ro/locked").mkdir()
    (tmp_path / "ro/inner").chmod(0o500)
    (tmp_path / "ro/locked").chmod(0o000)
    (tmp_path / "ro").chmod(0o500)
    remove_tree(tmp_path / "ro")
    assert not (tmp_path / "ro").exists()


def test_remove_tree_tolerates_a_concurrent_remover(tmp_path: Path) -> None:
    for i in range(30):
        (tmp_path / f"tree/a{i}/b/c").mkdir(parents=True)
        (tmp_path / f"tree/a{i}/b/c/f").write_text("x")
    errors: list[BaseException] = []

    def remover() -> None:
        try:
            remove_tree(tmp_path / "tree")
        except BaseException as err:  # collected for the assert below
            errors.append(err)

    threads = [threading.Thread(target=remover) for _thread in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and not (tmp_path / "tree").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting needs root")
def test_remove_tree_does_not_descend_into_mount_points(tmp_path: Path) -> None:
    mnt = tmp_path / "tree/mnt"
    mnt.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "berth-test", str(mnt)], check=True)
    try:
        (mnt / "precious").write_text("keep")
        with pytest.raises(OSError) as err:
            remove_tree(tmp_path / "tree")
        assert err.value.errno == errno.EBUSY
        assert (mnt / "precious").read_text() == "keep"
    finally:
        subprocess.run(["umount", str(mnt)], check=True)
    remove_tree(tmp_path / "tree")
    assert not (tmp_path / "tree").exists()


def test_cleanup_goes_on_past_a_bad_entry(engine: Engine, monkeypatch: pytest.MonkeyPatch,
                                          caplog: pytest.LogCaptureFixture) -> None:
    trash = engine.snapshots.trash_dir
    for name in ("good1", "stuck", "good2"):
        (trash / name / "fs").mkdir(parents=True)
    real = snapshots.remove_tree

    def failing(path: Path) -> None:
        if path.name == "stuck":
            raise OSError(errno.EBUSY, "Device or resource busy", str(path))
        real(path)

    monkeypatch.setattr(snapshots, "remove_tree", failing)
    with caplog.at_level(logging.WARNING, logger="berth"):
        assert engine.snapshots.cleanup() == 2
    assert [p.name for p in trash.iterdir()] == ["stuck"]
    assert "stuck" in caplog.text and "left for the next run" in caplog.text
    monkeypatch.setattr(snapshots, "remove_tree", real)
    assert engine.recover()["snapshots"] == 1  # the engine still answers, and the next run finishes the job
    _unpack(engine, 1)
    assert engine.snapshots.exists(CHAIN[0])
