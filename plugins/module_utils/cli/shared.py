"""What the network, volume and system verbs share.

``-f/--filter KEY=VALUE`` as Docker's listing verbs take it: each key may
repeat (any of its values matches), different keys must all match. Keys a
verb does not know are refused naming the flag, as Docker refuses them."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..errors import BerthError, InvalidInput

Matcher = Callable[[Any, str], bool]   # (the object, one filter value) -> whether it matches


def add_filter_flag(parser: argparse.ArgumentParser, keys: Sequence[str], *, short: bool = True) -> None:
    """``-f/--filter`` (prune verbs: ``--filter`` only, their ``-f`` is ``--force``)."""
    flags = ("-f", "--filter") if short else ("--filter",)
    parser.add_argument(*flags, dest="filter", action="append", default=[], metavar="KEY=VALUE",
                        help=f"filter the list ({', '.join(keys)})")


def parse_filters(items: Sequence[str], known: Sequence[str]) -> dict[str, list[str]]:
    """``["name=a", "name=b", "label=x"]`` → ``{"name": ["a", "b"], "label": ["x"]}``."""
    parsed: dict[str, list[str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInput(f"{item!r} is not KEY=VALUE", field="--filter", hint="e.g. --filter name=web")
        if key not in known:
            raise InvalidInput(f"invalid filter {key!r}", field="--filter", hint=f"use one of {', '.join(known)}")
        parsed.setdefault(key, []).append(value)
    return parsed


def select(objects: Sequence[Any], filters: Mapping[str, list[str]], matchers: Mapping[str, Matcher]) -> list[Any]:
    """The objects every filter key matches (one of the key's values suffices)."""
    return [obj for obj in objects
            if all(any(matchers[key](obj, value) for value in values) for key, values in filters.items())]


def label_matches(labels: Mapping[str, str] | None, wanted: str) -> bool:
    """Docker's ``label=KEY`` (present) or ``label=KEY=VALUE`` (equal)."""
    key, sep, value = wanted.partition("=")
    labels = labels or {}
    return key in labels and (not sep or labels[key] == value)


def labels_text(labels: Mapping[str, str] | None) -> str:
    """The ``Labels`` field of a listing row: ``k=v,k2=v2`` as Docker prints it."""
    return ",".join(f"{k}={v}" for k, v in sorted((labels or {}).items()))


def pairs(items: Sequence[str], flag: str, example: str) -> dict[str, str]:
    """Repeated ``KEY=VALUE`` flags (``--label``, ``--opt``) as a dict."""
    found: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not key:
            raise InvalidInput(f"{item!r} is not KEY=VALUE", field=flag, hint=f"e.g. {flag} {example}")
        found[key] = value if sep else ""
    return found


def confirm(args: argparse.Namespace, warning: str) -> bool:
    """Docker's prune prompt: ``-f`` skips it; otherwise a line from stdin, yes only on y/yes."""
    if getattr(args, "force", False):
        return True
    sys.stdout.write(f"WARNING! {warning}\nAre you sure you want to continue? [y/N] ")
    sys.stdout.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def each(args: argparse.Namespace, refs: Sequence[str], act: Callable[[str], str]) -> dict[str, Any]:
    """Docker's multi-object verbs: act on every one, print each as it is done, report each failure, exit 1
    if any failed (with the global --json: one document listing those done)."""
    done, failed = [], False
    as_json = getattr(args, "json", False)
    for ref in refs:
        try:
            done.append(act(ref))
        except BerthError as err:
            sys.stderr.write(f"berth: {err.kind}: {err}\n")
            failed = True
            continue
        if not as_json:
            sys.stdout.write(done[-1] + "\n")
            sys.stdout.flush()
    if as_json:
        say(args, "", {"removed": done})
    return {"_rc": 1 if failed else 0}


def say(args: argparse.Namespace, text: str, document: dict[str, Any]) -> dict[str, Any]:
    """A writing verb's output: Docker's text, or one JSON document with the global --json."""
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps(document, sort_keys=True) + "\n")
    elif text:
        sys.stdout.write(text + "\n")
    return {"_rc": 0}
