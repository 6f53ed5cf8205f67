"""The ``berth`` operator CLI (bin/berth is only a launcher for this).

Commands grow with the engine; each is a few lines over an engine call and
prints JSON with ``--json`` so scripts can use it. Engine errors print as
``berth: <kind>: <message>`` and exit 1; bad usage exits 2.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..engine import Engine
from . import compose as compose_cli
from . import container_verbs, containers, image_verbs, images, network_verbs, system_verbs
from . import cp as cp_cli
from . import volumes as volumes_cli
from .base import Commands, global_parser, render, run

__all__ = ["main", "render"]


def _parser() -> argparse.ArgumentParser:
    parser, sub, common = global_parser()
    info = sub.add_parser("info", parents=[common], help="host, kernel and store facts")
    info.add_argument("--disk-usage", action="store_true", help="measure unpacked layers on disk")
    sub.add_parser("fsck", parents=[common], help="re-hash every blob and report corrupt ones")
    sub.add_parser("recover", parents=[common], help="clean up after operations interrupted by a crash")
    containers.add_parsers(sub, common)
    images.add_parsers(sub, common)
    volumes_cli.add_parsers(sub, common)
    for verbs in (image_verbs, container_verbs, network_verbs, system_verbs):
        verbs.add_parsers(sub, common)
    compose_cli.add_parsers(sub, common)
    cp_cli.add_parsers(sub, common)
    return parser


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


COMMANDS: Commands = {
    # name: (handler, whether it may create the state root)
    "info": (_cmd_info, False),
    "fsck": (_cmd_fsck, False),
    "recover": (_cmd_recover, True),
    **containers.COMMANDS,
    **images.COMMANDS,
    **volumes_cli.COMMANDS,
    **image_verbs.COMMANDS,
    **container_verbs.COMMANDS,
    **network_verbs.COMMANDS,
    **system_verbs.COMMANDS,
    **compose_cli.COMMANDS,
    **cp_cli.COMMANDS,
}


def main(argv: list[str]) -> int:
    return run(_parser(), COMMANDS, argv)
