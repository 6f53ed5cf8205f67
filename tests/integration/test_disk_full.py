"""A full disk mid-unpack: a clear error, and the store left as it was."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ansible_collections.berth.engine.plugins.module_utils.ansible.image_models import ImportConfig
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidState
from ansible_collections.berth.engine.plugins.module_utils.image import archive
from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounts a small tmpfs")
REF = parse_reference("big/image:1")


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    mountpoint = tmp_path / "small"
    mountpoint.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "berth-test-small", str(mountpoint)], check=True)
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=True)


def test_load_into_a_full_filesystem_fails_cleanly(tmp_path: Path, small_fs: Path) -> None:
    rootfs = tmp_path / "rootfs"
    (rootfs / "data").mkdir(parents=True)
    for i in range(4):  # 4 MB of incompressible data: more than the 3 MB filesystem holds
        (rootfs / "data" / f"blob{i}").write_bytes(os.urandom(1 << 20))
    source = ImageStore(Engine.open(tmp_path / "src" / "state", tmp_path / "src" / "run", create=True))
    record = archive.import_rootfs(source, rootfs, ImportConfig(), REF)
    saved = tmp_path / "big.tar"
    archive.save_archive(source, record, saved, "oci", REF)

    engine = Engine.open(small_fs / "state", tmp_path / "run", create=True)
    store = ImageStore(engine)
    with pytest.raises(InvalidState, match="no space left") as caught:
        archive.load_archive(store, saved, REF)
    assert caught.value.field == "state_root" and "free disk space" in (caught.value.hint or "")
    assert store.list() == [] and engine.blobs.list() == []
    assert not any(engine.layout.snapshots.rglob("info.json"))
    assert not any((engine.layout.snapshots / "active").iterdir())
    assert not any(engine.layout.ingest.iterdir())
