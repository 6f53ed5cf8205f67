"""`berth build`, `berth commit`, `berth history`: Docker's verbs over the
same builder and planner the image module uses.

``build --check`` is check mode: the build predicted over a read-only view
(cache keys computed, nothing run), printing whether the image would change
and from which step.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..engine import Engine
from ..errors import InvalidInput
from ..image.reference import parse_reference
from ..image.store import ImageStore


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("build", parents=[common], help="build an image from a Dockerfile")
    parser.add_argument("path", help="the build context")
    parser.add_argument("-t", "--tag", action="append", default=[], help="name[:tag] for the image")
    parser.add_argument("-f", "--file", default="Dockerfile", help="the Dockerfile (relative to PATH)")
    parser.add_argument("--build-arg", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--target", help="the stage to build")
    parser.add_argument("--no-cache", action="store_true", help="run every step again")
    parser.add_argument("--pull", action="store_true", help="pull the base images again")
    parser.add_argument("--network", default="none", help="RUN's network: none, host or a berth network")
    parser.add_argument("--label", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--compression", default="gzip", choices=["gzip", "zstd"])
    parser.add_argument("-q", "--quiet", action="store_true", help="print only the image ID")
    parser.add_argument("--check", action="store_true", help="predict from the cache whether the image would change")
    commit = sub.add_parser("commit", parents=[common], help="make an image from a container's changes")
    commit.add_argument("container")
    commit.add_argument("name", nargs="?", help="name[:tag] for the image")
    commit.add_argument("-c", "--change", action="append", default=[], help="a Dockerfile instruction")
    commit.add_argument("-m", "--message", help="the commit message")
    commit.add_argument("-a", "--author", help="the author")
    commit.add_argument("-p", "--pause", default="true", choices=["true", "false"], type=str.lower,
                        help="pause the container while committing (default true)")
    add_history_arguments(sub.add_parser("history", parents=[common], help="the history of an image"))


def add_history_arguments(parser: argparse.ArgumentParser) -> None:
    """``history``'s flags (also ``image history``'s: cli/image_verbs.py)."""
    from .output import add_list_flags

    parser.add_argument("image")
    parser.add_argument("-H", "--human", default="true", choices=["true", "false"], type=str.lower,
                        help="sizes and dates in human form (default true)")
    add_list_flags(parser)


def _pairs(items: list[str], flag: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not key:
            raise InvalidInput(f"{item!r} is not KEY=VALUE", field=flag, hint=f"e.g. {flag} VERSION=1.4")
        if not sep:   # docker: --build-arg NAME takes the value from the environment
            import os

            if key not in os.environ:
                continue
            value = os.environ[key]
        pairs[key] = value
    return pairs


def build(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    from ..build.executor import build as run_build
    from ..build.model import BuildOptions

    tags = [parse_reference(t, field="--tag") for t in args.tag]
    options = BuildOptions(context=Path(args.path).resolve(), dockerfile=args.file,
                           args=_pairs(args.build_arg, "--build-arg"), target=args.target, nocache=args.no_cache,
                           pull=args.pull, network=args.network, labels=_pairs(args.label, "--label"),
                           compression=args.compression,
                           output=None if args.quiet or args.json or args.check else _stderr)
    store = ImageStore(engine)
    if args.check:
        predicted = run_build(engine.view(), options)
        current = [store.find(str(t)) for t in tags]
        same = predicted.image is not None and all(c is not None and c.id == predicted.image.id for c in current)
        return {**predicted.to_dict(), "changed": not same}
    result = run_build(engine, options)
    if result.image is None:   # pragma: no cover - a writable build ends on an image
        raise InvalidInput("the build made no image", field="build")
    before = {str(t): (store.find(str(t)).id if store.find(str(t)) else None) for t in tags}
    for tag in tags:
        store.save(result.image, tag)
    changed = any(old != result.image.id for old in before.values()) or not tags
    document = {**result.to_dict(), "changed": changed, "tags": [t.familiar for t in tags]}
    if args.json:
        return document
    for warning in result.warnings:
        sys.stderr.write(f"warning: {warning}\n")
    sys.stdout.write(result.image.id + "\n")
    return {"_rc": 0}


def _stderr(text: str) -> None:
    sys.stderr.write(text)
    sys.stderr.flush()


def commit(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    from ..build.commit import commit_container

    tag = parse_reference(args.name, field="name") if args.name else None
    record = commit_container(engine, args.container, changes=list(args.change), message=args.message,
                              author=args.author, pause=args.pause == "true", tag=tag)
    if args.json:
        return {"id": record.id, "tags": [tag.familiar] if tag else []}
    sys.stdout.write(record.id + "\n")
    return {"_rc": 0}


def history(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    from ..image.info import history_rows
    from .output import Column, emit_rows

    store = ImageStore(engine)
    record = store.resolve(args.image)
    config = json.loads(engine.blobs.read_bytes(record.id))
    entries = history_rows(record, config)
    if args.json and not args.format:
        return {"history": entries}   # the shape scripts read (kept)
    rows = [_history_row(entry, args) for entry in entries]
    columns = (Column("IMAGE", "ID"), Column("CREATED", "CreatedSince"), Column("CREATED BY", "CreatedBy"),
               Column("SIZE", "Size"), Column("COMMENT", "Comment"))
    return emit_rows(rows, columns, args)


def _history_row(entry: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """A row as ``docker history --format '{{json .}}'``: ID, CreatedSince, CreatedAt, CreatedBy, Size, Comment."""
    from .output import human_size, short_id, since, truncated

    human = args.human == "true"
    created = entry["created"] or ""
    identifier = entry["id"] if entry["id"] == "<missing>" else short_id(entry["id"], args.no_trunc)
    stamp = parse_created(created)
    return {"ID": identifier, "CreatedAt": created,
            "CreatedSince": (since(stamp) if human and stamp else created) or "N/A",
            "CreatedBy": truncated(entry["created_by"], 45, args.no_trunc),
            "Size": human_size(entry["size"]) if human else str(entry["size"]), "Comment": entry["comment"]}


def parse_created(created: str | None) -> float | None:
    """An image's ``created`` (RFC 3339, maybe with nanoseconds) as a Unix time; None when absent or unreadable."""
    import datetime
    import re

    if not created:
        return None
    text = re.sub(r"(\.\d{6})\d+", r"\1", created).replace("Z", "+00:00")   # Python reads microseconds, not nanos
    try:
        return datetime.datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


COMMANDS = {"build": (build, True), "commit": (commit, True), "history": (history, False)}
