"""The `berth` CLI's fast lane: standard library only, imported by bin/berth
before the engine.

A CLI process spends most of a container start importing the engine. The
monitor has it imported already, so:

- ``early_monitor``: a verb that will need the monitor (run, create, start,
  restore) starts it *first*, when none runs, so its imports overlap the
  CLI's own instead of following them (two cores, half the wait);
- ``via_monitor``: `run` and `create` are parsed here into a ``ContainerSpec``
  (runargs.py: the same rows as the full CLI) and handed to a running monitor
  as a ``Create`` request (protocol.py), which creates and starts the
  container in-process. An attached `run` then follows the log here until a
  ``Wait`` answers, and removes the container with ``--rm``. Anything else
  (no monitor, bad usage, an error while parsing, a form of a flag the plain
  reading leaves to argparse) takes the full CLI, which reports it.

Every module this imports counts: the client's CPU is most of a `berth run`
(tests/unit/cli/test_fastlane_imports.py pins the set). The command line is
read without argparse (which, with its gettext, locale, shutil and the
parser's building, costs ~10 ms), the monitor is spoken to without json and
socket (protocol.py, monitor_client.py), the log path stays a str (no
pathlib), and typing, dataclasses and the engine are never imported.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up cost)
if TYPE_CHECKING:
    from typing import Any

    from ..containers.monitor_client import MonitorClient

SPAWNING_VERBS = ("run", "create", "start", "restore")
HANDED_VERBS = ("run", "create")
GLOBAL_VALUES = ("--state-root", "--run-root")
GLOBAL_FLAGS = (*GLOBAL_VALUES, "--json", "-h", "--help")   # the full CLI's top-level parser's
DEFAULT_ROOTS = {"--state-root": "/var/lib/berth", "--run-root": "/run/berth"}   # layout.py's defaults
FOLLOW_POLL = 0.05   # seconds between reads of an attached run's log


def split(argv: list[str]) -> tuple[dict[str, str], str | None]:
    """The global options' values and the verb."""
    found = dict(DEFAULT_ROOTS)
    index = 0
    while index < len(argv):
        arg = argv[index]
        name, sep, value = arg.partition("=")
        if name in GLOBAL_VALUES:
            if not sep:
                index += 1
                value = argv[index] if index < len(argv) else ""
            found[name] = value
        elif not arg.startswith("-"):
            return found, arg
        index += 1
    return found, None


def _client(roots: dict[str, str]) -> MonitorClient:
    from ..containers.monitor_client import MonitorClient

    return MonitorClient(roots["--state-root"], roots["--run-root"])


def early_monitor(argv: list[str], launcher: list[str]) -> None:
    roots, verb = split(argv)
    if verb not in SPAWNING_VERBS or not os.path.isdir(roots["--run-root"]):
        return
    client = _client(roots)
    if not client.connectable():
        client.spawn_early(launcher)


def via_monitor(argv: list[str]) -> int | None:
    """The exit code when a running monitor did the work; None to take the full path."""
    roots, verb = split(argv)
    if verb not in HANDED_VERBS:
        return None
    from ..containers.monitor_client import SPAWNED

    client = _client(roots)
    spawned = client.run_root in SPAWNED
    if not spawned and not client.connectable():
        return None
    parsed = _parse(argv)   # meanwhile a monitor spawned by early_monitor starts
    if parsed is None or (spawned and not client.wait_connectable()):
        return None
    args, wanted, stated = parsed
    attached = verb == "run" and not wanted.detach
    remove_after = attached and wanted.spec.auto_remove   # here, once the output is read, not by the monitor
    spec = wanted.spec.with_changes(auto_remove=False) if remove_after else wanted.spec
    from ..containers.protocol import Create, Error
    from ..errors import BerthError

    request = Create(name=wanted.name, spec=spec.to_dict(), state_root=client.state_root, start=verb == "run",
                     stated=stated)
    try:
        created = client.call(request)
    except (OSError, BerthError):   # gone, or a monitor of another version: the full CLI says what it is
        return None
    if isinstance(created, Error):
        if remove_after and created.exit_code in (126, 127):   # created, its command not executable: --rm
            _remove_unstarted(roots, wanted.name)
        return _failed(created)
    if attached:
        return _attached(client, created, remove_after)
    sys.stdout.write(_render({"id": created.id}, args.json))
    return 0


def _parse(argv: list[str]) -> tuple[Any, Any, list[str]] | None:
    """(arguments, runargs.RunRequest, the stated options' names); None when
    the full CLI should read the command line (and say what is wrong)."""
    from ..errors import BerthError
    from .runargs import request, stated_options

    args = arguments(argv)
    if args is None:
        return None
    try:
        return args, request(args), sorted(stated_options(args))
    except BerthError:
        return None


def arguments(argv: list[str]) -> Any:
    """A `run`/`create` command line as the full CLI's argparse reads it
    (the same namespace), for the plain forms of its flags; None for
    anything else, which the full CLI reads."""
    from types import SimpleNamespace

    from .runargs import ambiguous, parse_plain

    read = _read_globals(argv)
    if read is None or ambiguous(argv, GLOBAL_FLAGS):
        return None
    values, index = read
    verb = argv[index]
    sub = parse_plain(argv[index + 1:], run=verb == "run")
    if sub is None:
        return None
    after = sub.pop("json", False)   # --json before or after the verb
    values["json"] = values["json"] or after
    return SimpleNamespace(**values, command=verb, **sub)


def _read_globals(argv: list[str]) -> tuple[dict[str, Any], int] | None:
    """The global options' values as the full CLI's parser reads their
    plain forms, and the index of the verb (run or create); None otherwise."""
    from .runargs import is_value

    values: dict[str, Any] = {"state_root": DEFAULT_ROOTS["--state-root"], "run_root": DEFAULT_ROOTS["--run-root"],
                              "json": False}
    index = 0
    while index < len(argv) and argv[index].startswith("-"):
        name, sep, value = argv[index].partition("=")
        if argv[index] == "--json":
            values["json"] = True
        elif name not in GLOBAL_VALUES or value == "--":
            return None
        else:
            if not sep:
                index += 1
                if index == len(argv) or not is_value(argv[index]):
                    return None
                value = argv[index]
            values[name[2:].replace("-", "_")] = value
        index += 1
    return (values, index) if index < len(argv) and argv[index] in HANDED_VERBS else None


def _render(result: dict[str, Any], as_json: bool) -> str:
    """As cli.render prints a flat result."""
    if as_json:
        import json  # only then: json costs the fast lane ~8 ms (protocol.py has its own dumps and loads)

        return json.dumps(result, indent=2, sort_keys=True) + "\n"
    return "".join(f"{key}: {value}\n" for key, value in result.items())


def _failed(error: Any) -> int:
    """Docker's codes for run/create (base.ENGINE_ERROR_EXIT): 126/127 when the command could not be
    executed, else 125 for the engine's own failure."""
    sys.stderr.write(f"berth: {error.kind}: {error.exception()}\n")
    code = getattr(error, "exit_code", None)
    return code if code in (126, 127) else 125


def _remove_unstarted(roots: dict[str, str], name: str) -> None:
    """`run --rm` of a command that could not be executed: the container the monitor made goes, as Docker
    removes it (the engine's own imports, on this failure path only)."""
    from ..containers.service import ContainerService
    from ..engine import Engine
    from ..errors import BerthError

    try:
        ContainerService(Engine.open(roots["--state-root"], roots["--run-root"])).remove(name, force=True,
                                                                                         volumes=True)
    except BerthError as err:
        sys.stderr.write(f"berth: {err.kind}: {err}\n")


def _attached(client: MonitorClient, created: Any, remove_after: bool) -> int:
    """An attached `run`: the output as the log receives it, until the
    container exits; its exit code; removed afterwards with --rm."""
    from ..containers.logs import Follower
    from ..containers.protocol import Error, Remove, Wait

    follower = Follower(created.log)
    try:
        outcome = client.call(Wait(id=created.id), timeout=10**7, poll=FOLLOW_POLL,
                              between=lambda: _write(follower.poll()))
    except OSError:
        outcome = _gone(client)
    _write(follower.poll())   # the monitor wrote all output before it answered
    follower.close()
    if isinstance(outcome, Error):
        return _failed(outcome)
    if remove_after:
        try:
            removed = client.call(Remove(id=created.id, volumes=True))
        except OSError:
            removed = _gone(client)
        if isinstance(removed, Error):
            return _failed(removed)
    return int(outcome.exit_code) if outcome.exit_code is not None else 0


def _gone(client: MonitorClient) -> Any:
    from ..containers.protocol import Error

    return Error(kind="invalid_state", message="the container monitor stopped answering",
                 hint=f"see {client.run_root}/monitor.log")


def _write(entries: list[dict]) -> None:
    for entry in entries:
        stream = sys.stdout if entry["stream"] == "stdout" else sys.stderr
        stream.write(entry["log"])
        stream.flush()
