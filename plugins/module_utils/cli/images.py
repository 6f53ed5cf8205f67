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
    history = sub.add_parser("history", parents=[common], help="the history of an image")
    history.add_argument("image")
    history.add_argument("--no-trunc", action="store_true")


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
    store = ImageStore(engine)
    record = store.resolve(args.image)
    config = json.loads(engine.blobs.read_bytes(record.id))
    from ..image.info import history_rows

    entries = history_rows(record, config)
    if args.json:
        return {"history": entries}
    width = 0 if args.no_trunc else 45
    sys.stdout.write(f"{'IMAGE':<14}{'CREATED':<22}{'CREATED BY':<47}{'SIZE':>10}  COMMENT\n")
    for entry in entries:
        created_by = entry["created_by"]
        if width and len(created_by) > width:
            created_by = created_by[: width - 3] + "..."
        image = entry["id"][7:19] if entry["id"].startswith("sha256:") else entry["id"]
        sys.stdout.write(f"{image:<14}{(entry['created'] or '')[:19]:<22}{created_by:<47}"
                         f"{_size(entry['size']):>10}  {entry['comment']}\n")
    return {"_rc": 0}


def _size(size: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000:
            return f"{size:.3g}{unit}" if unit != "B" else f"{size}B"
        size /= 1000   # type: ignore[assignment]
    return f"{size:.3g}TB"


COMMANDS = {"build": (build, True), "commit": (commit, True), "history": (history, False)}


def main(argv: list[str]) -> int:
    """``berth build|commit|history`` without the other verbs' parsers and imports (bin/berth's image lane)."""
    from .base import global_parser, run

    parser, sub, common = global_parser()
    add_parsers(sub, common)
    return run(parser, COMMANDS, argv)
