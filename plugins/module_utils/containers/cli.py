"""The container verbs of the ``berth`` CLI: run, create, start, stop, rm, ps,
logs, inspect — and ``monitor``, which the engine starts by itself."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..bundle import BundleRequest
from ..engine import Engine
from ..errors import InvalidInput
from .service import ContainerService


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    for name, text in (("run", "create and start a container"), ("create", "create a container")):
        parser = sub.add_parser(name, parents=[common], help=text)
        parser.add_argument("--name", required=True)
        parser.add_argument("-e", "--env", action="append", default=[], metavar="KEY=VALUE")
        parser.add_argument("-u", "--user")
        parser.add_argument("-w", "--workdir")
        parser.add_argument("--hostname")
        parser.add_argument("--entrypoint")
        parser.add_argument("--read-only", action="store_true")
        parser.add_argument("--restart", default="no", help="no, on-failure[:max], always, unless-stopped")
        parser.add_argument("--rm", action="store_true", help="remove the container when it exits")
        parser.add_argument("--stop-signal", default="SIGTERM")
        parser.add_argument("--stop-timeout", type=int, default=10)
        parser.add_argument("--log-max-size", type=int, default=0, help="bytes per log file (0: no rotation)")
        parser.add_argument("--log-max-file", type=int, default=1)
        parser.add_argument("--health-cmd", help="a shell command; exit 0 = healthy")
        parser.add_argument("--health-interval", default="30s")
        parser.add_argument("--health-timeout", default="30s")
        parser.add_argument("--health-retries", type=int, default=3)
        parser.add_argument("--health-start-period", default="0s")
        parser.add_argument("--no-healthcheck", action="store_true", help="disable the image's HEALTHCHECK")
        parser.add_argument("-v", "--volume", action="append", default=[],
                            help="name:/path[:ro], /host/path:/path[:ro,rshared] or /path (anonymous)")
        parser.add_argument("--mount", action="append", default=[],
                            help="type=volume|bind|tmpfs,source=...,target=...[,readonly][,tmpfs-size=64m]")
        parser.add_argument("--tmpfs", action="append", default=[], help="/path[:size=64m,mode=1777]")
        parser.add_argument("--network", "--net", action="append", default=[],
                            help="bridge (default), host, none, container:NAME, or a network's name (repeatable)")
        parser.add_argument("--network-alias", action="append", default=[], help="alias on the first network")
        parser.add_argument("--ip", help="static IPv4 address on the first network")
        parser.add_argument("-p", "--publish", action="append", default=[],
                            help="[ip:][host_port:]container_port[/udp], e.g. 8080:80")
        parser.add_argument("-P", "--publish-all", action="store_true", help="publish the image's EXPOSE ports")
        if name == "run":
            parser.add_argument("-d", "--detach", action="store_true")
        parser.add_argument("image")
        parser.add_argument("cmd", nargs=argparse.REMAINDER, metavar="command")  # "command" names the verb
    for name, text in (("start", "start containers"), ("stop", "stop containers"), ("rm", "remove containers"),
                       ("inspect", "a container's record")):
        parser = sub.add_parser(name, parents=[common], help=text)
        parser.add_argument("containers", nargs="+")
        if name == "stop":
            parser.add_argument("-t", "--time", type=float)
        if name == "rm":
            parser.add_argument("-f", "--force", action="store_true")
            parser.add_argument("-v", "--volumes", action="store_true", help="remove its anonymous volumes too")
    ps = sub.add_parser("ps", parents=[common], help="list containers")
    ps.add_argument("-a", "--all", action="store_true")
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
    sub.add_parser("monitor", parents=[common], help=argparse.SUPPRESS)


def _request(args: argparse.Namespace) -> BundleRequest:
    env = {}
    for item in args.env:
        key, _sep, value = item.partition("=")
        env[key] = value
    mounts = None
    if args.volume or args.mount:
        from ..volumes import specs

        mounts = specs.parse_all(args.volume, [_mount_option(m) for m in args.mount], args.tmpfs)
    return BundleRequest(image=args.image, command=args.cmd or None,
                         entrypoint=[args.entrypoint] if args.entrypoint else None, env=env, user=args.user,
                         working_dir=args.workdir, hostname=args.hostname, read_only=args.read_only,
                         tmpfs=args.tmpfs, mounts=mounts or [])


_MOUNT_KEYS = {"src": "source", "source": "source", "dst": "target", "destination": "target", "target": "target",
               "type": "type", "readonly": "read_only", "ro": "read_only", "bind-propagation": "propagation",
               "volume-nocopy": "no_copy", "tmpfs-size": "tmpfs_size", "tmpfs-mode": "tmpfs_mode"}


def _mount_option(text: str) -> dict[str, Any]:
    """Docker's --mount: comma-separated key=value (readonly and volume-nocopy may stand alone)."""
    entry: dict[str, Any] = {}
    for part in (p for p in text.split(",") if p):
        key, sep, value = part.partition("=")
        if key not in _MOUNT_KEYS:
            raise InvalidInput(f"--mount {text!r}: unknown key {key!r}", field="mounts",
                               hint=f"keys: {', '.join(sorted(_MOUNT_KEYS))}")
        name = _MOUNT_KEYS[key]
        entry[name] = (value.lower() in ("1", "true", "")) if name in ("read_only", "no_copy") else value
        if name in ("read_only", "no_copy") and not sep:
            entry[name] = True
    return entry


def _create(engine: Engine, args: argparse.Namespace, auto_remove: bool | None = None) -> dict[str, Any]:
    record = ContainerService(engine).create(args.name, _request(args), network=_network(args),
                                             restart_policy=args.restart,
                                             auto_remove=args.rm if auto_remove is None else auto_remove,
                                             stop_signal=args.stop_signal,
                                             stop_timeout=args.stop_timeout, log_max_size=args.log_max_size,
                                             log_max_file=args.log_max_file, healthcheck=_healthcheck(args))
    return {"id": record["id"]}


def _network(args: argparse.Namespace) -> dict[str, Any]:
    from .networking import wishes

    modes = [n for n in args.network if n in ("host", "none", "bridge") or n.startswith("container:")]
    if modes and len(args.network) > 1:
        raise InvalidInput(f"--network {modes[0]} cannot be combined with other networks", field="networks",
                           hint="give one --network host|none|container:NAME, or network names only")
    networks = [{"name": n} for n in args.network if n not in modes or n == "bridge"]
    if not args.network and (args.network_alias or args.ip):
        networks = [{"name": "bridge"}]   # Docker's default network: refused below with a hint
    if networks and (args.network_alias or args.ip):
        networks[0].update(aliases=args.network_alias, ipv4_address=args.ip)
    mode = modes[0] if modes and modes[0] != "bridge" else None
    return wishes(mode, networks or None, args.publish, args.publish_all)


def _healthcheck(args: argparse.Namespace) -> dict[str, Any] | None:
    if args.no_healthcheck:
        return {"test": ["NONE"]}
    if not args.health_cmd:
        return None
    return {"test": ["CMD-SHELL", args.health_cmd], "interval": args.health_interval,
            "timeout": args.health_timeout, "retries": args.health_retries, "start_period": args.health_start_period}


def _check_run(args: argparse.Namespace) -> None:
    if args.rm and args.restart != "no":
        raise InvalidInput("auto_remove conflicts with a restart policy", field="auto_remove",
                           hint="use --restart no with --rm, as Docker requires")


def in_monitor(engine: Engine, start: Callable[[str], int], argv: list[str]) -> dict[str, Any]:
    """The fast lane (fastlane.py): `run -d` or `create` done inside the
    running monitor, which has the engine imported; the reply carries the
    CLI's output. Anything else asks the client to take the full path."""
    from ..cli import _parser, render

    fallback = {"ok": True, "fallback": True}
    try:
        args = _parser().parse_args(argv)
    except SystemExit:
        return fallback   # bad usage: the full CLI prints it
    same_roots = (Path(args.state_root) == engine.layout.state_root and Path(args.run_root) == engine.layout.run_root)
    if not same_roots or args.command not in ("run", "create"):
        return fallback
    if args.command == "create":
        return {"ok": True, "text": render(_create(engine, args), args.json)}
    _check_run(args)
    created = _create(engine, args, auto_remove=args.rm and args.detach)
    start(created["id"])
    if args.detach:
        return {"ok": True, "text": render(created, args.json)}
    # attached: the client follows the log, waits, and asks for the removal with --rm
    log = ContainerService(engine).store.log_path(created["id"])
    return {"ok": True, "attached": True, "id": created["id"], "log": str(log), "rm": args.rm}


def _run(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    """Detached: start and print the id. Attached: stream the output until the
    container exits, exit with its code, and remove it with --rm (here, not by
    the monitor, so the output is read first)."""
    _check_run(args)
    service = ContainerService(engine)
    created = _create(engine, args, auto_remove=args.rm and args.detach)
    service.start(created["id"])
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
    if args.rm:
        service.remove(created["id"], force=True, volumes=True)
    code = outcome.get("state", {}).get("exit_code")
    return {"_rc": code if code is not None else 0}


def _write_entry(entry: dict[str, Any], timestamps: bool = False) -> None:
    stream = sys.stdout if entry["stream"] == "stdout" else sys.stderr
    stream.write((entry["time"] + " " if timestamps else "") + entry["log"])
    stream.flush()


def _each(action: Callable[[ContainerService, str, argparse.Namespace], Any]) -> Callable[..., dict[str, Any]]:
    def handler(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
        service = ContainerService(engine)
        return {ref: action(service, ref, args) for ref in args.containers}
    return handler


def _ps(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    rows = ContainerService(engine).list(all_containers=args.all)
    return {r["name"]: f"{r['id'][:12]} {r['image']} {r['state']['status']}"
            + (f" ({r['state']['exit_code']})" if r["state"].get("exit_code") is not None else "") for r in rows}


def _logs(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    service = ContainerService(engine)
    if args.follow:
        service.follow(args.container, lambda entry: _write_entry(entry, args.timestamps))
        return {"_rc": 0}
    for entry in service.logs(args.container, tail=args.tail, since=args.since):
        _write_entry(entry, args.timestamps)
    return {"_rc": 0}


def _exec(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    env = dict(item.partition("=")[::2] for item in args.env)
    if args.tty:
        return {"_rc": ContainerService(engine).execute_tty(args.container, args.cmd, env=env, user=args.user,
                                                            workdir=args.workdir)}
    stdin = sys.stdin.buffer.read() if args.interactive else None
    done = ContainerService(engine).execute(args.container, args.cmd, env=env, user=args.user, workdir=args.workdir,
                                            stdin=stdin)
    sys.stdout.buffer.write(done.stdout)
    sys.stderr.buffer.write(done.stderr)
    return {"_rc": done.returncode}


def _export(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    from pathlib import Path

    return {"entries": ContainerService(engine).export(args.container, Path(args.output).absolute())}


def _restore(engine: Engine, _args: argparse.Namespace) -> dict[str, Any]:
    return {"started": ContainerService(engine).restore()}


def _monitor(engine: Engine, _args: argparse.Namespace) -> dict[str, Any]:
    from .monitor import main

    return {"_rc": main(str(engine.layout.state_root), str(engine.layout.run_root))}


COMMANDS: dict[str, tuple[Callable[[Engine, argparse.Namespace], dict[str, Any]], bool]] = {
    "run": (_run, True),
    "create": (_create, True),
    "start": (_each(lambda s, ref, _a: s.start(ref)["state"]["status"]), True),
    "stop": (_each(lambda s, ref, a: s.stop(ref, timeout=a.time)["state"]["status"]), True),
    "rm": (_each(lambda s, ref, a: s.remove(ref, force=a.force, volumes=a.volumes)), True),
    "inspect": (_each(lambda s, ref, _a: s.refresh(s.store.get(ref))), False),
    "ps": (_ps, False),
    "logs": (_logs, False),
    "exec": (_exec, False),
    "restore": (_restore, True),
    "export": (_export, True),
    "monitor": (_monitor, True),
}
