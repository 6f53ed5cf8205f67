"""Images berth builds, in other tools' hands: saved and loaded by podman
(and run there), pushed to the test registry and pulled with skopeo."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.image.archive import save_archive
from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
from tests.integration.build.conftest import BerthBuilder
from tests.support.images import read_layout, run, umoci_unpack
from tests.support.leaks import cgroup_dirs
from tests.support.peers import require_peer
from tests.support.runtime import mounts_under

DOCKERFILE = """\
FROM busybox
RUN echo hello from berth > /hello && rm /etc/motd && mkdir -p /data && echo d > /data/d.txt
COPY extra.txt /data/
RUN rm -rf /data && mkdir /data && echo replaced > /data/new.txt
ENV GREETING=hi
CMD ["sh", "-c", "cat /hello /data/new.txt; echo $GREETING; ls /etc/motd 2>/dev/null || echo no-motd"]
"""
EXPECTED = "hello from berth\nreplaced\nhi\nno-motd\n"


class Podman:
    """podman on storage of its own (vfs: no mounts to leak), with runc as this host needs it."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.prefix = ["podman", "--root", str(base / "storage"), "--runroot", str(base / "run"),
                       "--tmpdir", str(base / "tmp"), "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs",
                       "--events-backend", "file", "--runtime", "runc"]

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([*self.prefix, *args], capture_output=True, text=True, timeout=180, check=False)
        if check:
            assert result.returncode == 0, f"podman {' '.join(args)}: {result.stderr}"
        return result


@pytest.fixture
def podman() -> Iterator[Podman]:
    require_peer("podman")
    base = Path(tempfile.mkdtemp(prefix="berth-podman-"))   # podman refuses long run roots
    tool = Podman(base)
    try:
        yield tool
    finally:
        ids = set(tool("ps", "-aq", "--no-trunc", check=False).stdout.split())
        tool("rm", "--all", "--force", "--time", "0", check=False)
        tool("system", "reset", "--force", check=False)
        leftovers = cgroup_dirs({f"libpod-{i}" for i in ids}.__contains__)
        assert not mounts_under(base)
        shutil.rmtree(base, ignore_errors=True)
        assert not leftovers, leftovers


@pytest.fixture
def built(berth: BerthBuilder, tmp_path: Path, request: pytest.FixtureRequest) -> tuple[BerthBuilder, str, str]:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(DOCKERFILE)
    (context / "extra.txt").write_text("extra\n")
    compression = getattr(request, "param", "gzip")
    berth.build(context, "interop/app:1", extra=["--compression", compression])
    assert berth("run", "--rm", "--network", "none", "interop/app:1").stdout == EXPECTED
    return berth, berth.image_id("interop/app:1"), compression


@pytest.mark.parametrize("fmt", ["docker", "oci"])
@pytest.mark.parametrize("built", ["gzip", "zstd"], indirect=True)
def test_podman_loads_and_runs_a_built_image(fmt: str, built: tuple[BerthBuilder, str, str], podman: Podman,
                                             tmp_path: Path) -> None:
    berth, image_id, _compression = built
    archive = tmp_path / f"app-{fmt}.tar"
    store = berth.store()
    save_archive(store, store.get(image_id), archive, fmt, parse_reference("interop/app:1"))
    loaded = podman("load", "-i", str(archive))
    assert "interop/app:1" in loaded.stdout + loaded.stderr, loaded.stdout + loaded.stderr
    inspected = json.loads(podman("image", "inspect", "interop/app:1").stdout)[0]
    assert inspected["Id"] == image_id.split(":", 1)[1]   # the same config bytes
    result = podman("run", "--rm", "--network", "none", "--ulimit", "nofile=20000:20000",
                    "--ulimit", "nproc=32768:32768", "interop/app:1", check=False)
    assert (result.returncode, result.stdout) == (0, EXPECTED), result.stderr


def _push(berth: BerthBuilder, image_id: str, target: str) -> str:
    from ansible_collections.berth.engine.plugins.module_utils.ansible.image_models import RegistryOptions
    from ansible_collections.berth.engine.plugins.module_utils.image.push import push_image
    from ansible_collections.berth.engine.plugins.module_utils.image.service import make_client

    store = berth.store()
    ref = parse_reference(target)
    digest, _stats = push_image(store, store.get(image_id), ref, make_client(ref.registry, RegistryOptions()))
    return digest


@pytest.mark.parametrize("built", ["gzip", "zstd"], indirect=True)
def test_pushed_image_pulls_with_skopeo(built: tuple[BerthBuilder, str, str], registry: Any,
                                        tmp_path: Path) -> None:
    berth, image_id, compression = built
    target = f"{registry.host}/interop/app-{tmp_path.name}:1"
    digest = _push(berth, image_id, target)
    raw = run("skopeo", "inspect", "--tls-verify=false", "--raw", f"docker://{target}").stdout
    manifest = json.loads(raw)
    assert manifest["config"]["digest"] == image_id
    new_layers = manifest["layers"][1:]   # the base's own layer keeps the compression it came with
    assert new_layers and all(layer["mediaType"].endswith(f"+{compression}") for layer in new_layers), manifest
    assert berth.store().get(image_id).manifest_digest == digest
    layout = tmp_path / "pulled"
    # recompressed with gzip on the way: Debian's umoci reads no zstd (the config, so diff_ids, stay)
    run("skopeo", "copy", "-q", "--src-tls-verify=false", "--dest-compress", "--dest-compress-format", "gzip",
        f"docker://{target}", f"oci:{layout}:pulled")
    pulled = read_layout(layout, "pulled")
    assert pulled.config_digest == image_id and pulled.diff_ids == berth.config("interop/app:1")["rootfs"]["diff_ids"]
    rootfs = umoci_unpack(pulled, tmp_path / "bundle")
    assert (rootfs / "hello").read_text() == "hello from berth\n"
    assert not (rootfs / "etc" / "motd").exists()                      # the whiteout
    assert sorted(p.name for p in (rootfs / "data").iterdir()) == ["new.txt"]   # the opaque directory
