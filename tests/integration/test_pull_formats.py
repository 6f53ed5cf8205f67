"""Pull what real tools publish: multi-platform OCI indexes (the host's
platform by default, another on request) and zstd-compressed layers."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore
from tests.support.images import OciImage, push, read_layout, run
from tests.support.playbook import assert_converges, write_playbook
from tests.support.registry import start_registry

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _defaults(root: Path) -> dict[str, Any]:
    return {"group/berth.engine.all": {"state_root": str(root / "state"), "run_root": str(root / "run")}}


def _multi_platform(busybox: OciImage, workdir: Path) -> tuple[Path, OciImage, OciImage]:
    """An OCI layout whose tag 'multi' is an index of amd64 and arm64 images."""
    layout = workdir / "index-oci"
    shutil.copytree(busybox.layout, layout)
    run("umoci", "config", "--image", f"{layout}:{busybox.tag}", "--architecture", "arm64", "--tag", "arm",
        "--no-history")
    amd, arm = read_layout(layout, busybox.tag), read_layout(layout, "arm")
    manifests = []
    for image, arch in ((amd, "amd64"), (arm, "arm64")):
        size = (layout / "blobs/sha256" / image.manifest_digest.split(":")[1]).stat().st_size
        manifests.append({"mediaType": OCI_MANIFEST, "digest": image.manifest_digest, "size": size,
                          "platform": {"architecture": arch, "os": "linux"}})
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}).encode()
    digest = "sha256:" + hashlib.sha256(index).hexdigest()
    (layout / "blobs/sha256" / digest.split(":")[1]).write_bytes(index)
    top = json.loads((layout / "index.json").read_text())
    top["manifests"].append({"mediaType": OCI_INDEX, "digest": digest, "size": len(index),
                             "annotations": {"org.opencontainers.image.ref.name": "multi"}})
    (layout / "index.json").write_text(json.dumps(top))
    return layout, amd, arm


def test_index_picks_the_host_platform_or_the_asked_one(tmp_path: Path, registry: Any, busybox_image: Any) -> None:
    layout, amd, arm = _multi_platform(busybox_image, tmp_path)
    name = f"{registry.host}/multi/arch:1"
    run("skopeo", "copy", "-q", "--all", "--preserve-digests", "--dest-tls-verify=false", f"oci:{layout}:multi",
        f"docker://{name}")
    index_digest = run("skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{name}").stdout.encode()
    host, other = tmp_path / "host", tmp_path / "other"
    roots = {"group/berth.engine.all": {}}   # each task names its own store: the same tag, two platforms
    assert_converges(write_playbook(tmp_path, [
        {"berth.engine.image": {"name": name, **_defaults(host)["group/berth.engine.all"]}},
        {"berth.engine.image": {"name": name, "platform": "linux/arm64", **_defaults(other)["group/berth.engine.all"]}},
    ], name="platforms.yml", module_defaults=roots))
    mine = ImageStore(Engine.open(host / "state", host / "run")).resolve(name)
    theirs = ImageStore(Engine.open(other / "state", other / "run")).resolve(name)
    assert (mine.id, mine.architecture) == (amd.config_digest, "amd64")
    assert (theirs.id, theirs.architecture) == (arm.config_digest, "arm64")
    assert f"{registry.host}/multi/arch@sha256:{hashlib.sha256(index_digest).hexdigest()}" in mine.repo_digests


def test_zstd_layers(tmp_path: Path, busybox_image: Any) -> None:
    # an empty registry of its own: skopeo reuses a gzip blob it already sees there instead of recompressing
    registry = start_registry(tmp_path / "registry")
    try:
        name = f"{registry.host}/zstd/busybox:1"
        run("skopeo", "copy", "-q", "--dest-tls-verify=false", "--dest-compress-format", "zstd", busybox_image.ref,
            f"docker://{name}")
        _pull_zstd(tmp_path, name, busybox_image)
    finally:
        registry.stop()


def _pull_zstd(tmp_path: Path, name: str, busybox_image: Any) -> None:
    assert_converges(write_playbook(tmp_path, [{"berth.engine.image": {"name": name}}],
                                    module_defaults=_defaults(tmp_path)))
    engine = Engine.open(tmp_path / "state", tmp_path / "run")
    record = ImageStore(engine).resolve(name)
    assert record.layers[0].media_type.endswith("+zstd")
    assert record.layers[0].diff_id == busybox_image.diff_ids[0]
    assert (engine.snapshots.path(record.top_chain_id) / "fs/bin/busybox").stat().st_size > 100_000


def test_push_mounts_blobs_from_another_repository(tmp_path: Path, registry: Any, multilayer_image: Any) -> None:
    from ansible_collections.berth.engine.plugins.module_utils.ansible.image_models import RegistryOptions
    from ansible_collections.berth.engine.plugins.module_utils.image.pull import Puller
    from ansible_collections.berth.engine.plugins.module_utils.image.push import push_image
    from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
    from ansible_collections.berth.engine.plugins.module_utils.image.service import make_client

    push(multilayer_image, registry, "mount/src", "1")
    store = ImageStore(Engine.open(tmp_path / "state", tmp_path / "run", create=True))
    src, dst = parse_reference(f"{registry.host}/mount/src:1"), parse_reference(f"{registry.host}/mount/dst:1")
    record, _changed = Puller(store, make_client(src.registry, RegistryOptions())).pull(src)
    digest, stats = push_image(store, record, dst, make_client(dst.registry, RegistryOptions()))
    assert digest == record.manifest_digest
    assert stats.uploaded == [] and len(stats.mounted) == len(record.layers) + 1  # layers + config
    _digest, again = push_image(store, record, dst, make_client(dst.registry, RegistryOptions()))
    assert again.uploaded == again.mounted == [] and len(again.skipped) == len(record.layers) + 1
