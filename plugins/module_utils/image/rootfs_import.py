"""``source: import``: a rootfs tarball or directory becomes a one-layer image
(like ``docker import``).

The image ID must depend only on content, or re-running a playbook would make
a new image every time: a directory is tarred deterministically (sorted,
owners and times from the files, no user/group names), ``created`` is the
newest mtime in the rootfs rather than the clock, and the config is written
with sorted keys. So ``import_matches`` can tell "unchanged" by recomputing
the ID without writing anything — which is also what check mode needs.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import os
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from ..digest import sha256_digest
from ..errors import InvalidInput, NotFound
from ..strict import is_ascii_digits
from .assemble import config_bytes, store_image
from .compression import HashingReader, open_decompressed, sniff
from .manifest import OCI_LAYER, OCI_LAYER_GZIP, OCI_LAYER_ZSTD, Platform
from .records import ImageRecord, LayerRecord
from .reference import Reference
from .store import ImageStore

CHUNK = 1 << 20


@dataclass
class _Layer:
    digest: str
    diff_id: str
    size: int
    media_type: str
    newest_mtime: float


class ImportConfig(Protocol):
    """The config an import states (like ``docker import --change``; the image
    module's ansible/image_models.ImportConfig is one)."""

    cmd: list[str] | None
    entrypoint: list[str] | None
    env: dict[str, str]
    working_dir: str | None
    user: str | None
    labels: dict[str, str]
    exposed_ports: list[str]
    volumes: list[str]


def import_matches(store: ImageStore, current: ImageRecord, path: Path, config: ImportConfig) -> bool:
    """Whether importing ``path`` again would give ``current`` (no writes)."""
    with _source_layer(Path(path), store.engine.layout.tmp, keep=False) as (layer, _file):
        return sha256_digest(_config_bytes(layer, config)) == current.id


def import_rootfs(store: ImageStore, path: Path, config: ImportConfig, ref: Reference) -> ImageRecord:
    with _source_layer(Path(path), store.engine.layout.tmp, keep=True) as (layer, layer_file):
        record_layer = LayerRecord(layer.digest, layer.media_type, layer.size, layer.diff_id)

        @contextlib.contextmanager
        def open_blob(_layer: LayerRecord) -> Iterator[BinaryIO]:
            with layer_file.open("rb") as handle:
                yield handle

        return store_image(store, [record_layer], open_blob, _config_bytes(layer, config), source="import",
                           tag=ref if ref.tag else None)


@contextlib.contextmanager
def _source_layer(path: Path, scratch: Path, *, keep: bool) -> Iterator[tuple[_Layer, Path]]:
    """Describe the layer ``path`` makes; with ``keep``, also a file holding it."""
    if path.is_dir() and not keep:   # only the digests: nothing is written (check mode plans with this)
        sink = _HashingSink(None)
        newest = _tar_directory(path, sink)
        yield _Layer(sink.digest, sink.digest, sink.size, OCI_LAYER, newest), path
        return
    if path.is_dir():
        scratch.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix="import-", suffix=".tar", dir=scratch)
        try:
            with os.fdopen(fd, "wb") as out:
                sink = _HashingSink(out)
                newest = _tar_directory(path, sink)
            yield _Layer(sink.digest, sink.digest, sink.size, OCI_LAYER, newest), Path(tmp)
        finally:
            os.unlink(tmp)
        return
    if not path.is_file():
        raise NotFound(f"{path} does not exist", field="import_path",
                       hint="give a rootfs tarball (optionally gzip/zstd) or a directory")
    yield _describe_tarball(path), path


def _describe_tarball(path: Path) -> _Layer:
    """One pass: the blob digest, the DiffID and the newest mtime inside."""
    blob_hash = hashlib.sha256()
    with path.open("rb") as handle:
        kind = sniff(handle.read(4))
        handle.seek(0)
        counted = _HashingTee(handle, blob_hash)
        tar_stream = HashingReader(open_decompressed(counted))
        newest = 0.0
        try:
            with tarfile.open(fileobj=tar_stream, mode="r|") as tar:  # type: ignore[call-overload]
                for member in tar:
                    newest = max(newest, float(member.mtime))
        except (tarfile.TarError, EOFError) as err:
            raise InvalidInput(f"{path} is not a tar archive: {err}", field="import_path",
                               hint="give a rootfs tarball (tar, tar.gz or tar.zst) or a directory") from None
        while tar_stream.read(CHUNK):
            pass
        while counted.read(CHUNK):
            pass
    media = {"gzip": OCI_LAYER_GZIP, "zstd": OCI_LAYER_ZSTD}.get(kind, OCI_LAYER)
    return _Layer("sha256:" + blob_hash.hexdigest(), tar_stream.digest, path.stat().st_size, media, newest)


def _tar_directory(root: Path, sink: _HashingSink) -> float:
    """Write ``root`` as a deterministic tar into ``sink``; returns the newest mtime."""
    newest = 0.0
    with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
        for full, arcname in _walk_sorted(root):
            info = tar.gettarinfo(str(full), arcname)
            if info is None:  # sockets and the like have no tar form
                continue
            info.uname = info.gname = ""
            info.pax_headers.update(_xattr_headers(full))
            newest = max(newest, float(info.mtime))
            if info.isreg():
                with full.open("rb") as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)
    return newest


def _walk_sorted(root: Path) -> Iterator[tuple[Path, str]]:
    for directory, dirs, files in os.walk(root):
        dirs.sort()
        rel_dir = os.path.relpath(directory, root)
        for name in sorted(dirs + files):
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            yield Path(directory) / name, rel


def _xattr_headers(path: Path) -> dict[str, str]:
    headers: dict[str, str] = {}
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return headers
    for name in sorted(names):
        if name.startswith("trusted.overlay."):
            continue
        value = os.getxattr(path, name, follow_symlinks=False)
        headers[f"SCHILY.xattr.{name}"] = value.decode("utf-8", "surrogateescape")
    return headers


def _volume(path: str) -> str:
    if not path.startswith("/"):
        raise InvalidInput(f"volume {path!r} is not an absolute path", field="import_config.volumes",
                           hint="give container paths such as /data")
    return path


def _config_bytes(layer: _Layer, config: ImportConfig) -> bytes:
    created = _iso(layer.newest_mtime)
    container: dict = {"Env": [f"{k}={v}" for k, v in config.env.items()] or None}
    for key, value in (("Cmd", config.cmd), ("Entrypoint", config.entrypoint), ("WorkingDir", config.working_dir),
                       ("User", config.user), ("Labels", dict(config.labels) or None),
                       ("ExposedPorts", {_port(p): {} for p in config.exposed_ports} or None),
                       ("Volumes", {_volume(v): {} for v in config.volumes} or None)):
        container[key] = value
    host = Platform.host()
    message = getattr(config, "message", None)
    doc = {"architecture": host.architecture, "os": "linux", "created": created,
           "config": {k: v for k, v in container.items() if v is not None},
           "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]},
           "history": [{"created": created, "created_by": "berth image import",
                        **({"comment": message} if message else {})}]}
    if host.variant:
        doc["variant"] = host.variant
    return config_bytes(doc)


def _port(text: str) -> str:
    number, _sep, proto = text.partition("/")
    valid = is_ascii_digits(number) and len(number) <= 5 and 0 < int(number) < 65536
    if not valid or proto not in ("", "tcp", "udp", "sctp"):
        raise InvalidInput(f"{text!r} is not a port", field="import_config.exposed_ports",
                           hint="use PORT or PORT/PROTO, e.g. 80 or 53/udp")
    return f"{int(number)}/{proto or 'tcp'}"


def _iso(timestamp: float) -> str:
    return datetime.datetime.fromtimestamp(int(timestamp), tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _HashingSink:
    """A write-only file that hashes (and optionally keeps) what tar writes."""

    def __init__(self, out: BinaryIO | None) -> None:
        self.out = out
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self._hash.update(data)
        self.size += len(data)
        if self.out is not None:
            self.out.write(data)
        return len(data)

    @property
    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()


class _HashingTee:
    """Reads ``source`` and feeds every byte into ``digest``."""

    def __init__(self, source: BinaryIO, digest: object) -> None:
        self.source = source
        self.digest = digest

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size if size is not None and size >= 0 else CHUNK)
        self.digest.update(data)  # type: ignore[attr-defined]
        return data
