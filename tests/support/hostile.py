"""Images made by an attacker: layer tars written entry by entry with Python's
``tarfile`` (no tool would make them), wrapped in an OCI layout by hand and
pushed to the test registry with skopeo, so berth meets them exactly as it
would meet them from a stranger's registry.

``tar_layer`` takes entries as small dicts; ``hostile_layout`` stacks layers on
top of the busybox fixture (so the image runs); ``canary`` plants a host file
whose content and mode a test checks afterwards.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.images import CREATED, FIXED_TIME, OciImage, read_layout

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar"


@dataclass(frozen=True)
class Entry:
    """One tar member: ``kind`` is file, dir, symlink, hardlink, chr, fifo."""
    name: str
    kind: str = "file"
    data: bytes = b""
    link: str = ""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    pax: dict[str, str] | None = None


_TYPES = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
          "hardlink": tarfile.LNKTYPE, "chr": tarfile.CHRTYPE, "fifo": tarfile.FIFOTYPE}


def tar_layer(entries: list[Entry]) -> bytes:
    """An uncompressed layer with exactly these members, in this order."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            info = tarfile.TarInfo(entry.name)
            info.type = _TYPES[entry.kind]
            info.mode, info.uid, info.gid, info.mtime = entry.mode, entry.uid, entry.gid, FIXED_TIME
            info.linkname = entry.link
            if entry.pax:
                info.pax_headers = dict(entry.pax)
            if entry.kind == "file":
                info.size = len(entry.data)
                tar.addfile(info, io.BytesIO(entry.data))
            else:
                tar.addfile(info)
    return buffer.getvalue()


def _put_blob(layout: Path, data: bytes) -> dict[str, Any]:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def hostile_layout(workdir: Path, layers: list[bytes], *, base: OciImage | None = None,
                   config: dict[str, Any] | None = None, tag: str = "evil") -> OciImage:
    """An OCI layout whose image is ``base``'s layers (if any) plus ``layers``;
    ``config`` is merged into the image config's ``config`` section."""
    layout = workdir / f"layout-{tag}"
    layout.mkdir(parents=True, exist_ok=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    descriptors: list[dict[str, Any]] = []
    diff_ids: list[str] = []
    base_config: dict[str, Any] = {"Env": ["PATH=/usr/bin:/bin"], "Cmd": ["sh"]}
    if base is not None:
        base_manifest = json.loads(_read_blob(base.layout, base.manifest_digest))
        base_config = json.loads(_read_blob(base.layout, base.config_digest)).get("config", base_config)
        for desc in base_manifest["layers"]:
            data = _read_blob(base.layout, desc["digest"])
            descriptors.append({"mediaType": desc["mediaType"], **_put_blob(layout, data)})
        diff_ids += base.diff_ids
    for data in layers:
        descriptors.append({"mediaType": LAYER, **_put_blob(layout, data)})
        diff_ids.append("sha256:" + hashlib.sha256(data).hexdigest())
    image_config = {"architecture": "amd64", "os": "linux", "created": CREATED,
                    "config": {**base_config, **(config or {})},
                    "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    config_desc = {"mediaType": CONFIG, **_put_blob(layout, json.dumps(image_config).encode())}
    manifest = {"schemaVersion": 2, "mediaType": MANIFEST, "config": config_desc, "layers": descriptors}
    manifest_desc = {"mediaType": MANIFEST, **_put_blob(layout, json.dumps(manifest).encode()),
                     "annotations": {"org.opencontainers.image.ref.name": tag}}
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [manifest_desc]}))
    return read_layout(layout, tag)


def _read_blob(layout: Path, digest: str) -> bytes:
    return (layout / "blobs" / "sha256" / digest.split(":", 1)[1]).read_bytes()


@dataclass
class Canary:
    """A host file an attack would read, change or remove; ``intact()`` says
    whether it is exactly as planted and nothing was planted beside it."""
    directory: Path

    @classmethod
    def plant(cls, directory: Path) -> Canary:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "canary").write_text("untouched\n")
        (directory / "canary").chmod(0o600)
        return cls(directory)

    def intact(self) -> bool:
        entries = sorted(p.name for p in self.directory.iterdir())
        path = self.directory / "canary"
        return entries == ["canary"] and path.read_text() == "untouched\n" and path.stat().st_mode & 0o777 == 0o600
