"""What every ``berth`` command shares: the global options, running one
handler against an engine (engine errors print as ``berth: <kind>:
<message>`` and exit 1, 125 for run/create; bad usage exits 2), and the
output. Light on purpose: every verb's process imports it (main.LANES)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from ..engine import Engine
from ..errors import BerthError
from ..layout import DEFAULT_RUN_ROOT, DEFAULT_STATE_ROOT

Handler = Callable[[Engine, argparse.Namespace], dict[str, Any]]
Commands = dict[str, tuple[Handler, bool]]   # name: (handler, whether it may create the state root)


def global_parser() -> tuple[argparse.ArgumentParser, Any, argparse.ArgumentParser]:
    """The parser with the global options, its subparsers, and the parent every subcommand takes."""
    parser = argparse.ArgumentParser(prog="berth", description="daemonless container engine")
    parser.add_argument("--state-root", default=str(DEFAULT_STATE_ROOT), help="persistent state directory")
    parser.add_argument("--run-root", default=str(DEFAULT_RUN_ROOT), help="runtime state directory")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    # --json is accepted before or after the command (SUPPRESS keeps the
    # subcommand's absent flag from overwriting the global one).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True)
    return parser, sub, common


def add_group(sub: Any, common: argparse.ArgumentParser, name: str, text: str) -> Any:
    """A verb group as Docker's (``berth image ls``, ``berth network create``): its subparsers, whose
    handlers are keyed ``"<group> <verb>"`` in the commands table."""
    group = sub.add_parser(name, parents=[common], help=text)
    return group.add_subparsers(dest="subcommand", required=True, metavar="COMMAND")


# Docker's `run`/`create` exit 125 when the engine itself fails (126/127 are the
# command's: not executable, not found); its other verbs exit 1.
ENGINE_ERROR_EXIT = {"run": 125, "create": 125, "container run": 125, "container create": 125}


def command_key(args: argparse.Namespace) -> str:
    subcommand = getattr(args, "subcommand", None)
    return f"{args.command} {subcommand}" if subcommand else args.command


def run(parser: argparse.ArgumentParser, commands: Commands, argv: list[str]) -> int:
    args = parser.parse_args(argv)
    key = command_key(args)
    handler, creates = commands[key]
    try:
        engine = Engine.open(args.state_root, args.run_root, create=creates)
        result = handler(engine, args)
    except BerthError as err:
        sys.stderr.write(f"berth: {err.kind}: {err}\n")
        return ENGINE_ERROR_EXIT.get(key, 1)
    except Exception as exc:   # a raw OSError (kernel, disk) or a bug: one line, Docker's 125
        from ..failures import cli_failure_line

        sys.stderr.write(cli_failure_line(exc, f"berth {key}"))
        return 125
    if "_rc" in result:  # commands that print for themselves (logs, run) and exit with a code
        return int(result["_rc"])
    sys.stdout.write(render(result, args.json))
    return 0 if result.get("ok", True) else 1


def _human(result: dict[str, Any], indent: str = "") -> list[str]:
    lines = []
    for key, value in result.items():
        if isinstance(value, dict):
            lines.append(f"{indent}{key}:")
            lines += _human(value, indent + "  ")
        else:
            lines.append(f"{indent}{key}: {value}")
    return lines


def render(result: dict[str, Any], as_json: bool) -> str:
    """A command's output (also built by the monitor for the fast lane)."""
    if as_json:
        return json.dumps(result, indent=2, sort_keys=True) + "\n"
    return "".join(f"{line}\n" for line in _human(result))
