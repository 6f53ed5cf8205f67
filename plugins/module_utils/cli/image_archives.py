"""``berth save``, ``load``, ``import`` (and ``image save|load|import``):
images to and from files, as Docker's CLI.

``save`` writes a docker-archive (image/archive.py) of one or several
images, to ``-o FILE`` or to stdout when that is not a terminal; ``load``
reads one from ``-i FILE`` or stdin (docker-archive, OCI archive) and tags
every image it names; ``import`` makes a one-layer image of a rootfs
tarball (a file, or ``-`` for stdin; image/rootfs_import.py) with Docker's
``--change`` instructions applied.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..engine import Engine
from ..errors import InvalidInput
from ..image.records import ImageRecord
from ..image.reference import Reference, parse_reference
from ..image.store import ImageStore
from .base import Commands


def _add_save(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="+", metavar="IMAGE")
    parser.add_argument("-o", "--output", help="the file to write (default: stdout, when it is not a terminal)")


def _add_load(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-i", "--input", help="the archive to read (default: stdin)")
    parser.add_argument("-q", "--quiet", action="store_true", help="accepted for docker's sake (no progress)")


def _add_import(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="file|-", help="a rootfs tarball (tar, tar.gz, tar.zst), or - for stdin")
    parser.add_argument("repository", nargs="?", metavar="REPOSITORY[:TAG]")
    parser.add_argument("-c", "--change", action="append", default=[],
                        help="a Dockerfile instruction (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR)")
    parser.add_argument("-m", "--message", help="the commit message (the history entry's comment)")
    parser.add_argument("--platform", help="accepted for docker's sake: the host's platform is used")


VERBS = (
    ("save", (), ("save",), "write images to a docker-archive", _add_save),
    ("load", (), ("load",), "load images from a docker-archive or OCI archive", _add_load),
    ("import", (), ("import",), "make an image from a rootfs tarball", _add_import),
)


# -- save -------------------------------------------------------------------------

def save(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    store = ImageStore(engine)
    chosen = [(store.resolve(name), _save_ref(store, name)) for name in args.names]
    if args.output:
        _write_archive(store, chosen, Path(args.output))
        return {"_rc": 0}
    if sys.stdout.isatty():
        raise InvalidInput("refusing to write an archive to a terminal", field="--output",
                           hint="pass -o FILE or redirect stdout")
    import shutil  # here, not at the top: `berth images` imports this file too

    with _scratch_file(engine, "save-") as path:
        _write_archive(store, chosen, path)
        with path.open("rb") as archive:
            sys.stdout.flush()
            shutil.copyfileobj(archive, sys.stdout.buffer)
    sys.stdout.flush()
    return {"_rc": 0}


def _save_ref(store: ImageStore, name: str) -> Reference:
    """The name the archive gives the image: the one asked for, or all its tags when asked by ID."""
    record = store.resolve(name)
    bare = name.removeprefix("sha256:")
    if len(bare) >= 4 and record.id.split(":", 1)[1].startswith(bare):
        return Reference("docker.io", "library/untagged")   # no tag: archive.py writes the record's own tags
    return parse_reference(name, field="IMAGE")


def _write_archive(store: ImageStore, chosen: list[tuple[ImageRecord, Reference]], path: Path) -> None:
    from ..image.archive import save_images

    save_images(store, chosen, path)


@contextlib.contextmanager
def _scratch_file(engine: Engine, prefix: str) -> Iterator[Path]:
    import shutil
    import tempfile

    engine.layout.tmp.mkdir(parents=True, exist_ok=True)
    directory = Path(tempfile.mkdtemp(prefix=prefix, dir=engine.layout.tmp))
    try:
        yield directory / "archive.tar"
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@contextlib.contextmanager
def _input_file(engine: Engine, given: str | None, flag: str) -> Iterator[Path]:
    """The file given, or stdin copied to a scratch file (archives are read with random access)."""
    if given and given != "-":
        yield Path(given)
        return
    if sys.stdin.isatty():
        raise InvalidInput("no input: stdin is a terminal", field=flag, hint=f"pass {flag} FILE or pipe the file in")
    import shutil

    with _scratch_file(engine, "stdin-") as path:
        with path.open("wb") as out:
            shutil.copyfileobj(sys.stdin.buffer, out)
        yield path


# -- load -------------------------------------------------------------------------

def load(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    from ..image.archive import load_archive

    store = ImageStore(engine)
    loaded: list[str] = []
    with _input_file(engine, args.input, "--input") as path:
        for names in _archive_images(path):
            if not names:   # an untagged image: any reference selects the archive's only one
                record = load_archive(store, path, parse_reference("untagged", default_tag=False))
                loaded.append(f"Loaded image ID: {record.id}")
                continue
            refs = [parse_reference(name, field="--input") for name in names]
            record = load_archive(store, path, refs[0])
            for ref in refs[1:]:
                store.save(record, ref)
            loaded += [f"Loaded image: {ref.familiar}" for ref in refs]
    if args.json:
        sys.stdout.write(json.dumps({"loaded": loaded}, sort_keys=True) + "\n")
    else:
        sys.stdout.write("".join(f"{line}\n" for line in loaded))
    return {"_rc": 0}


def _archive_images(path: Path) -> list[list[str]]:
    """The names of each image in the archive (an empty list for an untagged one)."""
    from ..image import archive
    from ..registry.limits import MAX_MANIFEST_BYTES

    with archive._opened(path) as source:   # the reader archive.load_archive itself uses
        if source.has("manifest.json"):
            entries = json.loads(source.read("manifest.json", MAX_MANIFEST_BYTES))
            images = [list(e.get("RepoTags") or []) for e in entries if isinstance(e, dict)]
        elif source.has("index.json"):
            index = json.loads(source.read("index.json", MAX_MANIFEST_BYTES))
            images = [_oci_names(m.get("annotations") or {}) for m in index.get("manifests") or []]
        else:
            raise InvalidInput(f"{path} is neither a docker-archive nor an OCI archive", field="--input",
                               hint="give a file written by docker/podman/berth save or skopeo copy")
    if sum(1 for names in images if not names) > 1 or (not all(images) and len(images) > 1):
        raise InvalidInput(f"{path} holds several images and some have no name", field="--input",
                           hint="load an archive whose images are all tagged, or one image")
    return images


def _oci_names(annotations: dict[str, str]) -> list[str]:
    from ..image.archive import CONTAINERD_NAME

    name = annotations.get(CONTAINERD_NAME)
    return [name] if name else []


# -- import -----------------------------------------------------------------------

@dataclass(frozen=True)
class ImportChanges:
    """image/rootfs_import.ImportConfig from ``--change`` lines (and ``-m``)."""

    cmd: list[str] | None = None
    entrypoint: list[str] | None = None
    env: dict[str, str] = field(default_factory=dict)
    working_dir: str | None = None
    user: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    exposed_ports: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    message: str | None = None


def import_changes(changes: list[str], message: str | None) -> ImportChanges:
    """``--change`` lines parsed as ``docker commit --change`` parses them (build/commit.py)."""
    from ..build.commit import apply_changes

    doc: dict[str, Any] = {"config": {}}
    try:
        apply_changes(doc, changes)
    except InvalidInput as err:
        raise InvalidInput(err.message, field="--change", hint=err.hint) from None
    config = doc["config"]
    env = dict(item.partition("=")[::2] for item in config.get("Env") or [])
    return ImportChanges(cmd=config.get("Cmd"), entrypoint=config.get("Entrypoint"), env=env,
                         working_dir=config.get("WorkingDir"), user=config.get("User") or None,
                         labels=dict(config.get("Labels") or {}), exposed_ports=list(config.get("ExposedPorts") or {}),
                         volumes=list(config.get("Volumes") or {}), message=message)


def import_image(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    from ..image.rootfs_import import import_rootfs

    changes = import_changes(args.change, args.message)
    ref = (parse_reference(args.repository, field="REPOSITORY") if args.repository
           else parse_reference("untagged", default_tag=False))
    if ref.digest:
        raise InvalidInput(f"cannot import to a digest ({args.repository!r})", field="REPOSITORY",
                           hint="give REPOSITORY[:TAG]")
    with _input_file(engine, args.file, "file") as path:
        record = import_rootfs(ImageStore(engine), path, changes, ref)
    if args.json:
        return {"id": record.id, "tags": [ref.familiar] if args.repository else []}
    sys.stdout.write(f"{record.id}\n")
    return {"_rc": 0}


COMMANDS: Commands = {
    **{key: (save, False) for key in ("image save", "save")},
    **{key: (load, True) for key in ("image load", "load")},
    **{key: (import_image, True) for key in ("image import", "import")},
}
