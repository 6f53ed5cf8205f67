"""Load what skopeo writes, save what skopeo and podman read, import a rootfs;
push pulls back with the same digest through skopeo and podman."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore
from tests.support.images import populate_busybox, push, run, save_docker_archive, save_oci_archive
from tests.support.peers import have_peer
from tests.support.playbook import assert_converges, run_playbook, write_playbook


def _defaults(tmp_path: Path) -> dict[str, Any]:
    return {"group/berth.engine.all": {"state_root": str(tmp_path / "state"), "run_root": str(tmp_path / "run")}}


def _store(tmp_path: Path) -> ImageStore:
    return ImageStore(Engine.open(tmp_path / "state", tmp_path / "run"))


def test_load_what_skopeo_wrote(tmp_path: Path, multilayer_image: Any) -> None:
    """A docker-archive and an OCI archive, each loaded into a store of its own, in one play."""
    docker, oci = tmp_path / "docker", tmp_path / "oci"
    save_docker_archive(multilayer_image, tmp_path / "docker.tar", "fixtures/multi:1")
    save_oci_archive(multilayer_image, tmp_path / "oci.tar", "1")
    play = write_playbook(tmp_path, [
        {"berth.engine.image": {"name": "fixtures/multi:1", "source": "load", "load_path": str(tmp_path / f"{fmt}.tar"),
                                **_defaults(root)["group/berth.engine.all"]}}
        for fmt, root in (("docker", docker), ("oci", oci))])
    assert_converges(play)
    for root in (docker, oci):
        record = _store(root).resolve("fixtures/multi:1")
        assert record.id == multilayer_image.config_digest
        assert [layer.diff_id for layer in record.layers] == multilayer_image.diff_ids


def test_saved_archive_is_read_back_by_skopeo(tmp_path: Path, registry: Any, multilayer_image: Any) -> None:
    push(multilayer_image, registry, "save/multi", "1")
    name = f"{registry.host}/save/multi:1"
    play = write_playbook(tmp_path, [
        {"berth.engine.image": {"name": name}, "register": "pulled"},
        *({"berth.engine.image": {"name": name, "source": "local", "archive_path": str(tmp_path / f"saved-{fmt}.tar"),
                                  "archive_format": fmt},
           "when": "not (ansible_check_mode and pulled is changed)"} for fmt in ("docker", "oci")),
    ], module_defaults=_defaults(tmp_path))
    assert_converges(play, chained=True)   # later tasks use the image the first one brings
    for fmt in ("docker", "oci"):
        out = tmp_path / f"saved-{fmt}.tar"
        transport = "docker-archive" if fmt == "docker" else "oci-archive"
        raw_config = run("skopeo", "inspect", "--config", "--raw", f"{transport}:{out}").stdout.encode()
        assert "sha256:" + hashlib.sha256(raw_config).hexdigest() == multilayer_image.config_digest
        assert json.loads(raw_config)["rootfs"]["diff_ids"] == multilayer_image.diff_ids
        copied = tmp_path / f"copied-{fmt}"  # skopeo can copy every layer out of it (digests verified on the way)
        run("skopeo", "copy", "-q", f"{transport}:{out}", f"oci:{copied}:x")
        if fmt == "oci":  # an OCI archive keeps the manifest bytes, so the copy keeps the digest
            assert run("skopeo", "inspect", "--format", "{{.Digest}}", f"oci:{copied}:x").stdout.strip() == \
                _store(tmp_path).resolve(name).manifest_digest


def test_import_a_directory_and_push_it_for_skopeo_and_podman(tmp_path: Path, registry: Any) -> None:
    rootfs = tmp_path / "rootfs"
    populate_busybox(rootfs)
    name = f"{registry.host}/imported/busybox:1"
    play = write_playbook(tmp_path, [
        {"berth.engine.image": {"name": name, "source": "import", "import_path": str(rootfs),
                                "import_config": {"cmd": ["sh"], "env": {"PATH": "/bin"}}}, "register": "made"},
        {"berth.engine.image": {"name": name, "source": "local", "push": True},
         "when": "not (ansible_check_mode and made is changed)"},
    ], module_defaults=_defaults(tmp_path))
    assert_converges(play, chained=True)   # later tasks use the image the first one brings
    record = _store(tmp_path).resolve(name)
    skopeo = run("skopeo", "inspect", "--tls-verify=false", "--format", "{{.Digest}}", f"docker://{name}")
    assert skopeo.stdout.strip() == record.manifest_digest
    if have_peer("podman"):
        root = Path(tempfile.mkdtemp(prefix="berth-podman-"))  # podman wants a runroot under 50 chars
        base = ["podman", "--root", str(root / "root"), "--runroot", str(root / "run"), "--storage-driver", "vfs"]
        try:
            run(*base, "pull", "-q", "--tls-verify=false", name)
            digest = run(*base, "image", "inspect", "--format", "{{.Digest}}", name).stdout.strip()
            assert digest == record.manifest_digest
        finally:
            subprocess.run([*base, "system", "reset", "-f"], capture_output=True, check=False)
            shutil.rmtree(root, ignore_errors=True)
    # a changed rootfs is a new image
    (rootfs / "etc/motd").write_text("changed\n")
    assert run_playbook(play).changed >= 1
