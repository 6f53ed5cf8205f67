"""The container verbs of the ``berth`` CLI: run, create, start, stop, rm,
logs, exec, export — and ``monitor``, which the engine starts by itself.
ps, inspect and Docker's other container verbs are in container_verbs.py."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..engine import Engine
from ..errors import BerthError
from .runargs import add_arguments, request, stated_options

if TYPE_CHECKING:
    from ..containers.service import ContainerService


def _service(engine: Engine) -> ContainerService:
    """Imported on use: ``berth build`` and the other verbs parse these parsers but need no container service."""
    from ..containers.service import ContainerService

    return ContainerService(engine)


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    for name, text in (("run", "create and start a container"), ("create", "create a container")):
        add_arguments(sub.add_parser(name, parents=[common], help=text), run=name == "run")
    for name, text in (("start", "start containers"), ("stop", "stop containers"), ("rm", "remove containers")):
        parser = sub.add_parser(name, parents=[common], help=text)
        parser.add_argument("containers", nargs="+")
        if name == "stop":
            parser.add_argument("-t", "--time", type=float)
        if name == "rm":
            parser.add_argument("-f", "--force", action="store_true")
            parser.add_argument("-v", "--volumes", action="store_true", help="remove its anonymous volumes too")
    logs = sub.add_parser("logs", parents=[common], help="a container's output")
    logs.add_argument("container")
    logs.add_argument("-n", "--tail", type=int)
    logs.add_argument("--since")
    logs.add_argument("-t", "--timestamps", action="store_true")
    logs.add_argument("-f", "--follow", action="store_true", help="until the container stops")
    execute = sub.add_parser("exec", parents=[common], help="run a command in a running container")
    execute.add_argument("-e", "--env", action="append", default=[], metavar="KEY=VALUE")
    execute.add_argument("-u", "--user")
    execute.add_argument("-w", "--workdir")
    execute.add_argument("-i", "--interactive", action="store_true", help="pass stdin to the command")
    execute.add_argument("-t", "--tty", action="store_true", help="on a terminal (with -i: a shell)")
    execute.add_argument("container")
    execute.add_argument("cmd", nargs=argparse.REMAINDER, metavar="command")
    export = sub.add_parser("export", parents=[common], help="a container's filesystem as a tarball")
    export.add_argument("container")
    export.add_argument("-o", "--output", required=True)
    sub.add_parser("restore", parents=[common],
                   help="after a reboot: start containers whose restart policy is always or unless-stopped")
    sub.add_parser("monitor", parents=[common])   # the engine starts it (a help= of SUPPRESS prints "==SUPPRESS==")


def _create(engine: Engine, args: argparse.Namespace, auto_remove: bool | None = None) -> dict[str, Any]:
    wanted = request(args)
    spec = wanted.spec if auto_remove is None else wanted.spec.with_changes(auto_remove=auto_remove)
    record = _service(engine).create(wanted.name, spec, stated=tuple(sorted(stated_options(args))))
    return {"id": record["id"]} if args.name else {"id": record["id"], "name": record["name"]}


def _auto_remove(args: argparse.Namespace) -> bool:
    return bool(args.opt_auto_remove)


def _run(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    """Detached: start and print the id. Attached: stream the output until the
    container exits, exit with its code, and remove it with --rm (here, not by
    the monitor, so the output is read first)."""
    service = _service(engine)
    created = _create(engine, args, auto_remove=_auto_remove(args) and args.detach)
    try:
        service.start(created["id"])
    except BerthError as err:
        return _not_executed(service, created["id"], err, _auto_remove(args))
    if args.detach:
        return created
    import threading

    outcome: dict[str, Any] = {}
    waiter = threading.Thread(target=lambda: outcome.update(service.wait(created["id"], timeout=10**7)),
                              daemon=True)
    waiter.start()

    def finished(seconds: float) -> bool:
        waiter.join(seconds)
        return not waiter.is_alive()

    service.follow(created["id"], _write_entry, finished)
    if _auto_remove(args):
        service.remove(created["id"], force=True, volumes=True)
    code = outcome.get("state", {}).get("exit_code")
    return {"_rc": code if code is not None else 0}


def _not_executed(service: ContainerService, container_id: str, err: BerthError, remove: bool) -> dict[str, Any]:
    """Docker's `run` exit codes when the command could not be executed: 127 not found, 126 not
    executable (the runtime says which); any other failure is the engine's (125, base.run)."""
    code = getattr(err, "exit_code", None)
    if code not in (126, 127):
        raise err
    sys.stderr.write(f"berth: {err.kind}: {err}\n")
    if remove:
        service.remove(container_id, force=True, volumes=True)
    return {"_rc": code}


def _write_entry(entry: dict[str, Any], timestamps: bool = False) -> None:
    stream = sys.stdout if entry["stream"] == "stdout" else sys.stderr
    stream.write((entry["time"] + " " if timestamps else "") + entry["log"])
    stream.flush()


def _each(action: Callable[[ContainerService, str, argparse.Namespace], Any]) -> Callable[..., dict[str, Any]]:
    def handler(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
        service = _service(engine)
        return {ref: action(service, ref, args) for ref in args.containers}
    return handler


def _logs(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    service = _service(engine)
    if args.follow:
        service.follow(args.container, lambda entry: _write_entry(entry, args.timestamps))
        return {"_rc": 0}
    for entry in service.logs(args.container, tail=args.tail, since=args.since):
        _write_entry(entry, args.timestamps)
    return {"_rc": 0}


def _exec(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    env = dict(item.partition("=")[::2] for item in args.env)
    if args.tty:
        return {"_rc": _service(engine).execute_tty(args.container, args.cmd, env=env, user=args.user,
                                                    workdir=args.workdir)}
    stdin = sys.stdin.buffer.read() if args.interactive else None
    done = _service(engine).execute(args.container, args.cmd, env=env, user=args.user, workdir=args.workdir,
                                    stdin=stdin)
    sys.stdout.buffer.write(done.stdout)
    sys.stderr.buffer.write(done.stderr)
    return {"_rc": done.returncode}


def _export(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:

    return {"entries": _service(engine).export(args.container, Path(args.output).absolute())}


def _restore(engine: Engine, _args: argparse.Namespace) -> dict[str, Any]:
    return {"started": _service(engine).restore()}


def _monitor(engine: Engine, _args: argparse.Namespace) -> dict[str, Any]:
    from ..containers.monitor import main

    return {"_rc": main(str(engine.layout.state_root), str(engine.layout.run_root))}


COMMANDS: dict[str, tuple[Callable[[Engine, argparse.Namespace], dict[str, Any]], bool]] = {
    "run": (_run, True),
    "create": (_create, True),
    "start": (_each(lambda s, ref, _a: s.start(ref)["state"]["status"]), True),
    "stop": (_each(lambda s, ref, a: s.stop(ref, timeout=a.time)["state"]["status"]), True),
    "rm": (_each(lambda s, ref, a: s.remove(ref, force=a.force, volumes=a.volumes)), True),
    "logs": (_logs, False),
    "exec": (_exec, False),
    "restore": (_restore, True),
    "export": (_export, True),
    "monitor": (_monitor, True),
}
