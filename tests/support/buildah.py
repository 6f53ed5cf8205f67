"""buildah (Debian's 1.28) as the oracle builder, on a storage root of its own.

``Buildah(base)`` keeps everything under ``base``: the vfs storage root (no
mounts: vfs layers are plain directories, each one the whole flattened tree),
the run root and temp files. ``bud`` builds with ``--layers`` (one layer per
instruction, as docker and BuildKit commit them — without it buildah squashes
the build into one layer and its history flags mean something else), the
docker format (the OCI one drops HEALTHCHECK and ONBUILD) and chroot isolation
(no systemd, no cgroup manager needed; the network is the test process's own
namespace, which reaches nothing). ``rootfs(name)`` is the image's flattened
tree, read in place — ``buildah from`` would run the image's ONBUILD triggers.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

BUILDAH = "/usr/bin/buildah"
BASE_NAME = "docker.io/library/busybox:latest"


class BuildahError(RuntimeError):
    pass


class Buildah:
    def __init__(self, base: Path | None = None) -> None:
        # buildah (like podman) refuses long run roots: an xdist temp dir can be too long
        self.base = Path(base) if base is not None else Path(tempfile.mkdtemp(prefix="berth-buildah-"))
        self.root, self.runroot = self.base / "root", self.base / "runroot"
        self.tmp = self.base / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.prefix = [BUILDAH, "--root", str(self.root), "--runroot", str(self.runroot), "--storage-driver", "vfs"]

    def __call__(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([*self.prefix, *args], capture_output=True, text=True, timeout=timeout,
                                check=False, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "TMPDIR": str(self.tmp),
                                                  "BUILDAH_ISOLATION": "chroot"})
        if check and result.returncode != 0:
            raise BuildahError(f"buildah {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
        return result

    def load_base(self, layout: Path, tag: str = "latest", name: str = BASE_NAME) -> str:
        """Put an OCI layout's image into the store under ``name``; returns its ID."""
        image_id = self("pull", "-q", f"oci:{layout}:{tag}").stdout.strip().splitlines()[-1]
        self("tag", image_id, name)
        return image_id

    def bud_command(self, context: Path, tag: str, *, dockerfile: str | None = None,
                    build_args: Mapping[str, str] | None = None, target: str | None = None,
                    no_cache: bool = False, extra: Sequence[str] = ()) -> list[str]:
        cmd = [*self.prefix, "bud", "--layers", "--format", "docker", "--isolation", "chroot", "--pull-never",
               "-q", "-t", tag]
        if dockerfile:
            cmd += ["-f", str(context / dockerfile)]
        for key, value in (build_args or {}).items():
            cmd += ["--build-arg", f"{key}={value}"]
        if target:
            cmd += ["--target", target]
        if no_cache:
            cmd.append("--no-cache")
        return [*cmd, *extra, str(context)]

    def bud(self, context: Path, tag: str, **options: Any) -> subprocess.CompletedProcess[str]:
        """Build (not checked: the caller decides whether a failure is expected)."""
        cmd = self.bud_command(context, tag, **options)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False,
                              env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "TMPDIR": str(self.tmp)})

    def build(self, context: Path, tag: str, **options: Any) -> str:
        result = self.bud(context, tag, **options)
        if result.returncode != 0:
            raise BuildahError(f"buildah bud {context} failed ({result.returncode}):\n{result.stderr[-3000:]}")
        self.remove_containers()   # a failed or interrupted step leaves its working container
        return self.image_id(tag)

    def image_id(self, name: str) -> str:
        return self("inspect", "--type", "image", "--format", "{{.FromImageID}}", name).stdout.strip()

    def inspect(self, name: str) -> dict[str, Any]:
        return json.loads(self("inspect", "--type", "image", name).stdout)

    def config(self, name: str) -> dict[str, Any]:
        """The image's docker-form config document (config, history, rootfs, author)."""
        return self.inspect(name)["Docker"]

    def rootfs(self, name: str) -> Path:
        """The image's flattened tree: with vfs its top layer's directory is the whole tree."""
        image_id = self.image_id(name)
        images = json.loads((self.root / "vfs-images" / "images.json").read_text())
        layer = next(image["layer"] for image in images if image["id"] == image_id)
        return self.root / "vfs" / "dir" / layer

    def remove_containers(self) -> None:
        self("rm", "-a", check=False)

    def remove_image(self, name: str) -> None:
        self("rmi", "-f", name, check=False)

    def close(self) -> None:
        """Remove every container and image, then the whole base directory."""
        self.remove_containers()
        self("rmi", "-a", "-f", check=False)
        shutil.rmtree(self.base, ignore_errors=True)
