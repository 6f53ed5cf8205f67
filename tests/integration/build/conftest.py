"""Both builders on the same base: buildah (the oracle) and `berth build`.

The busybox OCI layout of tests/support/images.py is loaded into each one's
own store under the same name, docker.io/library/busybox:latest, so `FROM
busybox` means the same bytes to both. berth's results are read through its
Engine API: the image config blob, and the flattened tree as a read-only
overlay of the image's snapshots (no upper dir), unmounted in a finally.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.image.archive import load_archive
from ansible_collections.berth.engine.plugins.module_utils.image.reference import parse_reference
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore
from tests.support.buildah import Buildah
from tests.support.cli import BerthCli
from tests.support.images import OciImage
from tests.support.leaks import ContainerWatch
from tests.support.networks import drop_networks
from tests.support.peers import require_peer
from tests.support.runtime import REPO, mounts_under, wait_for

BASE = "busybox:latest"
CORPUS = Path(__file__).parent / "corpus"
_MISSING: list[str] = []


def berth_build_missing() -> str | None:
    """Why `berth build` cannot be tested yet (None when it can)."""
    if not _MISSING:
        result = subprocess.run([str(REPO / "bin" / "berth"), "build", "--help"], capture_output=True, text=True,
                                check=False, timeout=60)
        _MISSING.append("" if result.returncode == 0 else
                        f"`berth build` is not there yet: {(result.stderr or result.stdout).strip()[-200:]}")
    return _MISSING[0] or None


def needs_berth_build() -> None:
    reason = berth_build_missing()
    if reason:
        pytest.skip(reason)


class BerthBuilder(BerthCli):
    """The CLI on a state root of its own, busybox loaded, and readers of what it built."""

    def __init__(self, base: Path) -> None:
        super().__init__(base)
        self.engine = Engine.open(self.state, self.run)
        self.watch = ContainerWatch(self.engine.layout.containers)

    def load_base(self, image: OciImage, name: str = BASE) -> str:
        return load_archive(ImageStore(self.engine), image.layout, parse_reference(name)).id

    def build_args(self, context: Path, tag: str, *, dockerfile: str | None = None,
                   build_args: Mapping[str, str] | None = None, target: str | None = None, no_cache: bool = False,
                   extra: Sequence[str] = ()) -> list[str]:
        args = ["build", "-t", tag]
        if dockerfile:
            args += ["-f", dockerfile]   # relative to the context, as `berth build --help` says
        for key, value in (build_args or {}).items():
            args += ["--build-arg", f"{key}={value}"]
        if target:
            args += ["--target", target]
        if no_cache:
            args.append("--no-cache")
        return [*args, *extra, str(context)]

    def build(self, context: Path, tag: str, *, check: bool = True, **options: Any) -> subprocess.CompletedProcess[str]:
        return self(*self.build_args(context, tag, **options), check=check)

    def store(self) -> ImageStore:
        return ImageStore(Engine.open(self.state, self.run))

    def image_id(self, name: str) -> str:
        return self.store().resolve(name).id

    def config(self, name: str) -> dict[str, Any]:
        store = self.store()
        return json.loads(store.engine.blobs.read_bytes(store.resolve(name).id))

    @contextlib.contextmanager
    def rootfs(self, name: str) -> Iterator[Path]:
        """The image's merged tree: a read-only overlay of its snapshots (one layer: the dir itself)."""
        store = self.store()
        record = store.resolve(name)
        lowers = store.engine.snapshots.lowerdirs(record.top_chain_id) if record.top_chain_id else []
        if not lowers:
            empty = self.state.parent / "empty-rootfs"
            empty.mkdir(exist_ok=True)
            yield empty
            return
        if len(lowers) == 1:
            yield lowers[0]
            return
        yield from _overlay(lowers, self.state.parent / f"merged-{record.id[7:19]}")

    def cleanup(self) -> None:
        for name in json.loads(self("ps", "-a", "--json", check=False).stdout or "{}"):
            self("rm", "-f", name, check=False)
        assert wait_for(lambda: self.monitor_pid() is None, timeout=10), "the monitor did not exit"
        drop_networks(Engine.open(self.state, self.run))
        leftovers = self.watch.cgroups_left()
        self.watch.close()
        assert not leftovers, leftovers
        assert not mounts_under(self.state.parent), mounts_under(self.state.parent)


def _overlay(lowers: list[Path], target: Path) -> Iterator[Path]:
    # relative lowerdirs from their common parent keep the option string short
    common = Path(os.path.commonpath([str(p) for p in lowers]))
    option = "ro,lowerdir=" + ":".join(os.path.relpath(p, common) for p in lowers)
    target.mkdir(exist_ok=True)
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", option, str(target)], cwd=common, check=True,
                   capture_output=True)
    try:
        yield target
    finally:
        subprocess.run(["umount", str(target)], check=False, capture_output=True)
        target.rmdir()


@pytest.fixture(scope="session")
def buildah(busybox_image: OciImage) -> Iterator[Buildah]:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    require_peer("buildah")
    tool = Buildah()
    try:
        tool.load_base(busybox_image.layout, busybox_image.tag)
        yield tool
    finally:
        tool.close()


def make_berth(base: Path, busybox_image: OciImage) -> Iterator[BerthBuilder]:
    needs_berth_build()
    tool = BerthBuilder(base)
    tool.load_base(busybox_image)
    try:
        yield tool
    finally:
        tool.cleanup()


@pytest.fixture(scope="session")
def berth_session(tmp_path_factory: pytest.TempPathFactory, busybox_image: OciImage) -> Iterator[BerthBuilder]:
    """One berth store for the whole oracle corpus (each case builds under its own tag)."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    yield from make_berth(tmp_path_factory.mktemp("berth-oracle"), busybox_image)


@pytest.fixture
def berth(tmp_path: Path, busybox_image: OciImage) -> Iterator[BerthBuilder]:
    """A berth store of the test's own (the cache tests count its snapshots)."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    yield from make_berth(tmp_path, busybox_image)
