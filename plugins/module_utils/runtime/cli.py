"""`berth-runtime`: runc's command line over berth's runtime.

Global flags and per-command flags follow runc, so conmon, containerd-shim
and podman can drive it; flags that only make sense for runc internals are
accepted and ignored (listed in IGNORED_* below).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

from .. import lifecycle as lc
from ..errors import BerthError, InvalidInput
from . import container, state

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up cost)
if TYPE_CHECKING:
    import argparse

DEFAULT_ROOT = "/run/berth-runtime"
_REMAINDER = "..."  # argparse's value, without importing it on the fast path
VERSION = "0.1.0"


def _suppressed() -> str:
    """argparse.SUPPRESS itself: help hides a flag only for that very object (an equal string shows)."""
    import argparse

    return argparse.SUPPRESS


def main(argv: list[str]) -> int:
    args = _parse(argv)
    log = _Log(args.log, args.log_format)
    if args.version:
        _print(f"berth-runtime version {VERSION}\nspec: {state.OCI_VERSION}")
        return 0
    if not args.command:
        _parser().print_help()
        return 2
    try:
        return int(args.handler(args, log) or 0)
    except BerthError as err:
        log.error(str(err))
        return getattr(err, "exit_code", 1)
    except OSError as err:
        log.error(f"{err.strerror or err}" + (f": {err.filename}" if err.filename else ""))
        return 1


def _parse(argv: list[str]) -> argparse.Namespace:
    """The per-container commands take the argparse-free path (fastargs)."""
    from . import fastargs

    fast = fastargs.parse(argv, DEFAULT_ROOT)
    if fast is not None:
        import types

        handlers = {"create": _create, "run": _run, "start": _start, "state": _state, "kill": _kill,
                    "delete": _delete}
        return types.SimpleNamespace(**fast, handler=handlers[fast["command"]])  # type: ignore[return-value]
    return _parser(_command_in(argv) if _command_in(argv) in _COMMANDS else None).parse_args(argv)


def _print(text: str = "", stream: object = None) -> None:
    """Output for a person or a caller like conmon (not Ansible: no module here)."""
    (stream or sys.stdout).write(f"{text}\n")  # type: ignore[attr-defined]


class _Log:
    """--log/--log-format: conmon reads the last error line from this file."""

    def __init__(self, path: str | None, fmt: str) -> None:
        self.path = path
        self.fmt = fmt

    def __call__(self, level: str, message: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if self.fmt == "json":
            line = json.dumps({"level": level, "msg": message, "time": stamp})
        else:
            line = f'time="{stamp}" level={level} msg={json.dumps(message)}'
        if self.path:
            with open(self.path, "a") as handle:
                handle.write(line + "\n")
        if level == "error" or not self.path:
            _print(f"berth-runtime: {message}" if level == "error" else line, stream=sys.stderr)

    def error(self, message: str) -> None:
        self("error", message)


_GLOBAL_WITH_VALUE = ("--root", "--log", "--log-format", "--criu", "--rootless")


def _command_in(argv: list[str]) -> str | None:
    """The subcommand named in argv, found without argparse (see _parser)."""
    skip = False
    for token in argv:
        if skip:
            skip = False
        elif token in _GLOBAL_WITH_VALUE:
            skip = True
        elif not token.startswith("-"):
            return token
    return None


def _parser(only: str | None = None) -> argparse.ArgumentParser:
    """runc's command line. With ``only``, just that subcommand is built:
    building all fourteen costs a few ms on every container start."""
    import argparse
    parser = argparse.ArgumentParser(prog="berth-runtime", description="berth's OCI runtime (runc-compatible)")
    parser.add_argument("--root", default=DEFAULT_ROOT, help="state directory (default %(default)s)")
    parser.add_argument("--log", help="append log lines here")
    parser.add_argument("--log-format", default="text", choices=("text", "json"))
    parser.add_argument("-v", "--version", action="store_true")
    for flag in ("--debug", "--systemd-cgroup", "--no-new-keyring"):
        parser.add_argument(flag, action="store_true", help=_suppressed())
    for flag in ("--criu", "--rootless"):
        parser.add_argument(flag, help=_suppressed())
    commands = parser.add_subparsers(dest="command")
    for name, (text, build) in _COMMANDS.items():
        if only in (None, name):
            build(commands.add_parser(name, help=text))
    return parser


def _build_create(parser: argparse.ArgumentParser) -> None:
    _create_flags(parser, _create)


def _build_run(parser: argparse.ArgumentParser) -> None:
    _create_flags(parser, _run)
    parser.add_argument("-d", "--detach", action="store_true")
    parser.add_argument("--keep", action="store_true", help="do not delete the container after it exits")
    parser.add_argument("--no-subreaper", action="store_true", help=_suppressed())


def _with_id(handler: object) -> object:
    def build(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("id")
        parser.set_defaults(handler=handler)
    return build


def _build_kill(parser: argparse.ArgumentParser) -> None:
    _with_id(_kill)(parser)  # type: ignore[operator]
    parser.add_argument("signal", nargs="?", default="TERM")
    parser.add_argument("-a", "--all", action="store_true")


def _build_delete(parser: argparse.ArgumentParser) -> None:
    _with_id(_delete)(parser)  # type: ignore[operator]
    parser.add_argument("-f", "--force", action="store_true")


def _build_ps(parser: argparse.ArgumentParser) -> None:
    _with_id(_ps)(parser)  # type: ignore[operator]
    parser.add_argument("-f", "--format", default="table", choices=("table", "json"))
    parser.add_argument("ps_args", nargs=_REMAINDER)


def _build_list(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-f", "--format", default="table", choices=("table", "json"))
    parser.add_argument("-q", "--quiet", action="store_true")
    parser.set_defaults(handler=_list)


def _build_spec(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-b", "--bundle", default=".")
    parser.add_argument("--rootless", action="store_true", help=_suppressed())
    parser.set_defaults(handler=_spec)


def _build_update(parser: argparse.ArgumentParser) -> None:
    _with_id(_update)(parser)  # type: ignore[operator]
    parser.add_argument("-r", "--resources", required=True, help="a JSON file of linux.resources, - for stdin")


def _create_flags(parser: argparse.ArgumentParser, handler: object) -> None:
    parser.add_argument("id")
    parser.add_argument("-b", "--bundle", default=".")
    parser.add_argument("--console-socket")
    parser.add_argument("--pid-file")
    parser.add_argument("--preserve-fds", type=int, default=0)
    for flag in ("--no-pivot", "--no-new-keyring"):
        parser.add_argument(flag, action="store_true", help=_suppressed())
    parser.set_defaults(handler=handler)


def _build_exec(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-p", "--process", help="a process.json (runtime-spec process object)")
    parser.add_argument("-d", "--detach", action="store_true")
    parser.add_argument("-t", "--tty", action="store_true")
    parser.add_argument("--console-socket")
    parser.add_argument("--pid-file")
    parser.add_argument("--cwd")
    parser.add_argument("-e", "--env", action="append", default=[])
    parser.add_argument("-u", "--user")
    parser.add_argument("-g", "--additional-gids", action="append", type=int, default=[])
    parser.add_argument("-c", "--cap", action="append", default=[])
    parser.add_argument("--no-new-privs", action="store_true")
    parser.add_argument("--preserve-fds", type=int, default=0)
    for flag in ("--process-label", "--apparmor", "--cgroup"):
        parser.add_argument(flag, help=_suppressed())
    parser.add_argument("id")
    # not "command": that dest names the subcommand
    parser.add_argument("exec_args", nargs=_REMAINDER, metavar="command")
    parser.set_defaults(handler=_exec)


def _options(args: argparse.Namespace, log: _Log) -> container.Options:
    pid_file = args.pid_file and os.path.abspath(args.pid_file)
    return container.Options(console_socket=args.console_socket, pid_file=pid_file, log=log,
                             preserve_fds=args.preserve_fds)


def _create(args: argparse.Namespace, log: _Log) -> int:
    container.create(args.root, args.id, args.bundle, _options(args, log))
    return 0


def _start(args: argparse.Namespace, _log: _Log) -> int:
    container.start(args.root, args.id)
    return 0


def _run(args: argparse.Namespace, log: _Log) -> int:
    from .execute import become_subreaper, wait_foreground

    if not args.detach and not args.no_subreaper:
        become_subreaper()
    record = container.create(args.root, args.id, args.bundle, _options(args, log))
    try:
        container.start(args.root, args.id)
    except BerthError:
        container.delete(args.root, args.id, force=True)
        raise
    if args.detach:
        return 0
    code = wait_foreground(record["pid"])
    if not args.keep:
        container.delete(args.root, args.id, force=True)
    return code


def _state(args: argparse.Namespace, _log: _Log) -> int:
    record = state.load(args.root, args.id)
    _print(json.dumps(state.oci_state(record, container.current_status(record)), indent=2))
    return 0


def _kill(args: argparse.Namespace, _log: _Log) -> int:
    container.kill(args.root, args.id, parse_signal(args.signal), args.all)
    return 0


def parse_signal(text: str) -> int:
    if text.isascii() and text.isdigit():  # not "²", which isdigit() takes and int() refuses
        if not 0 < int(text[-4:]) <= signal.SIGRTMAX or len(text.lstrip("0")) > 4:
            raise InvalidInput(f"signal {text[:20]} is out of range", field="signal",
                               hint=f"give 1..{int(signal.SIGRTMAX)} or a name like TERM")
        return int(text)
    name = text.upper() if text.upper().startswith("SIG") else f"SIG{text.upper()}"
    try:
        return int(signal.Signals[name])
    except KeyError:
        raise InvalidInput(f"unknown signal {text!r}", field="signal",
                           hint="use a name like TERM or KILL, or a number") from None


def _delete(args: argparse.Namespace, _log: _Log) -> int:
    container.delete(args.root, args.id, args.force)  # --force also cleans an aborted create
    return 0


def _ps(args: argparse.Namespace, _log: _Log) -> int:
    from .cgroup import ContainerCgroup

    record = state.load(args.root, args.id)
    pids = ContainerCgroup(record["cgroup"]).processes()
    if args.format == "json":
        _print(json.dumps(pids))
        return 0
    import subprocess

    output = subprocess.run(["ps", *(args.ps_args or ["-ef"])], capture_output=True, text=True, check=True).stdout
    lines = output.splitlines()
    column = lines[0].split().index("PID") if lines else 0
    _print(lines[0])
    for line in lines[1:]:
        fields = line.split()
        if len(fields) > column and fields[column].isdigit() and int(fields[column]) in pids:
            _print(line)
    return 0


def _list(args: argparse.Namespace, _log: _Log) -> int:
    rows = []
    for container_id in state.list_ids(args.root):
        record = state.load(args.root, container_id)
        rows.append(state.oci_state(record, container.current_status(record)))
    if args.quiet:
        _print("\n".join(r["id"] for r in rows))
    elif args.format == "json":
        _print(json.dumps(rows))
    else:
        _print(f"{'ID':<20}{'PID':<10}{'STATUS':<10}{'BUNDLE':<40}CREATED")
        for row in rows:
            _print(f"{row['id']:<20}{row['pid']:<10}{row['status']:<10}{row['bundle']:<40}{row['created']}")
    return 0


def _exec(args: argparse.Namespace, log: _Log) -> int:
    from .execute import become_subreaper, exec_in, process_from_args, wait_foreground

    record = state.load(args.root, args.id)
    if args.process:
        with open(args.process) as handle:
            process = json.load(handle)
    elif args.exec_args:
        process = process_from_args(record["bundle"], args.exec_args, args.env, args.cwd, args.user,
                                    args.additional_gids, args.cap, args.tty, args.no_new_privs)
    else:
        raise InvalidInput("nothing to run", field="command", hint="give a command or --process FILE")
    if not args.detach:
        become_subreaper()
    pid = exec_in(args.root, args.id, process, _options(args, log))
    return 0 if args.detach else wait_foreground(pid)


def _spec(args: argparse.Namespace, _log: _Log) -> int:
    from .defaults import default_spec

    path = os.path.join(args.bundle, "config.json")
    if os.path.exists(path):
        raise InvalidInput(f"{path} already exists", field="--bundle", hint="remove it first")
    with open(path, "w") as handle:
        json.dump(default_spec(), handle, indent=2)
    return 0


def _features(_args: argparse.Namespace, _log: _Log) -> int:
    from ..mountopts import known_options
    from .caps import NUMBERS
    from .spec import HOOK_KINDS, NAMESPACE_TYPES

    features = {"ociVersionMin": "1.0.0", "ociVersionMax": state.OCI_VERSION, "hooks": list(HOOK_KINDS),
                "mountOptions": known_options(),
                "linux": {"namespaces": list(NAMESPACE_TYPES), "capabilities": sorted(NUMBERS),
                          "cgroup": {"v1": True, "v2": True, "systemd": False},
                          "seccomp": {"enabled": True}}}
    _print(json.dumps(features, indent=2))
    return 0


def _update(args: argparse.Namespace, log: _Log) -> int:
    from . import resources

    record = state.load(args.root, args.id)
    lc.oci_require(state.status(record, frozen=False), lc.UPDATE, args.id)
    source = sys.stdin if args.resources == "-" else open(args.resources)  # noqa: SIM115
    with source:
        wanted = json.load(source)
    warnings: list[str] = []
    resources.apply(wanted, record["cgroup"], warnings)
    for warning in warnings:
        log("warning", warning)
    return 0


def _pause(args: argparse.Namespace, _log: _Log) -> int:
    container.pause(args.root, args.id, True)
    return 0


def _resume(args: argparse.Namespace, _log: _Log) -> int:
    container.pause(args.root, args.id, False)
    return 0


# name -> (help, parser builder); the order is the order of `--help`
_COMMANDS = {
    "create": ("create a container (init blocked until start)", _build_create),
    "run": ("create and start a container", _build_run),
    "start": ("start a created container", _with_id(_start)),
    "state": ("print the container's state as JSON", _with_id(_state)),
    "pause": ("freeze all processes", _with_id(_pause)),
    "resume": ("thaw all processes", _with_id(_resume)),
    "kill": ("send a signal to the container's init", _build_kill),
    "delete": ("delete a container", _build_delete),
    "ps": ("list the container's processes", _build_ps),
    "list": ("list containers", _build_list),
    "exec": ("run a new process in a running container", _build_exec),
    "spec": ("write a default config.json (Docker's defaults)", _build_spec),
    "features": ("what this runtime supports, as JSON", lambda p: p.set_defaults(handler=_features)),
    "update": ("change a container's resource limits in place", _build_update),
}
