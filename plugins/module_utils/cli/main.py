"""The ``berth`` operator CLI (bin/berth is only a launcher for this).

Commands grow with the engine; each is a few lines over an engine call and
prints JSON with ``--json`` so scripts can use it. Engine errors print as
``berth: <kind>: <message>`` and exit 1; bad usage exits 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from ..engine import Engine
from ..errors import BerthError
from ..layout import DEFAULT_RUN_ROOT, DEFAULT_STATE_ROOT
from . import containers, images
from . import volumes as volumes_cli


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="berth", description="daemonless container engine")
    parser.add_argument("--state-root", default=str(DEFAULT_STATE_ROOT), help="persistent state directory")
    parser.add_argument("--run-root", default=str(DEFAULT_RUN_ROOT), help="runtime state directory")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    # --json is accepted before or after the command (SUPPRESS keeps the
    # subcommand's absent flag from overwriting the global one).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", parents=[common], help="host, kernel and store facts")
    info.add_argument("--disk-usage", action="store_true", help="measure unpacked layers on disk")
    sub.add_parser("fsck", parents=[common], help="re-hash every blob and report corrupt ones")
    sub.add_parser("recover", parents=[common], help="clean up after operations interrupted by a crash")
    containers.add_parsers(sub, common)
    images.add_parsers(sub, common)
    volumes_cli.add_parsers(sub, common)
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


COMMANDS: dict[str, tuple[Callable[[Engine, argparse.Namespace], dict[str, Any]], bool]] = {
    # name: (handler, whether it may create the state root)
    "info": (_cmd_info, False),
    "fsck": (_cmd_fsck, False),
    "recover": (_cmd_recover, True),
    **containers.COMMANDS,
    **images.COMMANDS,
    **volumes_cli.COMMANDS,
}


def _human(result: dict[str, Any], indent: str = "") -> list[str]:
    lines = []
    for key, value in result.items():
        if isinstance(value, dict):
            lines.append(f"{indent}{key}:")
            lines += _human(value, indent + "  ")
        else:
            lines.append(f"{indent}{key}: {value}")
    return lines


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    handler, creates = COMMANDS[args.command]
    try:
        engine = Engine.open(args.state_root, args.run_root, create=creates)
        result = handler(engine, args)
    except BerthError as err:
        sys.stderr.write(f"berth: {err.kind}: {err}\n")
        return 1
    if "_rc" in result:  # commands that print for themselves (logs, run) and exit with a code
        return int(result["_rc"])
    sys.stdout.write(render(result, args.json))
    return 0 if result.get("ok", True) else 1


def render(result: dict[str, Any], as_json: bool) -> str:
    """A command's output (also built by the monitor for the fast lane)."""
    if as_json:
        return json.dumps(result, indent=2, sort_keys=True) + "\n"
    return "".join(f"{line}\n" for line in _human(result))
