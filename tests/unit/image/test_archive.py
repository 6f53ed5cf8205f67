"""Import, save and load without a registry: IDs are content-defined and
archives round-trip; bad archives leave the store as it was."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from ansible_collections.berth.engine.plugins.module_utils.ansible.image_models import ImportConfig
from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.errors import InvalidInput, NotFound
from ansible_collections.berth.engine.plugins.module_utils.image import archive
from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore

REF = parse_reference("demo/base:1")
CONFIG = ImportConfig(cmd=["/bin/sh"], env={"PATH": "/bin"}, exposed_ports=["80"])


def store_at(path: Path) -> ImageStore:
    return ImageStore(Engine.open(path / "state", path / "run", create=True))


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    (root / "bin").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "bin/tool").write_bytes(b"#!/bin/sh\necho hi\n")
    (root / "bin/tool").chmod(0o755)
    (root / "bin/sh").symlink_to("tool")
    (root / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    os.link(root / "etc/passwd", root / "etc/passwd-")
    for path in sorted(root.rglob("*"), reverse=True):
        os.utime(path, (1_600_000_000, 1_600_000_000), follow_symlinks=False)
    return root


def test_import_is_content_defined(tmp_path: Path, rootfs: Path) -> None:
    a = archive.import_rootfs(store_at(tmp_path / "a"), rootfs, CONFIG, REF)
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-a", str(rootfs), str(copy)], check=True)  # keeps hardlinks, unlike copytree
    for path in [copy, *copy.rglob("*")]:
        os.utime(path, (1_600_000_000, 1_600_000_000), follow_symlinks=False)
    store_b = store_at(tmp_path / "b")
    b = archive.import_rootfs(store_b, copy, CONFIG, REF)
    assert a.id == b.id and a.created == "2020-09-13T12:26:40Z"
    assert archive.import_matches(store_b, b, copy, CONFIG)
    assert not archive.import_matches(store_b, b, copy, ImportConfig(cmd=["/bin/other"]))
    (copy / "etc/new").write_text("x")
    assert not archive.import_matches(store_b, b, copy, CONFIG)
    config = json.loads(store_b.engine.blobs.read_bytes(b.id))
    assert config["config"]["ExposedPorts"] == {"80/tcp": {}}


def test_import_from_a_gzip_tarball(tmp_path: Path, rootfs: Path) -> None:
    tarball = tmp_path / "rootfs.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(rootfs, arcname=".")
    store = store_at(tmp_path / "s")
    record = archive.import_rootfs(store, tarball, CONFIG, REF)
    assert record.layers[0].media_type.endswith("+gzip")
    assert archive.import_matches(store, record, tarball, CONFIG)
    fs = store.engine.snapshots.path(record.top_chain_id) / "fs"
    assert (fs / "bin/tool").read_bytes() == b"#!/bin/sh\necho hi\n"
    assert (fs / "etc/passwd-").stat().st_ino == (fs / "etc/passwd").stat().st_ino


@pytest.mark.parametrize("fmt", ["docker", "oci"])
def test_save_is_deterministic_and_loads_back(tmp_path: Path, rootfs: Path, fmt: str) -> None:
    store = store_at(tmp_path / "s")
    record = archive.import_rootfs(store, rootfs, CONFIG, REF)
    first, second = tmp_path / "one.tar", tmp_path / "two.tar"
    archive.save_archive(store, record, first, fmt, REF)
    archive.save_archive(store, record, second, fmt, REF)
    assert first.read_bytes() == second.read_bytes()
    assert archive.archive_matches(first, record, fmt, REF)
    assert not archive.archive_matches(first, record, "oci" if fmt == "docker" else "docker", REF)
    assert archive.archive_image_id(first, REF) == record.id
    loaded = archive.load_archive(store_at(tmp_path / "fresh"), first, REF)
    assert loaded.id == record.id and loaded.source == "load"
    assert [x.diff_id for x in loaded.layers] == [x.diff_id for x in record.layers]
    assert not list((tmp_path).glob(".one.tar.*"))  # no temporary file left


def test_gzipped_docker_archive_loads(tmp_path: Path, rootfs: Path) -> None:
    store = store_at(tmp_path / "s")
    record = archive.import_rootfs(store, rootfs, CONFIG, REF)
    plain = tmp_path / "image.tar"
    archive.save_archive(store, record, plain, "docker", REF)
    packed = tmp_path / "image.tar.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert archive.load_archive(store_at(tmp_path / "fresh"), packed, REF).id == record.id


def test_unknown_name_and_damaged_archive_leave_nothing(tmp_path: Path, rootfs: Path) -> None:
    store = store_at(tmp_path / "s")
    record = archive.import_rootfs(store, rootfs, CONFIG, REF)
    good = tmp_path / "image.tar"
    archive.save_archive(store, record, good, "oci", REF)
    fresh = store_at(tmp_path / "fresh")
    with pytest.raises(NotFound, match="no image named"):
        archive.load_archive(fresh, good, parse_reference("other/name:2"))
    # flip bytes inside the layer blob: the DiffID check must catch it
    data = bytearray(good.read_bytes())
    marker = data.find(b"echo hi")
    data[marker:marker + 7] = b"ECHO HI"
    bad = tmp_path / "bad.tar"
    bad.write_bytes(bytes(data))
    with pytest.raises(InvalidInput):
        archive.load_archive(fresh, bad, REF)
    assert fresh.list() == [] and fresh.engine.blobs.list() == []
    with pytest.raises(InvalidInput, match="not a tar"):
        archive.load_archive(fresh, rootfs / "etc/passwd", REF)
    with pytest.raises(NotFound):
        archive.load_archive(fresh, tmp_path / "missing.tar", REF)


# -- hostile archives: bounded reads, bounded layer counts, nothing outside a layout --
def _tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _docker_manifest(layers: int, config: str = "config.json") -> bytes:
    return json.dumps([{"Config": config, "RepoTags": [REF.familiar],
                        "Layers": [f"{i}/layer.tar" for i in range(layers)]}]).encode()


def test_a_docker_archive_with_too_many_layers_is_refused_naming_the_image(tmp_path: Path) -> None:
    path = _tar(tmp_path / "deep.tar", {"manifest.json": _docker_manifest(129), "config.json": b"{}"})
    store = store_at(tmp_path / "s")
    with pytest.raises(InvalidInput, match=r"image demo/base:1 has 129 layers; berth accepts at most 128"):
        archive.load_archive(store, path, REF)
    assert store.engine.blobs.list() == []


def test_archive_documents_past_their_bounds_are_refused(tmp_path: Path) -> None:
    big_manifest = _tar(tmp_path / "m.tar", {"manifest.json": b" " * ((4 << 20) + 1)})
    with pytest.raises(InvalidInput, match=r"manifest\.json is larger than berth's limit of 4 MiB"):
        archive.load_archive(store_at(tmp_path / "a"), big_manifest, REF)
    big_config = _tar(tmp_path / "c.tar", {"manifest.json": _docker_manifest(1), "config.json": b" " * ((8 << 20) + 1)})
    with pytest.raises(InvalidInput, match="its config is larger than berth's limit of 8 MiB"):
        archive.load_archive(store_at(tmp_path / "b"), big_config, REF)
    big_index = _tar(tmp_path / "i.tar", {"oci-layout": b"{}", "index.json": b" " * ((4 << 20) + 1)})
    with pytest.raises(InvalidInput, match=r"index\.json is larger than berth's limit of 4 MiB"):
        archive.load_archive(store_at(tmp_path / "c"), big_index, REF)


def test_a_layout_directory_cannot_name_files_outside_itself(tmp_path: Path) -> None:
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps({"rootfs": {"type": "layers", "diff_ids": []}}))
    layout = tmp_path / "layout"
    layout.mkdir()
    (layout / "manifest.json").write_bytes(_docker_manifest(0, config="../outside.json"))
    with pytest.raises(InvalidInput, match=r"lacks \.\./outside\.json"):
        archive.load_archive(store_at(tmp_path / "a"), layout, REF)
    (layout / "manifest.json").write_bytes(_docker_manifest(0, config="link.json"))
    (layout / "link.json").symlink_to(outside)  # absolute: resolved inside the layout, where it is missing
    with pytest.raises(InvalidInput, match=r"lacks link\.json"):
        archive.load_archive(store_at(tmp_path / "b"), layout, REF)
