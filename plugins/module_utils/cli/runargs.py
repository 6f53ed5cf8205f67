"""``berth run`` / ``berth create``: Docker's flags onto the option table.

Each flag names the table row it fills (``options.py``); the parsed command
line becomes the same stated options a ``container`` task gives, and
``options.build_spec`` turns both into a ``ContainerSpec`` — one mapping of
an option onto the engine, not one per surface. Standard library only, and
no argparse unless a parser is asked for: the fast lane reads the plain forms
of these flags itself (``parse_plain``), before the engine is loaded.
"""

from __future__ import annotations

import os

from ..containers.spec import ContainerSpec
from ..errors import InvalidInput

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the fast lane's start-up)
if TYPE_CHECKING:
    import argparse
    from typing import Any

    Row = tuple[tuple[str, ...], str, str, "str | None"]   # a flag: (its words, dest, how, help)

# (flags, option row, how the flag's text becomes the option's value)
#   str: as is · int: a number · append: a list · pairs: KEY=VALUE list -> dict · flag: store_true
#   hosts: HOST:IP (or HOST=IP) list -> dict
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
    (("--init",), "init", "flag"),
    (("--add-host",), "etc_hosts", "hosts"),
    (("--dns",), "dns_servers", "append"),
    (("--dns-search",), "dns_search_domains", "append"),
    (("--dns-option", "--dns-opt"), "dns_opts", "append"),
    (("--log-driver",), "log_driver", "str"),
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
_APPENDED = ("env", "append", "pairs", "mount", "rate", "hosts")
# the flags beside the table's rows: (flags, dest, how, help); how as in FLAGS,
# and list: append onto [] · switch: store_true, default False
NAME_FLAG: Row = (("--name",), "name", "str", "the container's name (default: a generated one, as Docker makes)")
OTHER_FLAGS: tuple[Row, ...] = (
    (("--env-file",), "env_file", "list", None),
    (("--restart",), "restart", "str", "no, on-failure[:max], always, unless-stopped"),
    (("--log-max-size",), "log_max_size", "str", "bytes per log file, e.g. 10m (0: no rotation)"),
    (("--log-max-file",), "log_max_file", "int", None),
    (("--health-cmd",), "health_cmd", "str", "a shell command; exit 0 = healthy"),
    (("--health-interval",), "health_interval", "str", None),
    (("--health-timeout",), "health_timeout", "str", None),
    (("--health-retries",), "health_retries", "int", None),
    (("--health-start-period",), "health_start_period", "str", None),
    (("--no-healthcheck",), "no_healthcheck", "switch", "disable the image's HEALTHCHECK"),
    (("--network", "--net"), "network", "list",
     "bridge (default), host, none, container:NAME, or a network's name (repeatable)"),
    (("--network-alias",), "network_alias", "list", "alias on the first network"),
    (("--ip",), "ip", "str", "static IPv4 address on the first network"),
)
DETACH_FLAG: Row = (("-d", "--detach"), "detach", "switch", None)
JSON_FLAG: Row = (("--json",), "json", "switch", None)   # every verb's parser has it (the CLI's `common` parent)
HELP_FLAGS = ("-h", "--help")   # the full CLI's parsers have them too (argparse's add_help)


class RunRequest:
    """A parsed ``run``/``create``: the container's name and spec, and how to run it."""

    __slots__ = ("detach", "name", "spec")

    def __init__(self, name: str, spec: ContainerSpec, detach: bool = True) -> None:
        self.name, self.spec, self.detach = name, spec, detach


def rows(*, run: bool) -> tuple[Row, ...]:
    """Every flag of `run` (or `create`), in the order the parser declares them."""
    table = tuple((flags, f"opt_{option}", how, f"{option} (repeatable)" if how in _APPENDED else f"sets {option}")
                  for flags, option, how in FLAGS)
    return (NAME_FLAG, *table, *OTHER_FLAGS, *((DETACH_FLAG,) if run else ()))


def add_arguments(parser: argparse.ArgumentParser, *, run: bool) -> None:
    import argparse

    for flags, dest, how, text in rows(run=run):
        if how in ("flag", "switch"):
            parser.add_argument(*flags, dest=dest, action="store_true", default=None if how == "flag" else False,
                                help=text)
        elif how == "list":
            parser.add_argument(*flags, dest=dest, action="append", default=[], help=text)
        else:
            metavar = flags[-1].lstrip("-").upper().replace("-", "_") if dest.startswith("opt_") else None
            parser.add_argument(*flags, dest=dest, action="append" if how in _APPENDED else "store",
                                type=None if how in _APPENDED else int if how == "int" else str, metavar=metavar,
                                help=text)
    parser.add_argument("image")
    parser.add_argument("cmd", nargs=argparse.REMAINDER, metavar="command")  # "command" names the verb


def parse_plain(argv: list[str], *, run: bool) -> dict[str, Any] | None:
    """The words after `run`/`create` as ``add_arguments``' parser reads
    them, for the plain forms (the fast lane: no argparse to import, no
    parser to build): a flag as declared, ``--flag=VALUE``, ``-fVALUE``,
    short switches together (``-dP``); the argparse namespace's values
    (``--json`` only when given). None for anything else — an abbreviation,
    ``--`` before the image, a value that starts with '-' (but a negative
    number), a usage error: the full CLI's argparse reads those."""
    by_flag = {flag: row for row in (*rows(run=run), JSON_FLAG) for flag in row[0]}
    if ambiguous(argv, (*by_flag, *HELP_FLAGS)):
        return None
    values: dict[str, Any] = {dest: [] if how == "list" else False if how == "switch" else None
                              for _flags, dest, how, _text in rows(run=run)}
    index = 0
    while index < len(argv) and argv[index].startswith("-"):
        index = _read_option(argv, index, by_flag, values)
        if index < 0:
            return None
    if index == len(argv):
        return None   # the image is required
    cmd = argv[index + 1:]
    values["image"], values["cmd"] = argv[index], cmd[1:] if cmd[:1] == ["--"] else cmd   # argparse drops that --
    return values


def _read_option(argv: list[str], index: int, by_flag: dict[str, Row], values: dict[str, Any]) -> int:
    """The index after the option at ``index`` (its value read into
    ``values``); -1 for a form parse_plain leaves to argparse."""
    arg = argv[index]
    name, attached = arg, None
    if arg not in by_flag:
        name, sep, attached = arg.partition("=")
        if not (sep and name in by_flag):
            if arg[1:2] == "-" or arg[:2] not in by_flag:
                return -1
            name, attached = arg[:2], arg[2:]   # -fVALUE, or switches together: -dP
    _flags, dest, how, _text = by_flag[name]
    while how in ("flag", "switch"):
        values[dest] = True
        if attached is None:
            return index + 1
        if name.startswith("--") or not attached:
            return -1   # argparse: "ignored explicit argument"
        name, attached = "-" + attached[0], attached[1:] or None
        if name not in by_flag:
            return -1
        _flags, dest, how, _text = by_flag[name]
    if attached is None:
        index += 1
        if index == len(argv) or not is_value(argv[index]):
            return -1
        attached = argv[index]
    elif attached == "--":
        return -1   # argparse takes that -- out of the option's words
    if how == "int":
        try:
            attached = int(attached)   # as argparse's type=int
        except ValueError:
            return -1
    if how in _APPENDED or how == "list":
        values[dest] = [*(values[dest] or []), attached]
    else:
        values[dest] = attached
    return index + 1


def ambiguous(words: list[str], flags: tuple[str, ...]) -> bool:
    """A word before the first ``--`` abbreviates two or more of these flags
    (``--netw`` of ``--network`` and ``--network-alias``): argparse sorts
    every word, the command's too, before it reads any, and refuses that one."""
    for word in words:
        if word == "--":
            return False
        name = word.partition("=")[0]
        if (word.startswith("--") and word not in flags and name not in flags
                and sum(flag.startswith(name) for flag in flags) > 1):
            return True
    return False


def is_value(text: str) -> bool:
    """A word argparse takes as an option's value: not one that starts with
    '-', save a negative number (argparse's check is a regex; parse_plain
    leaves any but ASCII digits to it)."""
    return not text.startswith("-") or (text[1:].isascii() and text[1:].isdigit())


def request(args: argparse.Namespace) -> RunRequest:
    from ..containers.options import build_spec

    stated = stated_options(args)
    return RunRequest(name=args.name or generated_name(), spec=build_spec(args.image, stated),
                      detach=bool(getattr(args, "detach", True)))


def generated_name() -> str:
    """A name for a container the command line left unnamed (Docker makes one up too).
    os.urandom, as secrets.token_hex does, without secrets' hmac and hashlib
    (~3 ms of the fast lane's start-up)."""
    return f"berth_{os.urandom(6).hex()}"


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
    if how == "hosts":
        from ..containers.nameopts import host_entries

        return host_entries(given, option)
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
