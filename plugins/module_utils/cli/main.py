"""The ``berth`` operator CLI (bin/berth is only a launcher for this).

Each verb is a few lines over an engine call. Listing verbs print Docker's
tables (output.py); ``--json`` prints JSON for scripts. Engine errors print as
``berth: <kind>: <message>`` and exit 1 (125 for run/create); bad usage exits 2.

A verb's process imports and parses only its own file's verbs (``LANES``): a
``berth ps`` that built every verb's parser and imported every verb's module
spent ~150 ms before reading a record. No verb (``berth --help``) or an
unknown one builds them all, so help and usage errors list every verb.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

from ..engine import Engine
from .base import Commands, global_parser, render, run

__all__ = ["main", "parser", "render"]

# the CLI's verb files, in the order their parsers are added (container_verbs
# copies the container verbs' parsers into its `container` group: after them)
FILES = ("containers", "images", "volumes", "image_verbs", "container_verbs", "network_verbs", "system_verbs",
         "compose", "cp")
_CONTAINER_VERBS = ("ps", "inspect", "kill", "restart", "pause", "unpause", "rename", "wait", "top", "stats",
                    "port", "update", "container")
_IMAGE_VERBS = ("image", "images", "rmi", "tag", "pull", "push", "save", "load", "import", "login", "logout")
# verb: the files that define it (tests/unit/cli/test_lanes.py checks this against the full parser)
LANES: dict[str, tuple[str, ...]] = {
    **{verb: () for verb in ("info", "fsck", "recover")},
    **{verb: ("containers",) for verb in ("run", "create", "start", "stop", "rm", "logs", "exec", "export",
                                          "restore", "monitor")},
    **{verb: ("images",) for verb in ("build", "commit", "history")},
    **{verb: ("images", "image_verbs") for verb in _IMAGE_VERBS},
    **{verb: ("containers", "container_verbs") for verb in _CONTAINER_VERBS},
    "volume": ("volumes",), "network": ("network_verbs",), "system": ("system_verbs",), "compose": ("compose",),
    "cp": ("cp",),
}


def parser(verb: str | None = None) -> tuple[argparse.ArgumentParser, Commands]:
    """The parser and handlers for ``verb`` alone (all of them for None or an unknown verb)."""
    files = LANES.get(verb or "", FILES)
    top, sub, common = global_parser()
    info = sub.add_parser("info", parents=[common], help="host, kernel and store facts")
    info.add_argument("--disk-usage", action="store_true", help="measure unpacked layers on disk")
    sub.add_parser("fsck", parents=[common], help="re-hash every blob and report corrupt ones")
    sub.add_parser("recover", parents=[common], help="clean up after operations interrupted by a crash")
    commands: Commands = dict(BUILTIN)
    for name in FILES:
        if name in files:
            module = importlib.import_module(f"{__package__}.{name}")
            module.add_parsers(sub, common)
            commands.update(module.COMMANDS)
    return top, commands


def __getattr__(name: str) -> Any:
    """``COMMANDS``: every verb's handler, built on first use (PEP 562)."""
    if name == "COMMANDS":
        return parser()[1]
    raise AttributeError(name)


def _parser() -> argparse.ArgumentParser:
    """Every verb's parser (the docs' CLI reference reads it)."""
    return parser()[0]


def _cmd_info(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    # Absolute, not `..ansible`: ansible-test's pylint reads a relative import of a
    # package named ansible as an import of Ansible itself. bin/berth and the host
    # role both make ansible_collections.berth.engine importable. Imported here:
    # the other commands need none of it.
    from ansible_collections.berth.engine.plugins.module_utils.ansible.hostinfo import host_info

    return host_info(engine, measure_disk=args.disk_usage)


def _cmd_fsck(engine: Engine, _args: argparse.Namespace) -> dict[str, Any]:
    blobs = engine.blobs.list()
    corrupt = [d for d in blobs if not engine.blobs.verify(d)]
    return {"blobs": len(blobs), "corrupt": corrupt, "ok": not corrupt}


def _cmd_recover(engine: Engine, _args: argparse.Namespace) -> dict[str, Any]:
    return {"removed": engine.recover(sweep=True)}  # by hand: also collect what nothing references


BUILTIN: Commands = {
    # name: (handler, whether it may create the state root)
    "info": (_cmd_info, False),
    "fsck": (_cmd_fsck, False),
    "recover": (_cmd_recover, True),
}


def main(argv: list[str]) -> int:
    from .fastlane import split

    top, commands = parser(split(argv)[1])
    return run(top, commands, argv)
