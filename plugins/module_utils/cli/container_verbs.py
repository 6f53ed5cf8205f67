"""The container verbs of the ``berth`` CLI as Docker's: ``ps``/``container ls``,
``inspect``, ``kill``, ``restart``, ``pause``/``unpause``, ``rename``, ``wait``,
``top``, ``stats``, ``port``, ``update`` and ``container prune`` — each at the
top level and in the ``container`` group, which also takes run, create, start,
stop, rm, logs, exec and export (the same parsers and handlers as
cli/containers.py).

Listing reads the record documents through cli/container_listing.py (the
state corrected when a process died unwatched, nothing written, no typed
specs) so ``ps`` pays for no container service; stats, update and prune are
in cli/container_admin.py, imported only by them. ``ps --json`` and ``inspect --json`` keep the
shapes scripts and tests read ({name: summary}, {ref: record}); ``--format``
(json or a template) and plain ``inspect`` use Docker's shapes.
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..engine import Engine
from ..errors import BerthError, InvalidInput, InvalidState, NotFound
from . import container_rows as rows
from . import containers
from .base import Commands, add_group, render
from .container_listing import ACTIVE, Listed, each_container, listed, service_of, upper_size
from .output import Column, add_list_flags, emit_documents, emit_rows, human_size
from .shared import add_filter_flag, label_matches, parse_filters, select

if TYPE_CHECKING:
    from ..containers.record import ContainerRecord
    from ..containers.service import ContainerService

PS_COLUMNS = (Column("CONTAINER ID", "ID"), Column("IMAGE", "Image"), Column("COMMAND", "Command"),
              Column("CREATED", "RunningFor"), Column("STATUS", "Status"), Column("PORTS", "Ports"),
              Column("NAMES", "Names"))
PS_FILTERS = ("name", "label", "status", "ancestor", "id", "network", "exited")
STATUSES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")
ALIASED = ("run", "create", "start", "stop", "rm", "logs", "exec", "export")   # cli/containers.py's


# -- the parsers ---------------------------------------------------------------------------

def _ls_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-a", "--all", action="store_true", help="show all containers (default: running)")
    parser.add_argument("-n", "--last", type=int, default=-1, metavar="N", help="the N last created (any state)")
    parser.add_argument("-l", "--latest", action="store_true", help="the last created (any state)")
    parser.add_argument("-s", "--size", action="store_true", help="show the writable layer's size")
    add_filter_flag(parser, PS_FILTERS)
    add_list_flags(parser)


def _refs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("containers", nargs="+", metavar="CONTAINER")


def _inspect_flags(parser: argparse.ArgumentParser) -> None:
    _refs(parser)
    parser.add_argument("-f", "--format", help="a Go template such as '{{.State.Status}}', or json")
    parser.add_argument("-s", "--size", action="store_true", help="accepted for Docker's sake; sizes are not shown")


def _kill_flags(parser: argparse.ArgumentParser) -> None:
    _refs(parser)
    parser.add_argument("-s", "--signal", default="KILL", help="a signal name (KILL, SIGHUP) or number")


def _restart_flags(parser: argparse.ArgumentParser) -> None:
    _refs(parser)
    parser.add_argument("-t", "--time", type=float, help="seconds to wait for it to stop before killing it")


def _rename_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("container", metavar="CONTAINER")
    parser.add_argument("new_name", metavar="NEW_NAME")


def _top_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("container", metavar="CONTAINER")
    parser.add_argument("ps_options", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)


def _stats_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("containers", nargs="*", metavar="CONTAINER")
    parser.add_argument("-a", "--all", action="store_true", help="all containers (default: running)")
    parser.add_argument("--no-stream", action="store_true", help="print one reading and exit")
    add_list_flags(parser, quiet=False)


def _port_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("container", metavar="CONTAINER")
    parser.add_argument("private_port", nargs="?", metavar="PRIVATE_PORT[/PROTO]")


def _update_flags(parser: argparse.ArgumentParser) -> None:
    _refs(parser)
    parser.add_argument("--cpus", help="number of CPUs (e.g. 1.5)")
    parser.add_argument("-m", "--memory", help="memory limit (e.g. 512m)")
    parser.add_argument("--memory-swap", help="memory + swap limit (-1: unlimited swap)")
    parser.add_argument("-c", "--cpu-shares", type=int, help="relative CPU weight")
    parser.add_argument("--pids-limit", type=int, help="most processes (-1: unlimited)")
    parser.add_argument("--blkio-weight", type=int, help="relative block I/O weight (10-1000)")
    parser.add_argument("--restart", help="no, on-failure[:max], always or unless-stopped")


def _prune_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-f", "--force", action="store_true", help="do not ask for confirmation")
    parser.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE",
                        help="until=<duration or time>, label=<key>[=<value>], label!=<key>[=<value>]")


# verb: (help, flags); each is a top-level verb and a `container` verb
VERBS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "kill": ("kill running containers", _kill_flags),
    "restart": ("restart containers", _restart_flags),
    "pause": ("freeze every process of containers", _refs),
    "unpause": ("thaw paused containers", _refs),
    "rename": ("rename a container", _rename_flags),
    "wait": ("block until containers stop, then print their exit codes", _refs),
    "top": ("the processes of a container", _top_flags),
    "stats": ("live resource use of containers", _stats_flags),
    "port": ("the published ports of a container", _port_flags),
    "update": ("change the limits or restart policy of containers", _update_flags),
}


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """Adds this file's verbs to the CLI's parser (after cli/containers.py's, whose parsers it aliases).
    A `container` verb copies the top-level verb's arguments (argparse's parents): the same flags, and
    cheaper to build than adding each again (every berth command builds the whole parser)."""
    _ls_flags(sub.add_parser("ps", parents=[common], help="list containers"))
    _inspect_flags(sub.add_parser("inspect", parents=[common], help="containers as Docker shows them (JSON)"))
    for name, (text, flags) in VERBS.items():
        flags(sub.add_parser(name, parents=[common], help=text))
    group = add_group(sub, common, "container", "manage containers")
    group.add_parser("ls", aliases=["list", "ps"], parents=[sub.choices["ps"]], add_help=False,
                     help="list containers")
    for name, text in (("inspect", "containers as Docker shows them (JSON)"),
                       *((verb, text) for verb, (text, _flags) in VERBS.items())):
        group.add_parser(name, parents=[sub.choices[name]], add_help=False, help=text)
    _prune_flags(group.add_parser("prune", parents=[common], help="remove all stopped containers"))
    for name in ALIASED:
        group.add_parser(name, parents=[sub.choices[name]], add_help=False, help=f"as `berth {name}`")


# -- ps / container ls ---------------------------------------------------------------------

class _ImageConfigs:
    """Images' configs by id, each read once (a listing of 200 containers of one image reads one)."""

    def __init__(self, engine: Engine) -> None:
        self.engine, self.seen = engine, {}

    def __call__(self, image_id: str | None) -> dict[str, Any]:
        if image_id not in self.seen:
            import json

            try:
                self.seen[image_id] = json.loads(self.engine.blobs.read_bytes(image_id or "")).get("config") or {}
            except (BerthError, OSError, ValueError):
                self.seen[image_id] = {}
        return self.seen[image_id]


def _matchers() -> dict[str, Callable[[Any, str], bool]]:
    def network(pair: Any, value: str) -> bool:
        record = pair[0]
        attached = record.state.networks if pair[1] in ACTIVE else {}
        named = {n.get("name") for n in record.config.get("networks") or []}
        return value in named or value in attached or any(
            str(n.get("network_id", "")).startswith(value) for n in attached.values())

    return {
        "name": lambda pair, value: re.search(value, pair[0].name) is not None,
        "label": lambda pair, value: label_matches(pair[0].config.get("labels"), value),
        "status": lambda pair, value: pair[1] == value,
        "ancestor": lambda pair, value: _ancestor(pair[0], value),
        "id": lambda pair, value: pair[0].id.startswith(value),
        "network": network,
        "exited": lambda pair, value: pair[1] == "exited" and str(pair[0].state.exit_code) == value,
    }


def _ancestor(record: Listed, value: str) -> bool:
    image_id = (record.image_id or "").split(":", 1)[-1]
    bare = value.split(":", 1)[-1] if value.startswith("sha256:") else value
    tagged = value if ":" in value.rsplit("/", 1)[-1] else f"{value}:latest"
    return record.image in (value, tagged) or (len(bare) >= 3 and image_id.startswith(bare))


def _checked_filters(items: list[str]) -> dict[str, list[str]]:
    filters = parse_filters(items, PS_FILTERS)
    for value in filters.get("status", []):
        if value not in STATUSES:
            raise InvalidInput(f"invalid filter 'status={value}'", field="--filter",
                               hint=f"use one of {', '.join(STATUSES)}")
    for value in filters.get("exited", []):
        if not value.lstrip("-").isdigit():
            raise InvalidInput(f"invalid filter 'exited={value}'", field="--filter", hint="give an exit code")
    for value in filters.get("name", []):
        try:
            re.compile(value)
        except re.error as err:
            raise InvalidInput(f"invalid filter 'name={value}': {err}", field="--filter",
                               hint="give a name or a regular expression") from None
    return filters


def _chosen(engine: Engine, args: argparse.Namespace) -> list[tuple[Listed, str]]:
    filters = _checked_filters(args.filter)
    found = listed(engine)
    last = 1 if args.latest else args.last
    if last >= 0:
        found = found[:last]
    elif not (args.all or "status" in filters or "exited" in filters):
        found = [pair for pair in found if pair[1] in ACTIVE]
    return select(found, filters, _matchers())


def _ls(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    chosen = _chosen(engine, args)
    if getattr(args, "json", False) and not args.format and not args.quiet:
        # the shape scripts and the tests read since the first `ps`: {name: "id image status (code)"}
        return {"_rc": 0, "_print": _legacy_ps(chosen)}
    image_config = _ImageConfigs(engine)
    now = time.time()
    shown = []
    for record, state in chosen:
        argv = rows.effective_argv(record.config, image_config(record.image_id))
        row = rows.ps_row(record.document, state, argv, now=now, no_trunc=args.no_trunc)
        if args.size:
            row["Size"] = _size_text(engine, record)
        shown.append(row)
    columns = (*PS_COLUMNS, Column("SIZE", "Size")) if args.size else PS_COLUMNS
    return emit_rows(shown, columns, args)


def _legacy_ps(chosen: Iterable[tuple[Listed, str]]) -> str:
    summary = {r.name: f"{r.id[:12]} {r.image} {r.state.status}"
               + (f" ({r.state.exit_code})" if r.state.exit_code is not None else "") for r, _state in chosen}
    return render(summary, True)


def _size_text(engine: Engine, record: Listed) -> str:
    """Docker's ``Size``: ``12B (virtual 4.86MB)``."""
    from ..image.store import ImageStore

    upper = upper_size(engine, record)
    try:
        image = sum(layer.size for layer in ImageStore(engine).get(record.image_id or "").layers)
    except BerthError:
        image = 0
    return f"{human_size(upper)} (virtual {human_size(upper + image)})"


# -- inspect -----------------------------------------------------------------------------

def _inspect(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    if args.command == "inspect" and getattr(args, "json", False) and not args.format:
        # the raw records by reference, as `berth inspect --json` always printed them (scripts read it)
        service = service_of(engine)
        return {ref: service.refresh(service.store.get(ref)) for ref in args.containers}
    from ..containers.store import ContainerStore

    by_id = {record.id: state for record, state in listed(engine)}
    store, image_config = ContainerStore(engine), _ImageConfigs(engine)
    documents = []
    for ref in args.containers:
        record = store.record(ref)
        config = image_config(record.image_id)
        documents.append(rows.inspect_document(record.to_dict(), by_id.get(record.id, record.lifecycle),
                                               rows.effective_argv(record.config, config), config))
    return emit_documents(documents, args)


# -- kill, restart, pause, unpause, wait: one container after the other, as docker -------

def signal_number(text: str) -> int:
    """``KILL``, ``SIGKILL``, ``kill`` or ``9`` as a signal number (InvalidInput naming --signal)."""
    if text.isascii() and text.isdigit():
        number = int(text)
        if 1 <= number <= int(signal.SIGRTMAX):
            return number
    else:
        name = text.upper()
        try:
            return int(signal.Signals[name if name.startswith("SIG") else f"SIG{name}"])
        except KeyError:
            pass
    raise InvalidInput(f"invalid signal {text!r}", field="--signal", hint="use a name like SIGHUP or a number 1-64")


def _kill(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    number = signal_number(args.signal)

    def kill(service: ContainerService, ref: str) -> str:
        record = service.current(ref)
        if record.lifecycle not in ACTIVE or not record.state.pid:
            raise InvalidState(f"cannot kill container {ref}: it is not running", field="CONTAINER",
                               hint="start it first")
        if number == signal.SIGKILL:   # through the monitor: it records the stop and restarts nothing
            from ..containers.protocol import Stop, Stopped

            service.monitor.ask(Stop(id=record.id, signal=number, timeout=0.0), Stopped, timeout=60)
        else:
            import os

            os.kill(record.state.pid, number)
        return ref

    return each_container(engine, args.containers, kill)


def _restart(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    def restart(service: ContainerService, ref: str) -> str:
        service.stop(ref, timeout=args.time)
        service.start(ref)
        return ref

    return each_container(engine, args.containers, restart)


def _pause(paused: bool) -> Callable[[Engine, argparse.Namespace], dict[str, Any]]:
    def handler(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
        def pause(service: ContainerService, ref: str) -> str:
            service.pause(ref, paused)
            return ref

        return each_container(engine, args.containers, pause)
    return handler


def _wait(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    def wait(service: ContainerService, ref: str) -> str:
        state = service.wait(ref, timeout=10**7).get("state") or {}
        return str(state.get("exit_code") or 0)

    return each_container(engine, args.containers, wait)


def _rename(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    from ..containers.renaming import rename

    rename(service_of(engine), args.container, args.new_name)
    return {"_rc": 0}


# -- top, port ---------------------------------------------------------------------------

def _running(engine: Engine, ref: str, verb: str) -> ContainerRecord:
    record = service_of(engine).current(ref)
    if record.lifecycle not in ACTIVE or not record.state.pid:
        raise InvalidState(f"container {ref} is not running", field="CONTAINER",
                           hint=f"start it first: `berth {verb}` reads a running container")
    return record


def _top(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    from . import container_procs
    from .output import table

    if args.ps_options:
        raise InvalidInput(f"ps options {' '.join(args.ps_options)!r} are not supported", field="ps_options",
                           hint="run `berth top CONTAINER` without options: it shows PID USER TIME CMD")
    record = _running(engine, args.container, "top")
    headers, cells = container_procs.top_table(container_procs.processes(record.state.pid))
    if getattr(args, "json", False):
        return {"_rc": 0, "_print": render({"Titles": headers, "Processes": cells}, True)}
    sys.stdout.write(table(headers, cells))
    return {"_rc": 0}


def _port(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    record = _running(engine, args.container, "port") if args.private_port else service_of(engine).current(
        args.container)
    ports = list(record.state.ports) if record.lifecycle in ACTIVE else []
    lines = rows.port_lines(ports, args.private_port)
    if args.private_port and not lines:
        raise NotFound(f"no public port {args.private_port!r} published for {args.container}",
                       field="PRIVATE_PORT", hint="see `berth port CONTAINER` for what it publishes")
    sys.stdout.write("".join(f"{line}\n" for line in lines))
    return {"_rc": 0}


# -- the rest lives in container_admin.py (stats, update, prune) ---------------------------

def _admin(name: str) -> Callable[[Engine, argparse.Namespace], dict[str, Any]]:
    def handler(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
        from . import container_admin

        return getattr(container_admin, name)(engine, args)
    return handler


def _printing(handler: Callable[[Engine, argparse.Namespace], dict[str, Any]]
              ) -> Callable[[Engine, argparse.Namespace], dict[str, Any]]:
    """Handlers may hand back text to print (``_print``) with their exit code: base.run prints none of it."""
    def run(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
        result = handler(engine, args)
        if "_print" in result:
            sys.stdout.write(result.pop("_print"))
        return result
    return run


_HANDLERS: Commands = {
    "kill": (_kill, True), "restart": (_restart, True), "pause": (_pause(True), True),
    "unpause": (_pause(False), True), "rename": (_rename, True), "wait": (_wait, False),
    "top": (_printing(_top), False), "stats": (_admin("stats"), False), "port": (_port, False),
    "update": (_admin("update"), True),
}

COMMANDS: Commands = {
    "ps": (_printing(_ls), False), "inspect": (_inspect, False),
    "container ls": (_printing(_ls), False), "container list": (_printing(_ls), False),
    "container ps": (_printing(_ls), False), "container inspect": (_inspect, False),
    "container prune": (_admin("prune"), True),
    **_HANDLERS,
    **{f"container {name}": handler for name, handler in _HANDLERS.items()},
    **{f"container {name}": containers.COMMANDS[name] for name in ALIASED},
}
