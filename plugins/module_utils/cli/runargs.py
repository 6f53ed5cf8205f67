"""``berth run`` / ``berth create``: Docker's flags onto the option table.

Each flag names the table row it fills (``options.py``); the parsed command
line becomes the same stated options a ``container`` task gives, and
``options.build_spec`` turns both into a ``ContainerSpec`` — one mapping of
an option onto the engine, not one per surface. Standard library only (the
fast lane parses here before the engine is loaded).
"""

from __future__ import annotations

import argparse
import os

from ..containers.spec import ContainerSpec
from ..errors import InvalidInput

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the fast lane's start-up)
if TYPE_CHECKING:
    from typing import Any

# (flags, option row, how the flag's text becomes the option's value)
#   str: as is · int: a number · append: a list · pairs: KEY=VALUE list -> dict · flag: store_true
FLAGS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("-e", "--env"), "env", "env"),
    (("-u", "--user"), "user", "str"),
    (("-w", "--workdir"), "working_dir", "str"),
    (("--hostname",), "hostname", "str"),
    (("--entrypoint",), "entrypoint", "entrypoint"),
    (("--read-only",), "read_only", "flag"),
    (("--cap-add",), "capabilities", "append"),
    (("--cap-drop",), "cap_drop", "append"),
    (("-l", "--label"), "labels", "pairs"),
    (("--rm",), "auto_remove", "flag"),
    (("--stop-signal",), "stop_signal", "str"),
    (("--stop-timeout",), "stop_timeout", "int"),
    (("--log-opt",), "log_options", "pairs"),
    (("--oom-score-adj",), "oom_score_adj", "int"),
    (("--tmpfs",), "tmpfs", "append"),
    (("--ulimit",), "ulimits", "append"),
    (("--sysctl",), "sysctls", "pairs"),
    (("--device",), "devices", "append"),
    (("--privileged",), "privileged", "flag"),
    (("-v", "--volume"), "volumes", "append"),
    (("--mount",), "mounts", "mount"),
    (("-p", "--publish"), "published_ports", "append"),
    (("-P", "--publish-all"), "publish_all_ports", "flag"),
    (("--cgroup-parent",), "cgroup_parent", "str"),
    (("-m", "--memory"), "memory", "str"),
    (("--memory-reservation",), "memory_reservation", "str"),
    (("--memory-swap",), "memory_swap", "str"),
    (("--memory-swappiness",), "memory_swappiness", "int"),
    (("--cpus",), "cpus", "str"),
    (("-c", "--cpu-shares"), "cpu_shares", "int"),
    (("--cpu-period",), "cpu_period", "int"),
    (("--cpu-quota",), "cpu_quota", "int"),
    (("--cpuset-cpus",), "cpuset_cpus", "str"),
    (("--cpuset-mems",), "cpuset_mems", "str"),
    (("--pids-limit",), "pids_limit", "int"),
    (("--blkio-weight",), "blkio_weight", "int"),
    (("--device-read-bps",), "device_read_bps", "rate"),
    (("--device-write-bps",), "device_write_bps", "rate"),
    (("--device-read-iops",), "device_read_iops", "rate"),
    (("--device-write-iops",), "device_write_iops", "rate"),
)
_APPENDED = ("env", "append", "pairs", "mount", "rate")


class RunRequest:
    """A parsed ``run``/``create``: the container's name and spec, and how to run it."""

    __slots__ = ("detach", "name", "spec")

    def __init__(self, name: str, spec: ContainerSpec, detach: bool = True) -> None:
        self.name, self.spec, self.detach = name, spec, detach


def add_arguments(parser: argparse.ArgumentParser, *, run: bool) -> None:
    parser.add_argument("--name", help="the container's name (default: a generated one, as Docker makes)")
    for flags, option, how in FLAGS:
        dest, metavar = f"opt_{option}", flags[-1].lstrip("-").upper().replace("-", "_")
        if how == "flag":
            parser.add_argument(*flags, dest=dest, action="store_true", default=None, help=f"sets {option}")
        elif how in _APPENDED:
            parser.add_argument(*flags, dest=dest, action="append", metavar=metavar, help=f"{option} (repeatable)")
        else:
            parser.add_argument(*flags, dest=dest, type=int if how == "int" else str, metavar=metavar,
                                help=f"sets {option}")
    parser.add_argument("--env-file", action="append", default=[])
    parser.add_argument("--restart", help="no, on-failure[:max], always, unless-stopped")
    parser.add_argument("--log-max-size", help="bytes per log file, e.g. 10m (0: no rotation)")
    parser.add_argument("--log-max-file", type=int)
    parser.add_argument("--health-cmd", help="a shell command; exit 0 = healthy")
    parser.add_argument("--health-interval")
    parser.add_argument("--health-timeout")
    parser.add_argument("--health-retries", type=int)
    parser.add_argument("--health-start-period")
    parser.add_argument("--no-healthcheck", action="store_true", help="disable the image's HEALTHCHECK")
    parser.add_argument("--network", "--net", action="append", default=[],
                        help="bridge (default), host, none, container:NAME, or a network's name (repeatable)")
    parser.add_argument("--network-alias", action="append", default=[], help="alias on the first network")
    parser.add_argument("--ip", help="static IPv4 address on the first network")
    if run:
        parser.add_argument("-d", "--detach", action="store_true")
    parser.add_argument("image")
    parser.add_argument("cmd", nargs=argparse.REMAINDER, metavar="command")  # "command" names the verb


def request(args: argparse.Namespace) -> RunRequest:
    from ..containers.options import build_spec

    stated = stated_options(args)
    return RunRequest(name=args.name or generated_name(), spec=build_spec(args.image, stated),
                      detach=bool(getattr(args, "detach", True)))


def generated_name() -> str:
    """A name for a container the command line left unnamed (Docker makes one up too)."""
    import secrets

    return f"berth_{secrets.token_hex(6)}"


def stated_options(args: argparse.Namespace, environ: dict[str, str] | None = None) -> dict[str, Any]:
    """The option table's values this command line states (None: not stated)."""
    values: dict[str, Any] = {}
    for _flags, option, how in FLAGS:
        given = getattr(args, f"opt_{option}")
        if given is not None:
            values[option] = _value(how, option, given, os.environ if environ is None else environ)
    if args.cmd:
        values["command"] = list(args.cmd)
    for path in args.env_file:
        from ..containers.envfile import read_env_file

        values["env"] = {**read_env_file(_path(path)), **values.get("env", {})}
    values.update(_restart(args.restart))
    _log_flags(args, values)
    health = _healthcheck(args)
    if health is not None:
        values["healthcheck"] = health
    values.update(_network(args))
    return values


def _value(how: str, option: str, given: Any, environ: dict[str, str]) -> Any:
    if how == "env":
        env = {}
        for item in given:
            key, sep, value = item.partition("=")
            if sep:
                env[key] = value
            elif key in environ:   # Docker: a bare -e NAME passes the caller's value through
                env[key] = environ[key]
        return env
    if how == "pairs":
        return dict(_pair(item, option) for item in given)
    if how == "entrypoint":
        return [given] if given else []   # --entrypoint "" resets the image's entrypoint
    if how == "mount":
        return [mount_option(item) for item in given]
    if how == "rate":
        return [_rate(item, option) for item in given]
    return given


def _pair(item: str, option: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise InvalidInput(f"{item!r} is not KEY=VALUE", field=option, hint="write KEY=VALUE")
    return key.replace("-", "_") if option == "log_options" else key, value


def _rate(item: str, option: str) -> dict[str, str]:
    path, sep, rate = item.rpartition(":")
    if not sep or not path:
        raise InvalidInput(f"{item!r} is not PATH:RATE", field=option, hint="write e.g. /dev/sda:10mb")
    return {"path": path, "rate": rate}


def _path(text: str) -> Any:
    from pathlib import Path

    return Path(text)


def _restart(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    name, _sep, retries = text.partition(":")
    if name not in ("no", "on-failure", "always", "unless-stopped") or (retries and name != "on-failure"):
        raise InvalidInput(f"--restart {text!r}", field="restart_policy",
                           hint="use no, on-failure[:max-retries], always or unless-stopped")
    if retries and not (retries.isascii() and retries.isdigit()):
        raise InvalidInput(f"--restart {text!r}: {retries!r} is not a number", field="restart_retries",
                           hint="write on-failure:3")
    return {"restart_policy": name, **({"restart_retries": int(retries)} if retries else {})}


def _log_flags(args: argparse.Namespace, values: dict[str, Any]) -> None:
    """berth's older --log-max-size/--log-max-file, as --log-opt max-size/max-file."""
    if args.log_max_size is not None or args.log_max_file is not None:
        log = dict(values.get("log_options") or {})
        if args.log_max_size is not None:
            log["max_size"] = args.log_max_size
        if args.log_max_file is not None:
            log["max_file"] = args.log_max_file
        values["log_options"] = log


def _healthcheck(args: argparse.Namespace) -> dict[str, Any] | None:
    if args.no_healthcheck:
        return {"test": ["NONE"]}
    if not args.health_cmd:
        return None
    check: dict[str, Any] = {"test": ["CMD-SHELL", args.health_cmd]}
    for key in ("interval", "timeout", "retries", "start_period"):
        given = getattr(args, f"health_{key}")
        if given is not None:
            check[key] = given
    return check


def _network(args: argparse.Namespace) -> dict[str, Any]:
    modes = [n for n in args.network if n in ("host", "none", "bridge") or n.startswith("container:")]
    if modes and len(args.network) > 1:
        raise InvalidInput(f"--network {modes[0]} cannot be combined with other networks", field="networks",
                           hint="give one --network host|none|container:NAME, or network names only")
    networks: list[dict[str, Any]] = [{"name": n} for n in args.network if n not in modes or n == "bridge"]
    if not args.network and (args.network_alias or args.ip):
        networks = [{"name": "bridge"}]   # Docker's default network: refused by the spec's check with a hint
    if networks and (args.network_alias or args.ip):
        networks[0].update(aliases=args.network_alias, ipv4_address=args.ip)
    values: dict[str, Any] = {}
    if modes and modes[0] != "bridge":
        values["network_mode"] = modes[0]
    if networks:
        values["networks"] = networks
    return values


_MOUNT_KEYS = {"src": "source", "source": "source", "dst": "target", "destination": "target", "target": "target",
               "type": "type", "readonly": "read_only", "ro": "read_only", "bind-propagation": "propagation",
               "volume-nocopy": "no_copy", "tmpfs-size": "tmpfs_size", "tmpfs-mode": "tmpfs_mode"}


def mount_option(text: str) -> dict[str, Any]:
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
