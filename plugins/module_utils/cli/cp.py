"""`berth cp [-a] [-L] SRC DEST`: Docker's copy between a container and the
host, one side ``CONTAINER:PATH``, the other a host path or ``-`` (a tar
on stdin or stdout). The rules are the engine's (containers/copying.py)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..engine import Engine
from ..errors import InvalidInput

DESCRIPTION = (
    "Copy between a container (running: what its processes see, volumes included; created or stopped: its "
    "layers) and the host, as docker cp. One side is CONTAINER:PATH, resolved inside the container (no symlink "
    "leads out). A file onto a missing path gets that name, onto a file replaces it, into a directory keeps its "
    "name; a directory onto a missing path becomes it, into a directory keeps its name, and SRC ending in '/.' "
    "merges its contents. DEST ending in '/' must be a directory; DEST's parent must exist. '-' as SRC extracts a "
    "tar from stdin into the directory DEST; '-' as DEST writes SRC as a tar to stdout. Files copied in belong to "
    "root, copied out to you, unless -a keeps their owners.")
USAGE_HINT = "berth cp [-a] [-L] CONTAINER:PATH HOSTPATH|-  or  berth cp [-a] [-L] HOSTPATH|- CONTAINER:PATH"


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("cp", parents=[common], help="copy files between a container and the host",
                            description=DESCRIPTION)
    parser.add_argument("-a", "--archive", action="store_true", help="keep uid/gid (default: root in, you out)")
    parser.add_argument("-L", "--follow-link", action="store_true", help="copy what a symlink SRC names")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing (the default when not --json)")
    parser.add_argument("source", metavar="SRC")
    parser.add_argument("destination", metavar="DEST")


def split_container_path(argument: str) -> tuple[str, str] | None:
    """``(container, path)`` of ``CONTAINER:PATH``; None for a host path. As
    Docker reads it: a path starting with '/' or '.' is the host's even with a
    colon in it, so ``./a:b`` names a host file."""
    if argument.startswith(("/", ".")) or ":" not in argument:
        return None
    container, _sep, path = argument.partition(":")
    if not container:
        raise InvalidInput(f"{argument!r} names no container", field="source", hint=USAGE_HINT)
    return container, path or "/"


def cp(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    from ..containers.copying import copy_in, copy_out

    source, dest = split_container_path(args.source), split_container_path(args.destination)
    if source and dest:
        raise InvalidInput("copying between containers is not supported", field="source",
                           hint="copy out to the host, then in: " + USAGE_HINT)
    if not source and not dest:
        raise InvalidInput("one of SRC and DEST must be CONTAINER:PATH", field="destination", hint=USAGE_HINT)
    options = {"archive": args.archive, "follow_link": args.follow_link}
    if dest:
        container, path = dest
        stream = sys.stdin.buffer if args.source == "-" else None
        done = copy_in(engine, container, stream or args.source, path, **options)
    else:
        container, path = source or ("", "")
        if args.destination == "-":
            copy_out(engine, container, path, sys.stdout.buffer, **options)
            sys.stdout.buffer.flush()
            return {"_rc": 0}   # stdout is the tar: nothing else may be printed on it
        done = copy_out(engine, container, path, args.destination, **options)
    if not args.json:
        return {"_rc": 0}   # as docker cp: quiet on success
    return done


COMMANDS = {"cp": (cp, False)}
