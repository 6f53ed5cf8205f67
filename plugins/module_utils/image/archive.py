"""Image archives: ``docker save``/``podman save`` tarballs and OCI layouts.

Load reads a docker-archive (``manifest.json``), an OCI archive or an OCI
layout directory (``index.json``) and feeds its layers through the same
verified pipeline as a pull (``layers.materialize``), so a damaged archive
leaves nothing behind. Save writes either format deterministically (fixed
times and owners, sorted entries) into a temporary file renamed into place,
so the same image saves to the same bytes and a crash never leaves half an
archive where the user expects one.

An archive is as untrusted as a registry: its manifest.json, index.json,
manifests and configs are read with the registry's bounds
(``registry/limits.py``), its layer count is checked before any layer is
read, and the members of an OCI layout directory are opened inside that
directory (``saferoot``), so a name like ``../../etc/shadow`` or a symlink
out of it reads nothing of the host.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import stat
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..digest import digest_hex, sha256_digest, validate_digest
from ..errors import InvalidInput, NotFound
from ..registry.limits import MAX_CONFIG_BYTES, MAX_MANIFEST_BYTES, check_claim, check_layer_count, read_bounded
from ..saferoot import open_in_root
from .compression import ReaderBase, open_decompressed, sniff
from .layers import LayerStats, materialize
from .manifest import (
    DOCKER_CONFIG,
    DOCKER_MANIFEST,
    INDEX_TYPES,
    Platform,
    image_config,
    image_manifest,
    load_json,
    media_type_of,
    select_platform,
)
from .records import ImageRecord, LayerRecord
from .reference import Reference, parse_reference
from .rootfs_import import import_matches, import_rootfs
from .store import ImageStore

__all__ = ["archive_image_id", "archive_matches", "import_matches", "import_rootfs", "load_archive", "save_archive"]

DOCKER_LAYER_TAR = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"
CHUNK = 1 << 20


# -- reading ------------------------------------------------------------------
class _Source:
    """Named members of a tar archive or an OCI layout directory.

    Tar members are read with pread on one descriptor, so layers can be
    unpacked by parallel threads without sharing a file offset; a compressed
    archive (``docker save | gzip``) is first decompressed to a scratch file.
    """

    def __init__(self, path: Path, scratch: Path | None = None) -> None:
        self.path = path
        self._fd = -1
        self._dir_fd = -1
        self._members: dict[str, tarfile.TarInfo] = {}
        if path.is_dir():  # the path the user gave is trusted; what is inside it is not
            self._dir_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            return
        try:
            self._fd = _plain_tar_fd(path, scratch)
            with os.fdopen(os.dup(self._fd), "rb") as handle:  # a dup shares the offset: rewind
                handle.seek(0)
                with tarfile.open(fileobj=handle, mode="r:") as tar:
                    for member in tar.getmembers():
                        name = member.name[2:] if member.name.startswith("./") else member.name
                        self._members[name] = member
        except FileNotFoundError:
            raise NotFound(f"{path} does not exist", field="load_path",
                           hint="give the path of a docker-archive, OCI archive or OCI layout") from None
        except (tarfile.TarError, EOFError, InvalidInput) as err:
            self.close()
            raise InvalidInput(f"{path} is not a tar archive: {err}", field="load_path",
                               hint="give a file written by docker/podman save or skopeo copy") from None

    def close(self) -> None:
        for attr in ("_fd", "_dir_fd"):
            if getattr(self, attr) >= 0:
                os.close(getattr(self, attr))
                setattr(self, attr, -1)

    def _open_in_dir(self, name: str) -> int | None:
        """A descriptor of the regular file ``name`` inside the layout directory."""
        try:
            fd = open_in_root(self._dir_fd, name, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            return None
        except OSError as err:  # ELOOP, EXDEV, ENAMETOOLONG: a name that leads nowhere we read
            raise InvalidInput(f"{self.path}: cannot open {name!r} inside the layout: {err.strerror}",
                               field="load_path", hint="the layout names a file outside itself") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            return None
        return fd

    def has(self, name: str) -> bool:
        if self._dir_fd < 0:
            return name in self._members
        fd = self._open_in_dir(name)
        if fd is not None:
            os.close(fd)
        return fd is not None

    @contextlib.contextmanager
    def open(self, name: str) -> Iterator[BinaryIO]:
        if self._dir_fd >= 0:
            fd = self._open_in_dir(name)
            if fd is None:
                raise InvalidInput(f"{self.path} lacks {name}", field="load_path", hint="the layout is incomplete")
            with os.fdopen(fd, "rb") as handle:
                yield handle
            return
        member = self._follow(name)
        if member is None or not member.isfile():
            raise InvalidInput(f"{self.path} lacks {name}", field="load_path", hint="the archive is incomplete")
        yield _PreadReader(self._fd, member.offset_data, member.size)  # type: ignore[misc]

    def _follow(self, name: str) -> tarfile.TarInfo | None:
        """docker save links repeated layers (``../<id>/layer.tar``)."""
        member = self._members.get(name)
        for _hop in range(8):
            if member is None or not (member.issym() or member.islnk()):
                return member
            target = member.linkname if member.islnk() else os.path.join(os.path.dirname(name), member.linkname)
            name = os.path.normpath(target).lstrip("/")
            member = self._members.get(name)
        return None

    def read(self, name: str, limit: int, what: str | None = None) -> bytes:
        """A whole member of at most ``limit`` bytes (refused past it, unbuffered)."""
        what = what or name
        check_claim(self.size(name), limit, source=str(self.path), what=what)
        with self.open(name) as handle:
            return read_bounded(handle, limit, source=str(self.path), what=what)

    def size(self, name: str) -> int:
        if self._dir_fd >= 0:
            fd = self._open_in_dir(name)
            if fd is None:
                return 0
            try:
                return os.fstat(fd).st_size
            finally:
                os.close(fd)
        member = self._follow(name)
        return member.size if member is not None else 0


def _plain_tar_fd(path: Path, scratch: Path | None) -> int:
    """A descriptor of the uncompressed tar (the file itself when it is one)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    if sniff(os.pread(fd, 4, 0)) == "tar":
        return fd
    with os.fdopen(fd, "rb") as compressed, tempfile.TemporaryFile(dir=scratch) as plain:
        reader = open_decompressed(compressed)
        while chunk := reader.read(CHUNK):
            plain.write(chunk)
        plain.flush()
        return os.dup(plain.fileno())  # the unlinked file lives while this descriptor does


class _PreadReader(ReaderBase):
    """A window of a file read by offset (thread-safe, no shared position)."""

    def __init__(self, fd: int, start: int, size: int) -> None:
        self.fd, self.start, self.size, self.pos = fd, start, size, 0

    def read(self, size: int = -1) -> bytes:
        left = self.size - self.pos
        want = left if size is None or size < 0 else min(size, left)
        data = os.pread(self.fd, want, self.start + self.pos) if want > 0 else b""
        self.pos += len(data)
        return data


@dataclass
class _Selected:
    config: bytes
    config_digest: str
    manifest: bytes | None            # None for docker-archives: synthesised on load
    manifest_media_type: str
    config_media_type: str
    layer_members: list[str]
    layer_descriptors: list[tuple[str, str, int]] | None = None  # OCI: (media type, digest, size)


@contextlib.contextmanager
def _opened(path: Path, scratch: Path | None = None) -> Iterator[_Source]:
    source = _Source(Path(path), scratch)
    try:
        yield source
    finally:
        source.close()


def _select(source: _Source, ref: Reference) -> _Selected:
    if source.has("manifest.json"):
        return _select_docker(source, ref)
    if source.has("index.json"):
        return _select_oci(source, ref)
    raise InvalidInput(f"{source.path} is neither a docker-archive nor an OCI archive/layout", field="load_path",
                       hint="it has no manifest.json or index.json")


def _select_docker(source: _Source, ref: Reference) -> _Selected:
    try:
        entries = json.loads(source.read("manifest.json", MAX_MANIFEST_BYTES))
    except ValueError as err:
        raise InvalidInput(f"{source.path}: manifest.json is not JSON: {err}", field="load_path") from None
    if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
        raise InvalidInput(f"{source.path}: manifest.json lists no images", field="load_path")
    wanted = {ref.familiar, ref.tagged, str(ref)}
    chosen = [e for e in entries if wanted & set(e.get("RepoTags") or [])]
    if not chosen and len(entries) == 1 and not entries[0].get("RepoTags"):  # an untagged save: take it
        chosen = entries
    if not chosen:
        names = sorted(t for e in entries for t in (e.get("RepoTags") or []))
        raise NotFound(f"{source.path} has no image named {ref.familiar}", field="name",
                       hint=f"the archive holds: {', '.join(names) or 'untagged images'}")
    entry = chosen[0]
    layers = entry.get("Layers") or []
    if not isinstance(layers, list):
        raise InvalidInput(f"{source.path}: manifest.json's Layers is not a list", field="load_path")
    check_layer_count(len(layers), what=f"{source.path}: image {ref.familiar}")
    config = source.read(str(entry.get("Config", "")), MAX_CONFIG_BYTES, "its config")
    return _Selected(config, sha256_digest(config), None, DOCKER_MANIFEST, DOCKER_CONFIG,
                     [str(name) for name in layers])


def _select_oci(source: _Source, ref: Reference) -> _Selected:
    index = load_json(source.read("index.json", MAX_MANIFEST_BYTES), f"{source.path}: index.json")
    manifests = index.get("manifests") or []
    names = {ref.tag, ref.familiar, ref.tagged, str(ref)} - {None}
    chosen = [m for m in manifests if (m.get("annotations") or {}).get(REF_NAME) in names
              or (m.get("annotations") or {}).get(CONTAINERD_NAME) in names]
    if not chosen and len(manifests) == 1 and not _names_of(manifests[0]):  # unnamed: take it
        chosen = manifests
    if not chosen:
        raise NotFound(f"{source.path} has no image named {ref.familiar}", field="name",
                       hint="name it as the archive does (its org.opencontainers.image.ref.name annotation)")
    desc = chosen[0]
    data = _blob(source, str(desc.get("digest", "")), MAX_MANIFEST_BYTES, "manifest")
    doc = load_json(data, f"{source.path}: manifest")
    if media_type_of(doc, desc.get("mediaType")) in INDEX_TYPES:
        picked = select_platform(doc, Platform.host(), f"{source.path}: index")
        data = _blob(source, picked.digest, MAX_MANIFEST_BYTES, "manifest")
        doc = load_json(data, f"{source.path}: manifest {picked.digest}")
    config_desc, layers = image_manifest(doc, f"{source.path}: manifest of {ref.familiar}")
    config = _blob(source, config_desc.digest, MAX_CONFIG_BYTES, "config")
    return _Selected(config, config_desc.digest, data, media_type_of(doc, desc.get("mediaType")),
                     config_desc.media_type, [_member(d.digest) for d in layers],
                     [(d.media_type, d.digest, d.size) for d in layers])


def _names_of(desc: dict) -> set[str]:
    annotations = desc.get("annotations") or {}
    return {annotations[k] for k in (REF_NAME, CONTAINERD_NAME) if k in annotations}


def _member(digest: str) -> str:
    return f"blobs/sha256/{digest_hex(validate_digest(digest, field='load_path'))}"


def _blob(source: _Source, digest: str, limit: int, kind: str) -> bytes:
    data = source.read(_member(digest), limit, f"{kind} {digest}")
    if sha256_digest(data) != digest:
        raise InvalidInput(f"{source.path}: blob {digest} does not match its digest", field="load_path",
                           hint="the archive is damaged")
    return data


def archive_image_id(path: Path, ref: Reference) -> str:
    """The ID (config digest) of the image ``ref`` names inside the archive."""
    with _opened(path) as source:
        return _select(source, ref).config_digest


def load_archive(store: ImageStore, path: Path, ref: Reference) -> ImageRecord:
    stats = LayerStats()
    engine = store.engine
    try:
        with _opened(path, engine.layout.tmp) as source:
            selected = _select(source, ref)
            config = image_config(selected.config, f"{path}: config", len(selected.layer_members))
            layers = _layer_records(source, selected, config["rootfs"]["diff_ids"])
            manifest = selected.manifest or _docker_manifest(selected, layers)
            materialize(engine, layers, _opener(source, dict(zip(layers, selected.layer_members, strict=False))), stats)
            for blob in (selected.config, manifest):
                digest = sha256_digest(blob)
                if not engine.blobs.exists(digest):
                    engine.blobs.put_bytes(blob, digest)
                    stats.created_blobs.append(digest)
        record = ImageRecord(
            id=selected.config_digest, manifest_digest=sha256_digest(manifest),
            manifest_media_type=selected.manifest_media_type, config_media_type=selected.config_media_type,
            layers=layers, created=config.get("created"), os=config.get("os", "linux"),
            architecture=config.get("architecture", "amd64"), variant=config.get("variant"), source="load")
        store.save(record, ref if ref.tag else None)
        return store.get(record.id)
    except BaseException:
        store.discard_unreferenced(stats.created_blobs)
        raise


def _layer_records(source: _Source, selected: _Selected, diff_ids: list[str]) -> list[LayerRecord]:
    if selected.layer_descriptors is not None:
        return [LayerRecord(digest, media, size, diff_id)
                for (media, digest, size), diff_id in zip(selected.layer_descriptors, diff_ids, strict=True)]
    records = []
    for name, diff_id in zip(selected.layer_members, diff_ids, strict=True):
        with source.open(name) as handle:
            kind = sniff(handle.read(4))
        if kind == "tar":  # stored as-is: the blob is the tar, its digest the DiffID (verified on write)
            records.append(LayerRecord(diff_id, DOCKER_LAYER_TAR, source.size(name), diff_id))
            continue
        digest = hashlib.sha256()
        with source.open(name) as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
        media = DOCKER_LAYER_GZIP if kind == "gzip" else OCI_LAYER_ZSTD
        records.append(LayerRecord("sha256:" + digest.hexdigest(), media, source.size(name), diff_id))
    return records


def _docker_manifest(selected: _Selected, layers: list[LayerRecord]) -> bytes:
    doc = {"schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
           "config": {"mediaType": DOCKER_CONFIG, "size": len(selected.config), "digest": selected.config_digest},
           "layers": [{"mediaType": layer.media_type, "size": layer.size, "digest": layer.digest} for layer in layers]}
    return json.dumps(doc, indent=3).encode()


def _opener(source: _Source, members: dict[LayerRecord, str]):  # type: ignore[no-untyped-def]
    @contextlib.contextmanager
    def open_blob(layer: LayerRecord) -> Iterator[BinaryIO]:
        with source.open(members[layer]) as handle:
            yield handle

    return open_blob


# -- writing ------------------------------------------------------------------
def archive_matches(path: Path, record: ImageRecord, fmt: str, ref: Reference) -> bool:
    """Whether ``path`` already holds exactly this image under this name."""
    if not Path(path).is_file():
        return False
    try:
        with _opened(path) as source:
            if fmt == "docker":
                if not source.has("manifest.json") or source.has("index.json"):
                    return False
                entries = json.loads(source.read("manifest.json", MAX_MANIFEST_BYTES))
                return (len(entries) == 1 and entries[0].get("Config") == f"{digest_hex(record.id)}.json"
                        and entries[0].get("RepoTags") == _repo_tags(record, ref))
            index = json.loads(source.read("index.json", MAX_MANIFEST_BYTES))
            manifests = index.get("manifests") or []
            return (len(manifests) == 1 and manifests[0].get("digest") == record.manifest_digest
                    and manifests[0].get("annotations") == _oci_annotations(ref))
    except (BaseException, ValueError):  # an unreadable file is simply not a match
        return False


def save_archive(store: ImageStore, record: ImageRecord, path: Path, fmt: str, ref: Reference) -> None:
    """``record`` (named ``ref``) as a docker-archive or an OCI archive at ``path``, atomically."""
    if fmt == "docker":
        save_images(store, [(record, ref)], path, field="archive_path")
        return
    with _atomic_tar(Path(path), "archive_path") as tar:
        _OciWriter(store, tar).write(record, ref)


def save_images(store: ImageStore, chosen: list[tuple[ImageRecord, Reference]], path: Path, *,
                field: str = "--output") -> None:
    """Several images (each with the name asked for) in one docker-archive whose manifest.json lists each
    and which holds the layers they share once (``docker save a b``), atomically."""
    with _atomic_tar(Path(path), field) as tar:
        writer = _DockerWriter(store, tar, Path(path).parent)
        for record, ref in chosen:
            writer.write(record, ref)
        writer.finish()


@contextlib.contextmanager
def _atomic_tar(path: Path, field: str) -> Iterator[tarfile.TarFile]:
    """A tar written to a temporary file beside ``path`` and renamed over it once complete (removed on failure)."""
    if not path.parent.is_dir():
        raise NotFound(f"directory {path.parent} does not exist", field=field,
                       hint="create it first, or choose another path")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            yield tar
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _repo_tags(record: ImageRecord, ref: Reference) -> list[str]:
    if ref.tag:
        return [ref.familiar]
    return sorted(parse_reference(tag).familiar for tag in record.repo_tags)


def _oci_annotations(ref: Reference) -> dict[str, str]:
    return {REF_NAME: ref.tag or "latest", CONTAINERD_NAME: ref.tagged}


def _entry(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode, info.uid, info.gid = size, 0, 0o644, 0, 0
    return info


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    tar.addfile(_entry(name, len(data)), io.BytesIO(data))


class _OciWriter:
    def __init__(self, store: ImageStore, tar: tarfile.TarFile) -> None:
        self.store, self.tar = store, tar

    def write(self, record: ImageRecord, ref: Reference) -> None:
        blobs = self.store.engine.blobs
        manifest = blobs.read_bytes(record.manifest_digest)
        _add_bytes(self.tar, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        desc = {"mediaType": record.manifest_media_type, "digest": record.manifest_digest, "size": len(manifest),
                "annotations": _oci_annotations(ref)}
        _add_bytes(self.tar, "index.json", json.dumps({"schemaVersion": 2, "manifests": [desc]}).encode())
        written: set[str] = set()
        for digest in (record.manifest_digest, record.id, *(layer.digest for layer in record.layers)):
            if digest in written:
                continue
            written.add(digest)
            with blobs.open(digest) as handle:
                self.tar.addfile(_entry(_member(digest), blobs.size(digest)), handle)


class _DockerWriter:
    """docker-archive: uncompressed ``<diffid>.tar`` layers, as docker load expects; each config and layer
    once however many of the images written share it, then one manifest.json and repositories (``finish``)."""

    def __init__(self, store: ImageStore, tar: tarfile.TarFile, scratch: Path) -> None:
        self.store, self.tar, self.scratch = store, tar, scratch
        self.written: set[str] = set()
        self.manifest: list[dict[str, object]] = []
        self.repositories: dict[str, dict[str, str]] = {}

    def write(self, record: ImageRecord, ref: Reference) -> None:
        config_name = f"{digest_hex(record.id)}.json"
        if config_name not in self.written:
            _add_bytes(self.tar, config_name, self.store.engine.blobs.read_bytes(record.id))
            self.written.add(config_name)
        names = [f"{digest_hex(layer.diff_id)}.tar" for layer in record.layers]
        for layer, name in zip(record.layers, names, strict=True):
            if name not in self.written:
                self._add_layer(layer, name)
                self.written.add(name)
        tags = _repo_tags(record, ref)
        self.manifest.append({"Config": config_name, "RepoTags": tags, "Layers": names})
        for tag in tags:
            name, _sep, version = tag.rpartition(":")
            self.repositories.setdefault(name, {})[version] = digest_hex(record.layers[-1].diff_id) if names else ""

    def finish(self) -> None:
        _add_bytes(self.tar, "manifest.json", json.dumps(self.manifest).encode())
        _add_bytes(self.tar, "repositories", json.dumps(self.repositories, sort_keys=True).encode())

    def _add_layer(self, layer: LayerRecord, name: str) -> None:
        blobs = self.store.engine.blobs
        with blobs.open(layer.digest) as compressed, tempfile.TemporaryFile(dir=self.scratch) as plain:
            reader = open_decompressed(compressed, layer.media_type)
            while chunk := reader.read(CHUNK):
                plain.write(chunk)
            size = plain.tell()
            plain.seek(0)
            self.tar.addfile(_entry(name, size), plain)
