"""A ~100 MB, 3-layer Debian image for benchmarks: debootstrap minbase, split
into layers with umoci, cached between runs (it takes minutes to make)."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

from .images import CREATED, OciImage, _repack, read_layout, run

CACHE = Path(os.environ.get("BERTH_FIXTURE_CACHE", "/var/cache/berth-test-fixtures"))
TAG = "bookworm"
SUITE = "bookworm"
LAYERS = 3
FALLBACK_MIRROR = "http://deb.debian.org/debian"


def build_debian_layout(cache: Path = CACHE) -> OciImage:
    """The cached image, built first if absent or broken."""
    cache.mkdir(parents=True, exist_ok=True)
    layout = cache / "debian-oci"
    with (cache / "debian.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test runs build it once
        try:
            image = read_layout(layout, TAG)
            blobs = [layout / "blobs/sha256" / d.split(":")[1] for d in image.layer_digests]
            if len(blobs) == LAYERS and all(b.exists() for b in blobs):
                return image
        except (OSError, ValueError, StopIteration, KeyError):
            pass
        return _build(cache, layout)


def _mirror() -> str:
    """The Debian mirror apt on this machine uses (no other network is reachable)."""
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*.sources"))]
    for path in sources:
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            words = line.split()
            if line.startswith("URIs:") and len(words) > 1 and "security" not in words[1]:
                return words[1]
            if line.startswith("deb ") and len(words) > 1 and "security" not in words[1]:
                return words[1] if not words[1].startswith("[") else words[2]
    return FALLBACK_MIRROR


def _build(cache: Path, layout: Path) -> OciImage:
    rootfs_cache = cache / "debian-rootfs"
    if not (rootfs_cache / "etc/debian_version").exists():
        shutil.rmtree(rootfs_cache, ignore_errors=True)
        run("debootstrap", "--variant=minbase", SUITE, rootfs_cache, _mirror(), timeout=1800)
    shutil.rmtree(layout, ignore_errors=True)
    bundle = cache / "debian-bundle"
    shutil.rmtree(bundle, ignore_errors=True)
    run("umoci", "init", "--layout", layout)
    run("umoci", "new", "--image", f"{layout}:{TAG}")
    run("umoci", "unpack", "--image", f"{layout}:{TAG}", bundle)
    rootfs = bundle / "rootfs"
    share = {"doc", "man", "locale", "info", "zoneinfo", "i18n", "common-licenses"}
    _copy(rootfs_cache, rootfs, exclude={f"usr/share/{name}" for name in share})
    _repack(layout, TAG, bundle, "debootstrap --variant=minbase bookworm (without docs and data)")
    for name in sorted(share):
        if (rootfs_cache / "usr/share" / name).exists():
            _copy(rootfs_cache / "usr/share" / name, rootfs / "usr/share" / name)
    _repack(layout, TAG, bundle, "docs, locales and zoneinfo")
    (rootfs / "etc/berth-fixture").write_text("berth benchmark image\n")
    (rootfs / "etc/motd").unlink(missing_ok=True)
    _repack(layout, TAG, bundle, "a small config change")
    run("umoci", "config", "--image", f"{layout}:{TAG}", "--config.cmd", "bash", "--architecture", "amd64",
        "--os", "linux", "--created", CREATED, "--no-history")
    run("umoci", "gc", "--layout", layout)
    shutil.rmtree(bundle)
    return read_layout(layout, TAG)


def _copy(source: Path, dest: Path, exclude: set[str] | None = None) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    args = ["rsync", "-aHAX", "--numeric-ids"]
    for path in sorted(exclude or ()):
        args += ["--exclude", f"/{path}"]
    subprocess.run([*args, f"{source}/", f"{dest}/"], check=True)
