"""OCI / Docker manifest documents: media types, validation, platform choice.

Registry answers are input like any other: a document that does not parse,
or lacks what the image spec requires, raises InvalidInput naming the
document, never a KeyError deep in the pull. Their sizes and layer counts
are bounded (``registry/limits.py``) before anything they name is fetched.
"""

from __future__ import annotations

import json
import platform as host_platform
from dataclasses import dataclass
from typing import Any

from ..digest import validate_digest
from ..errors import InvalidInput, NotFound
from ..registry.limits import check_layer_count

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
ACCEPT = [OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST]
_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm",
         "armv6l": "arm", "i686": "386", "i386": "386", "ppc64le": "ppc64le", "s390x": "s390x",
         "riscv64": "riscv64"}


@dataclass(frozen=True)
class Platform:
    os: str = "linux"
    architecture: str = "amd64"
    variant: str | None = None

    @classmethod
    def host(cls) -> Platform:
        machine = host_platform.machine()
        variant = {"armv7l": "v7", "armv6l": "v6", "aarch64": "v8"}.get(machine)
        return cls("linux", _ARCH.get(machine, machine), variant)

    @classmethod
    def parse(cls, text: str) -> Platform:
        parts = text.split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise InvalidInput(f"{text!r} is not a platform", field="platform",
                               hint="use os/arch[/variant], e.g. linux/amd64 or linux/arm64/v8")
        return cls(parts[0], _ARCH.get(parts[1], parts[1]), parts[2] if len(parts) == 3 else None)

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: Platform | None = None
    annotations: dict[str, str] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


def load_json(data: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as err:
        raise InvalidInput(f"{what} is not valid JSON: {err}", field="manifest",
                           hint="the registry or archive served a corrupt document") from None
    if not isinstance(doc, dict):
        raise InvalidInput(f"{what} is not a JSON object", field="manifest")
    return doc


def media_type_of(doc: dict[str, Any], header_type: str | None) -> str:
    declared = doc.get("mediaType") or header_type or ""
    if not declared and "manifests" in doc:
        return OCI_INDEX
    if not declared and "layers" in doc:
        return OCI_MANIFEST
    return declared


def descriptor(raw: Any, what: str) -> Descriptor:
    if not isinstance(raw, dict):
        raise InvalidInput(f"{what} is not a descriptor object", field="manifest")
    try:
        digest = validate_digest(raw["digest"], field=f"{what}.digest")
        size = int(raw["size"])
        media_type = str(raw.get("mediaType", ""))
    except (KeyError, TypeError, ValueError) as err:
        raise InvalidInput(f"{what} lacks a valid digest/size ({err})", field="manifest") from None
    if size < 0:
        raise InvalidInput(f"{what} has a negative size", field="manifest")
    plat = raw.get("platform")
    parsed = None
    if isinstance(plat, dict):
        arch = str(plat.get("architecture", ""))
        parsed = Platform(str(plat.get("os", "")), _ARCH.get(arch, arch), plat.get("variant"))
    return Descriptor(media_type, digest, size, parsed, raw.get("annotations"))


def select_platform(index: dict[str, Any], wanted: Platform, what: str) -> Descriptor:
    """Choose the manifest for ``wanted`` from an index; variant only breaks ties."""
    entries = [descriptor(m, f"{what}.manifests[{i}]") for i, m in enumerate(index.get("manifests") or [])]
    matching = [d for d in entries if d.platform and d.platform.os == wanted.os
                and d.platform.architecture == wanted.architecture]
    exact = [d for d in matching if wanted.variant is None or d.platform.variant in (None, wanted.variant)]  # type: ignore[union-attr]
    chosen = exact or matching
    if not chosen:
        offered = sorted({str(d.platform) for d in entries if d.platform})
        raise NotFound(f"{what} has no image for platform {wanted}", field="platform",
                       hint=f"available: {', '.join(offered) or 'none'}")
    return chosen[0]


def image_manifest(doc: dict[str, Any], what: str) -> tuple[Descriptor, list[Descriptor]]:
    """(config descriptor, layer descriptors) of an image manifest."""
    if doc.get("schemaVersion") != 2:
        raise InvalidInput(f"{what} has schemaVersion {doc.get('schemaVersion')!r}", field="manifest",
                           hint="only schema 2 manifests (Docker v2.2 / OCI) are supported")
    raw_layers = doc.get("layers") or []
    if not isinstance(raw_layers, list):
        raise InvalidInput(f"{what}.layers is not a list", field="manifest")
    check_layer_count(len(raw_layers), what=what)
    config = descriptor(doc.get("config"), f"{what}.config")
    layers = [descriptor(layer, f"{what}.layers[{i}]") for i, layer in enumerate(raw_layers)]
    return config, layers


def image_config(data: bytes, what: str, layer_count: int) -> dict[str, Any]:
    """Parse and check an image config: its diff_ids must match the layers."""
    doc = load_json(data, what)
    rootfs = doc.get("rootfs") or {}
    diff_ids = rootfs.get("diff_ids")
    if rootfs.get("type") != "layers" or not isinstance(diff_ids, list):
        raise InvalidInput(f"{what} has no rootfs.diff_ids", field="config")
    check_layer_count(len(diff_ids), what=what)
    for i, diff_id in enumerate(diff_ids):
        validate_digest(diff_id, field=f"{what}.rootfs.diff_ids[{i}]")
    if len(diff_ids) != layer_count:
        raise InvalidInput(f"{what} lists {len(diff_ids)} diff_ids for {layer_count} layers", field="config",
                           hint="the manifest and config disagree; the image is corrupt")
    return doc
