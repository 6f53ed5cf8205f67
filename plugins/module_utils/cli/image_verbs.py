"""``berth image ls|rm|tag|inspect|prune|history`` (and ``images``, ``rmi``,
``tag``): Docker's image verbs over the image store, printed through
output.py. The transfer verbs (pull, push, save, load, import, login,
logout) are in image_transfer.py; this file registers both.

``images`` reads the image records only (no blob, no config): listing 200
images stays one directory read. Sizes are the stored (compressed) layer
bytes, the only size a record holds.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
from collections.abc import Callable
from typing import Any

from ..engine import Engine
from ..errors import BerthError, Conflict, NotFound
from ..image.records import ImageRecord
from ..image.reference import parse_reference
from ..image.store import ImageStore
from . import image_archives, image_transfer, images
from .base import Commands, add_group
from .output import Column, Row, add_list_flags, emit_documents, emit_rows, human_size, short_id, since
from .shared import add_filter_flag, confirm, label_matches, parse_filters, select

NONE = "<none>"
LS_FILTERS = ("dangling", "reference", "label", "before", "since")
LS_COLUMNS = (Column("REPOSITORY", "Repository"), Column("TAG", "Tag"), Column("IMAGE ID", "ID"),
              Column("CREATED", "CreatedSince"), Column("SIZE", "Size"))
DIGEST_COLUMNS = (*LS_COLUMNS[:2], Column("DIGEST", "Digest"), *LS_COLUMNS[2:])
PRUNE_FILTERS = ("until", "label")
GROUP_HELP = "images: ls, rm, tag, pull, push, save, load, import, history, inspect, prune"

AddArguments = Callable[[argparse.ArgumentParser], None]


def _add_ls(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("reference", nargs="?", help="REPOSITORY[:TAG] (wildcards allowed) to list only those")
    parser.add_argument("-a", "--all", action="store_true", help="also the intermediate images of builds")
    parser.add_argument("--digests", action="store_true", help="show the digests")
    add_list_flags(parser)
    add_filter_flag(parser, LS_FILTERS)


def _add_rm(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="+", metavar="IMAGE", help="name[:tag], name@digest, or (short) ID")
    parser.add_argument("-f", "--force", action="store_true",
                        help="delete even when containers use the image or it has several tags")
    parser.add_argument("--no-prune", action="store_true", help="accepted for docker's sake (layers are shared)")


def _add_tag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SOURCE_IMAGE", help="name[:tag] or ID")
    parser.add_argument("target", metavar="TARGET_IMAGE", help="name[:tag]")


def _add_inspect(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="+", metavar="IMAGE")
    parser.add_argument("-f", "--format", help="a Go template, e.g. '{{.Id}}'")


def _add_prune(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-a", "--all", action="store_true", help="every image no container uses, not only dangling")
    parser.add_argument("-f", "--force", action="store_true", help="do not ask")
    add_filter_flag(parser, PRUNE_FILTERS, short=False)


def _add_history(parser: argparse.ArgumentParser) -> None:
    images.add_history_arguments(parser)


# (verb in the image group, its aliases there, top-level aliases, help, arguments)
VERBS: tuple[tuple[str, tuple[str, ...], tuple[str, ...], str, AddArguments], ...] = (
    ("ls", ("list",), ("images",), "list images", _add_ls),
    ("rm", ("remove",), ("rmi",), "untag or delete images", _add_rm),
    ("tag", (), ("tag",), "give an image another name", _add_tag),
    ("inspect", (), (), "images as Docker shows them (JSON)", _add_inspect),
    ("prune", (), (), "remove dangling (-a: all unused) images", _add_prune),
    ("history", (), (), "the history of an image", _add_history),
)


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    group = add_group(sub, common, "image", GROUP_HELP)
    for verb, aliases, top, text, add_arguments in (*VERBS, *image_transfer.VERBS, *image_archives.VERBS):
        add_arguments(group.add_parser(verb, aliases=list(aliases), parents=[common], help=text))
        for name in top:
            add_arguments(sub.add_parser(name, parents=[common], help=text))
    image_transfer.add_top_level(sub, common)


# -- ls ---------------------------------------------------------------------------

def ls(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    store = ImageStore(engine)
    filters = parse_filters(args.filter, LS_FILTERS)
    records = store.list()
    if not args.all:   # a build's untagged step images are its cache, hidden as docker hides intermediates
        records = [r for r in records if r.repo_tags or r.source != "build"]
    records = _filtered(store, records, filters)
    records.sort(key=lambda r: (r.created or "", r.id), reverse=True)
    rows = [row for record in records for row in image_rows(record, no_trunc=args.no_trunc)]
    if args.reference:
        rows = [row for row in rows if _reference_matches(row, args.reference)]
    if args.quiet:   # one ID a line, each image once
        rows = list({row["ID"]: row for row in rows}.values())
    return emit_rows(rows, DIGEST_COLUMNS if args.digests else LS_COLUMNS, args)


def image_rows(record: ImageRecord, *, no_trunc: bool = False) -> list[Row]:
    """``docker images --format '{{json .}}'`` rows: one per tag (untagged: ``<none>``)."""
    size = human_size(sum(layer.size for layer in record.layers))
    common = {"ID": short_id(record.id, no_trunc), "CreatedAt": _created_at(record.created),
              "CreatedSince": since(images.parse_created(record.created)) or "N/A", "Size": size, "VirtualSize": size,
              "SharedSize": "N/A", "UniqueSize": "N/A", "Containers": "N/A"}
    digests = {name: digest for name, _at, digest in (d.partition("@") for d in record.repo_digests)}
    rows = []
    for tagged in sorted(record.repo_tags):
        name, _colon, tag_name = tagged.rpartition(":")   # stored tags are always name:tag
        rows.append({**common, "Repository": familiar_name(name), "Tag": tag_name,
                     "Digest": digests.get(name, NONE)})
    if not rows:   # dangling: docker still shows the repository a digest names
        for name, digest in sorted(digests.items()) or [(NONE, NONE)]:
            rows.append({**common, "Repository": familiar_name(name), "Tag": NONE, "Digest": digest})
    return rows


def familiar_name(name: str) -> str:
    """A stored, fully qualified repository name in Docker's short form (Reference.familiar's rule,
    without parsing: ``images`` does this for every tag)."""
    if name.startswith("docker.io/"):
        return name[len("docker.io/"):].removeprefix("library/")
    return name


def _reference_matches(row: Row, pattern: str) -> bool:
    """``docker images busybox`` / ``busybox:1.*``: the familiar name (or full) as a shell pattern."""
    repository, _colon, tag = pattern.rpartition(":") if ":" in pattern.rsplit("/", 1)[-1] else (pattern, "", "")
    if row["Repository"] == NONE:
        return False
    full = parse_reference(row["Repository"], default_tag=False).name
    return ((fnmatch.fnmatchcase(row["Repository"], repository) or fnmatch.fnmatchcase(full, repository))
            and (not tag or fnmatch.fnmatchcase(row["Tag"], tag)))


def _filtered(store: ImageStore, records: list[ImageRecord], filters: dict[str, list[str]]) -> list[ImageRecord]:
    boundaries = {key: [store.resolve(v) for v in filters.get(key, [])] for key in ("before", "since")}
    matchers = {
        "dangling": lambda r, v: (not r.repo_tags) == (v.lower() in ("true", "1")),
        "reference": lambda r, v: any(_reference_matches(row, v) for row in image_rows(r)),
        "label": lambda r, v: label_matches(_config(store, r).get("config", {}).get("Labels"), v),
        "before": lambda r, v: any((r.created or "") < (b.created or "") for b in boundaries["before"]),
        "since": lambda r, v: any((r.created or "") > (b.created or "") for b in boundaries["since"]),
    }
    return select(records, filters, matchers)


def _config(store: ImageStore, record: ImageRecord) -> dict[str, Any]:
    try:
        return json.loads(store.engine.blobs.read_bytes(record.id))
    except (NotFound, ValueError):
        return {}


def _created_at(created: str | None) -> str:
    """Docker's ``CreatedAt``: ``2024-05-01 10:00:00 +0000 UTC``."""
    import datetime

    stamp = images.parse_created(created)
    if stamp is None:
        return ""
    return datetime.datetime.fromtimestamp(stamp, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S +0000 UTC")


# -- rm, tag ----------------------------------------------------------------------

def rm(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    store = ImageStore(engine)
    lines: list[str] = []
    failed = False
    for name in args.names:
        try:
            lines += _remove_one(store, name, force=args.force)
        except BerthError as err:
            sys.stderr.write(f"berth: {err.kind}: {err}\n")
            failed = True
    if args.json:
        sys.stdout.write(json.dumps({"actions": lines}, sort_keys=True) + "\n")
    else:
        sys.stdout.write("".join(f"{line}\n" for line in lines))
    return {"_rc": 1 if failed else 0}


def _remove_one(store: ImageStore, name: str, *, force: bool) -> list[str]:
    """Docker's rmi: a tag of an image with other tags is only untagged; an ID
    (or name@digest) of an image with several tags needs -f; a container using it refuses."""
    record = store.resolve(name)
    by_id = _names_id(name, record) or "@" in name   # a digest names the image, not one of its tags
    if by_id and len(record.repo_tags) > 1 and not force:
        raise Conflict(f"unable to delete {short_id(record.id)}: it is referenced by several tags "
                       f"({', '.join(sorted(parse_reference(t).familiar for t in record.repo_tags))})",
                       field="IMAGE", hint="remove it by name, or pass -f to delete every tag")
    if not by_id and len(record.repo_tags) <= 1 and not force:
        store.refuse_in_use(record.id, field="IMAGE", hint="remove the containers first, or pass -f")
    actions = store.remove(name if not by_id else record.id, force=force)
    return [_action_line(action) for action in actions]


def _names_id(name: str, record: ImageRecord) -> bool:
    bare = name.removeprefix("sha256:")
    return len(bare) >= 4 and record.id.split(":", 1)[1].startswith(bare)


def _action_line(action: str, *, prune: bool = False) -> str:
    """The store's "untagged: x" / "deleted: id" as docker prints them (capitalised by rmi, not by prune)."""
    kind, _sep, subject = action.partition(": ")
    if kind == "untagged":
        subject = parse_reference(subject).familiar
    return f"{kind if prune else kind.capitalize()}: {subject}"


def tag(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    changed = ImageStore(engine).tag(args.source, args.target)
    if args.json:
        return {"changed": changed, "tag": parse_reference(args.target).familiar}
    return {"_rc": 0}


# -- inspect ----------------------------------------------------------------------

def inspect(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    store = ImageStore(engine)
    documents, missing = [], []
    for name in args.names:
        record = store.find(name)
        if record is None:
            missing.append(name)
        else:
            documents.append(inspect_document(store, record))
    emit_documents(documents, args)
    for name in missing:
        sys.stderr.write(f"berth: not_found: no such image: {name}\n")
    return {"_rc": 1 if missing else 0}


def inspect_document(store: ImageStore, record: ImageRecord) -> dict[str, Any]:
    """``docker image inspect``'s shape, where it is cheap (one config read)."""
    config = _config(store, record)
    history = config.get("history") or []
    return {
        "Id": record.id,
        "RepoTags": sorted(parse_reference(t).familiar for t in record.repo_tags),
        "RepoDigests": sorted(_familiar_digest(d) for d in record.repo_digests),
        "Parent": "",
        "Comment": (history[-1].get("comment", "") if history else ""),
        "Created": record.created or "",
        "Author": config.get("author", ""),
        "Config": config.get("config", {}),
        "Architecture": record.architecture,
        "Variant": record.variant,
        "Os": record.os,
        "Size": sum(layer.size for layer in record.layers),
        "RootFS": {"Type": "layers", "Layers": [layer.diff_id for layer in record.layers]},
        "Metadata": {"LastTagTime": ""},
        "Descriptor": {"mediaType": record.manifest_media_type, "digest": record.manifest_digest},
    }


def _familiar_digest(text: str) -> str:
    name, _at, digest = text.partition("@")
    return f"{parse_reference(name, default_tag=False).familiar}@{digest}"


# -- prune ------------------------------------------------------------------------

def prune(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    from ansible_collections.berth.engine.plugins.module_utils.ansible.prune_plan import PruneImage, plan_image_prune

    filters = parse_filters(args.filter, PRUNE_FILTERS)
    warning = ("This will remove all images without at least one container associated to them." if args.all
               else "This will remove all dangling images.")
    if not args.json and not confirm(args, warning):
        return {"_rc": 0}
    store = ImageStore(engine)
    steps = plan_image_prune(engine, dangling_only=not args.all)
    kept = {s.image_id for s in steps if isinstance(s, PruneImage) and not _prune_matches(store, s.image_id, filters)}
    lines: list[str] = []
    reclaimed = 0
    for step in steps:
        if isinstance(step, PruneImage):
            if step.image_id in kept:
                continue
            reclaimed += step.size
            lines += [_action_line(a, prune=True) for a in step.execute(engine)]
        else:
            step.execute(engine)
    if args.json:
        return {"deleted": lines, "reclaimed": reclaimed}
    text = ("Deleted Images:\n" + "".join(f"{line}\n" for line in lines) + "\n") if lines else ""
    sys.stdout.write(f"{text}Total reclaimed space: {human_size(reclaimed)}\n")
    return {"_rc": 0}


def _prune_matches(store: ImageStore, image_id: str, filters: dict[str, list[str]]) -> bool:
    import time

    record = store.get(image_id)
    for value in filters.get("label", []):
        negate = value.startswith("!")
        found = label_matches(_config(store, record).get("config", {}).get("Labels"), value.lstrip("!"))
        if found == negate:
            return False
    for value in filters.get("until", []):
        created = images.parse_created(record.created) or 0.0
        if created >= _until(value, time.time()):
            return False
    return True


def _until(value: str, now: float) -> float:
    """``until=24h`` / ``until=90m`` / a timestamp: the time before which images go."""
    from ..errors import InvalidInput

    units = {"s": 1, "m": 60, "h": 3600}
    if value[-1:] in units and value[:-1].replace(".", "", 1).isdigit():
        return now - float(value[:-1]) * units[value[-1]]
    if value.replace(".", "", 1).isdigit():
        return float(value)
    stamp = images.parse_created(value)
    if stamp is None:
        raise InvalidInput(f"until={value!r} is not a duration or a time", field="--filter",
                           hint="e.g. --filter until=24h or until=2024-05-01T00:00:00Z")
    return stamp


COMMANDS: Commands = {
    **{key: (ls, False) for key in ("image ls", "image list", "images")},
    **{key: (rm, False) for key in ("image rm", "image remove", "rmi")},
    **{key: (tag, False) for key in ("image tag", "tag")},
    "image inspect": (inspect, False),
    "image prune": (prune, False),
    "image history": (images.history, False),
    **image_transfer.COMMANDS,
    **image_archives.COMMANDS,
}
