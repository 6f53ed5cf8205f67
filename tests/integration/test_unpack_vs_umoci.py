"""berth's unpacked layers, stacked by the kernel's overlayfs, must be the same
tree umoci unpacks — file by file: type, mode, owner, size, mtime, content,
link targets, hardlinks and xattrs."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.ansible.image_models import RegistryOptions
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.image.pull import Puller
from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
from ansible_collections.berth.engine.plugins.module_utils.image.service import make_client
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore
from tests.support.images import MULTILAYER_EXPECTATIONS, check_rootfs, compare_trees, push, umoci_unpack


def pull(tmp_path: Path, name: str) -> tuple[Engine, Any]:
    engine = Engine.open(tmp_path / "state", tmp_path / "run", create=True)
    ref = parse_reference(name)
    record, _changed = Puller(ImageStore(engine), make_client(ref.registry, RegistryOptions())).pull(ref)
    return engine, record


@contextmanager
def merged(engine: Engine, record: Any, mountpoint: Path) -> Iterator[Path]:
    """Mount the image's snapshots read-only, top layer first, as a container would see them."""
    lowers = [str(engine.snapshots.path(chain) / "fs") for chain in reversed(record.chain_ids)]
    mountpoint.mkdir()
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", f"ro,lowerdir={':'.join(lowers)}", str(mountpoint)],
                   check=True)
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", str(mountpoint)], check=True)


def test_multilayer_matches_umoci(tmp_path: Path, registry: Any, multilayer_image: Any) -> None:
    push(multilayer_image, registry, "cmp/multi", "1")
    engine, record = pull(tmp_path, f"{registry.host}/cmp/multi:1")
    layers = [engine.snapshots.path(chain) / "fs" for chain in record.chain_ids]
    # the per-layer dirs hold overlay's own markers, not tar whiteouts
    doomed = (layers[1] / "usr/share/doomed.txt").lstat()
    assert stat.S_ISCHR(doomed.st_mode) and doomed.st_rdev == 0
    assert os.getxattr(layers[2] / "var/cache", "trusted.overlay.opaque") == b"y"
    assert not any(p.name.startswith(".wh.") for layer in layers for p in layer.rglob("*"))
    reference = umoci_unpack(multilayer_image, tmp_path / "umoci")
    assert check_rootfs(reference, MULTILAYER_EXPECTATIONS) == []
    with merged(engine, record, tmp_path / "merged") as root:
        assert check_rootfs(root, MULTILAYER_EXPECTATIONS) == []
        assert compare_trees(reference, root) == []


@pytest.mark.slow
def test_debian_matches_umoci(tmp_path: Path, registry: Any, debian_image: Any) -> None:
    push(debian_image, registry, "cmp/debian", "1")
    engine, record = pull(tmp_path, f"{registry.host}/cmp/debian:1")
    reference = umoci_unpack(debian_image, tmp_path / "umoci")
    with merged(engine, record, tmp_path / "merged") as root:
        assert compare_trees(reference, root) == []
